#!/usr/bin/env python3
"""Collector throughput: `saediff collect` against the loopback server with a fixed latency per answer,
as concurrency grows; and the client's overhead per request.

  bench/bench_collect.py [--saediff build/saediff] [--latency 0.05] [--concurrency 1,4,16,64] [--reps 3] [--json]

Each row runs a fresh collect of n = max(200, 20 x concurrency) pairs (prompts x one model) against
tests/reference/mock_openrouter.py, answering after --latency seconds. req/s is n over the wall time of
the whole `saediff collect` process (start-up, prompt parsing, the JSONL/CSV writes included); `ideal` is
concurrency / latency. The process start-up (MPI and library initialisation; measured as the wall time
of a one-pair collect at latency 0) is printed apart and taken out of the overhead: the time per request
slot beyond the server's latency, (wall - start-up) x concurrency / n - latency. A last row at latency 0
and concurrency 1 gives the bare cost of one request (client, fsync of its record and the Python server
together). `#wrong` counts pairs without exactly one successful record. Mean ± sd over --reps runs."""
import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
from mock_openrouter import launch  # noqa: E402


def run_once(saediff, base, tmp, n, concurrency):
    prompts = os.path.join(tmp, "prompts.csv")
    with open(prompts, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "category", "prompt"])
        for i in range(n):
            w.writerow([f"p{i}", "bench", f"question number {i} about something"])
    out = os.path.join(tmp, "out")
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    r = subprocess.run([saediff, "collect", "--prompts", prompts, "--model", "m=bench/model", "--out", out,
                        "--base-url", base, "--no-key", "--concurrency", str(concurrency),
                        "--progress-interval", "3600"],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"collect failed: {r.stderr[-500:]}")
    with open(os.path.join(out, "responses.jsonl")) as f:
        ok = [json.loads(l)["prompt_id"] for l in f if json.loads(l)["response"] is not None]
    wrong = n - len(set(ok)) + (len(ok) - len(set(ok)))
    return wall, wrong


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--saediff", default=os.path.join(ROOT, "build", "saediff"))
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", default="1,4,16,64")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        plan = [(args.latency, int(c)) for c in args.concurrency.split(",")] + [(0.0, 1)]
        servers = {0.0: launch(tmp, 0.0, 3600)[:2]}
        startup = statistics.mean(run_once(args.saediff, servers[0.0][1], tmp, 1, 1)[0] for _ in range(args.reps))
        for latency, c in plan:
            if latency not in servers:
                servers[latency] = launch(tmp, latency, 3600)[:2]
            n = max(200, 20 * c)
            walls, wrong = [], 0
            for _ in range(args.reps):
                wall, w = run_once(args.saediff, servers[latency][1], tmp, n, c)
                walls.append(wall)
                wrong += w
            rates = [n / w for w in walls]
            overheads = [((w - startup) * c / n - latency) * 1e3 for w in walls]
            rows.append({"latency_s": latency, "concurrency": c, "requests": n,
                         "req_per_s": statistics.mean(rates), "req_per_s_sd": statistics.stdev(rates) if len(rates) > 1 else 0.0,
                         "ideal_req_per_s": c / latency if latency > 0 else None,
                         "overhead_ms": statistics.mean(overheads),
                         "overhead_ms_sd": statistics.stdev(overheads) if len(overheads) > 1 else 0.0, "wrong": wrong})
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=10)
    result = {"bench": "collect", "commit": commit, "latency_s": args.latency, "reps": args.reps,
              "startup_s": startup, "rows": rows}
    if args.json:
        print(json.dumps(result))
        return
    print(f"# bench_collect: saediff ({commit}), loopback mock server, latency {args.latency * 1e3:.0f} ms, "
          f"{args.reps} reps; wall time of the whole collect process; start-up {startup:.2f} s (not in the overhead)")
    print("| latency ms | concurrency | requests | req/s | ideal req/s | overhead ms/request | #wrong |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ideal = f"{r['ideal_req_per_s']:.0f}" if r["ideal_req_per_s"] else "-"
        print(f"| {r['latency_s'] * 1e3:.0f} | {r['concurrency']} | {r['requests']} | {r['req_per_s']:.1f} ± "
              f"{r['req_per_s_sd']:.1f} | {ideal} | {r['overhead_ms']:.2f} ± {r['overhead_ms_sd']:.2f} | {r['wrong']} |")


if __name__ == "__main__":
    main()
