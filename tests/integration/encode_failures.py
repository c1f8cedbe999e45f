#!/usr/bin/env python3
"""One rank's error stops every rank within seconds, names the rank and the cause, and corrupts nothing.

The demo model with max_position_embeddings lowered to 160 reads a corpus in which six responses are longer than
that, each a chunk of its own (--chunk-tokens 128). 1: the test hook SAEDIFF_TEST_FAIL_DOC makes the rank that reads
one of them fail: mpirun exits non-zero well within the time a full encode takes, the log names the document and the
rank, no encoded.h5 (nor .tmp) exists. 2: the same command again resumes from the spool (no record damaged) and cuts
the long documents at 160 tokens: cut_doc_id / cut_doc_tokens list them with their whole length (as `saediff
tokenize` counts it), n_tokens is 160, and diff's report lists them. 3: --max-doc-tokens past the model's limit is
refused before any work.
Usage: encode_failures.py DEMO_RUN_DIR WORK_DIR"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

SAEDIFF = os.environ["SAEDIFF"]
SRC = os.environ["SAEDIFF_SOURCE_DIR"]
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
failures = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def main(demo_dir, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    model = f"{work}/model"
    shutil.copytree(f"{demo_dir}/demo-model", model)
    cfg = json.load(open(f"{model}/config.json"))
    cfg["max_position_embeddings"] = 160
    json.dump(cfg, open(f"{model}/config.json", "w"))
    lines = [json.loads(l) for l in open(f"{SRC}/configs/demo/responses.jsonl", encoding="utf-8") if l.strip()]
    ok = [r for r in lines if r.get("response") is not None]
    short = [r for r in ok if len(r["response"].encode()) < 300]  # bytes: a CJK character is about a token
    long_text = " ".join(["The quick brown fox jumps over the lazy dog."] * 40)
    with open(f"{work}/responses.jsonl", "w", encoding="utf-8") as f:
        for k in range(4):
            for r in short:
                f.write(json.dumps(dict(r, prompt_id=f"{r['prompt_id']}-{k}"), ensure_ascii=False) + "\n")
        for k in range(6):
            f.write(json.dumps(dict(short[0], prompt_id=f"long-{k}", response=long_text), ensure_ascii=False) + "\n")
        for r in short[:8]:  # a second set, for the diff below
            f.write(json.dumps(dict(r, set="other", prompt_id=f"other-{r['prompt_id']}"), ensure_ascii=False) + "\n")
    out = f"{work}/run/encoded.h5"
    base = [SAEDIFF, "encode", "--responses", f"{work}/responses.jsonl", "--model", model, "--sae",
            f"{demo_dir}/demo-model/sae.safetensors", "--layer", "2", "--threads", "1", "--chunk-tokens", "128"]
    cmd = MPIRUN + ["-np", "3"] + base + ["--out", out]
    set_name = short[0]["set"]

    # 1. A fault on one rank mid-run (the test hook SAEDIFF_TEST_FAIL_DOC): every rank stops, fast.
    env = dict(os.environ, SAEDIFF_TEST_FAIL_DOC=f"{set_name}/long-3")
    start = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    took = time.time() - start
    log = p.stdout + p.stderr
    print(log[-1500:])
    check(p.returncode != 0, f"the encode fails (rc {p.returncode})")
    check(took < 60, f"every rank stops within seconds ({took:.1f} s)")
    check(f"document '{set_name}/long-3': the fault SAEDIFF_TEST_FAIL_DOC asked for" in log, "the error names the document")
    check(re.search(r"rank \d+ on ", log) is not None, "the error names the rank")
    check(not os.path.exists(out) and not os.path.exists(out + ".tmp"), "no encoded.h5 is left")
    spooled = glob.glob(f"{out}.parts/*.spool")
    print(f"spool files left by the failed run: {len(spooled)}")

    # 2. The same corpus without the fault: the six documents longer than max_position_embeddings (160) are read
    # up to it, and listed as cut with their whole length; the run resumes from what the failed run spooled.
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, f"the rerun succeeds, cutting the long documents (rc {p.returncode}: {p.stderr[-500:]})")
    check("torn" not in p.stderr and "damaged" not in p.stderr, "no spool record was damaged by the failure")
    check("6 document(s) are longer than 160 tokens" in p.stderr, "the log counts the cut documents")
    tok_in = f"{work}/long.jsonl"
    with open(tok_in, "w", encoding="utf-8") as f:
        f.write(json.dumps({"text": long_text}) + "\n")
    subprocess.run([SAEDIFF, "tokenize", "--tokenizer", f"{model}/tokenizer.json", "--input", tok_in, "--output",
                    f"{work}/long.ids.jsonl", "--chat-template", "llama3"], check=True, capture_output=True)
    whole = len(json.loads(open(f"{work}/long.ids.jsonl").readline())["ids"])
    import h5py
    with h5py.File(out, "r") as h:
        g = h[f"sets/{set_name}"]
        cut = [x.decode() for x in g["cut_doc_id"][:]]
        cut_tokens = list(g["cut_doc_tokens"][:])
        ids = [x.decode() for x in g["doc_id"][:]]
        n_tokens = dict(zip(ids, g["n_tokens"][:]))
        check(int(g.attrs["n_cut"]) == 6, f"n_cut is 6 ({g.attrs['n_cut']})")
    check(sorted(cut) == [f"long-{k}" for k in range(6)], f"cut_doc_id lists the long documents: {cut}")
    check(cut_tokens == [whole] * 6 and whole > 160, f"cut_doc_tokens is their whole length ({cut_tokens}, tokenize: {whole})")
    check(all(n_tokens[f"long-{k}"] == 160 for k in range(6)), "each is read up to 160 tokens")
    check(all(n_tokens[i] < 160 for i in ids if not i.startswith("long-")), "the others are read whole")
    other = "other"
    rep = f"{work}/report"
    p = subprocess.run([SAEDIFF, "diff", "--encoded", out, "--baseline", other, "--candidate", set_name, "--out", rep],
                       capture_output=True, text=True)
    md = open(f"{rep}/report.md", encoding="utf-8").read() if p.returncode == 0 else ""
    check(f"long-0 ({whole} tokens)" in md and "Longer than --max-doc-tokens" in md, "the report lists the cut documents")

    # 3. --max-doc-tokens beyond the model's limit is refused before any work.
    p = subprocess.run(base + ["--out", f"{work}/big/encoded.h5", "--max-doc-tokens", "4096"], capture_output=True, text=True)
    check(p.returncode != 0 and "more than the model's max_position_embeddings (160)" in p.stderr
          and not os.path.exists(f"{work}/big"), "--max-doc-tokens past the model's limit is refused, leaving nothing")
    print(f"{len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
