#!/usr/bin/env python3
"""One rank's error stops every rank within seconds, names the rank and the cause, and corrupts nothing.

The demo model with max_position_embeddings lowered to 160 reads a corpus in which a few responses are longer than
that. Each such document is a chunk of its own (--chunk-tokens 128), so several ranks meet one early; the first to do
so fails. Checks: mpirun exits non-zero well within the time a full encode takes; the log has the error naming the
document, the limit and the rank; no encoded.h5 (nor .tmp) exists; the spool's records are all intact (a rerun with
the long responses removed resumes from them and succeeds).
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
    short = [r for r in ok if len(r["response"]) < 300]
    long_text = " ".join(["The quick brown fox jumps over the lazy dog."] * 40)
    with open(f"{work}/responses.jsonl", "w", encoding="utf-8") as f:
        for k in range(4):
            for r in short:
                f.write(json.dumps(dict(r, prompt_id=f"{r['prompt_id']}-{k}"), ensure_ascii=False) + "\n")
        for k in range(6):
            f.write(json.dumps(dict(short[0], prompt_id=f"long-{k}", response=long_text), ensure_ascii=False) + "\n")
    out = f"{work}/run/encoded.h5"
    cmd = MPIRUN + ["-np", "3", SAEDIFF, "encode", "--responses", f"{work}/responses.jsonl", "--model", model, "--sae",
                    f"{demo_dir}/demo-model/sae.safetensors", "--layer", "2", "--out", out, "--threads", "1",
                    "--chunk-tokens", "128"]
    start = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    took = time.time() - start
    log = p.stdout + p.stderr
    print(log[-1500:])
    check(p.returncode != 0, f"the encode fails (rc {p.returncode})")
    check(took < 60, f"every rank stops within seconds ({took:.1f} s)")
    errors = re.findall(r"document '[^']*/long-\d' has (\d+) tokens, more than the model's max_position_embeddings \(160\)", log)
    check(bool(errors) and all(int(n) > 160 for n in errors), f"the error names the document and the limit: {errors}")
    check(re.search(r"rank \d+ on ", log) is not None, "the error names the rank")
    check(not os.path.exists(out) and not os.path.exists(out + ".tmp"), "no encoded.h5 is left")

    # What was spooled before the failure is intact: drop the long responses and run again.
    with open(f"{work}/responses.jsonl", "w", encoding="utf-8") as f:
        for k in range(4):
            for r in short:
                f.write(json.dumps(dict(r, prompt_id=f"{r['prompt_id']}-{k}"), ensure_ascii=False) + "\n")
    spooled = glob.glob(f"{out}.parts/*.spool")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, f"the rerun without the long responses succeeds (rc {p.returncode}: {p.stderr[-500:]})")
    check("torn" not in p.stderr and "damaged" not in p.stderr, "no spool record was damaged by the failure")
    print(f"spool files left by the failed run: {len(spooled)}")
    print(f"{len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
