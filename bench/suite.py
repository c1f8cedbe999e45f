#!/usr/bin/env python3
"""Runs saediff's benchmark suite and writes one Markdown table (and, with --json, every bench's own JSON).

  bench/suite.py [--profile cpu|gpu] [--quick] [--build DIR] [--np N] [--only a,b,...] [--peak-tflops P]
                 [--out FILE.md] [--json FILE.json]

Profiles:
  cpu  the demo/tiny shapes on the CPU build (build/): every bench, a few minutes on 2 cores; --quick shrinks
       every size further (the test `bench_suite` runs it so).
  gpu  the real shapes on the CUDA build (build-cuda/), bfloat16: the reader at Llama-3.1-8B, L=19, over batch
       token budgets; the 65,536-feature SAE; the end-to-end encode with the float32 cross-check; NCCL reduction
       over --np ranks (one per GPU); and bench/hf_side_by_side.py against HF transformers on the same GPU.
Every bench writes --json; a bench that fails, or reports a wrong result (#wrong > 0, an inexact reduction),
is a row saying so and makes the suite exit 1. Benches: tokenize, forward, sae, encode, reduce, hdf5, dispatch,
cluster (cpu only), collect, hf (on the CPU: the tiny shape, against the float64 torch reference where transformers is missing).
The fraction of peak uses --peak-tflops, else the GPU's bf16 dense peak looked up by name (H100 SXM/H200 989,
H100 PCIe 756, A100 312), else it is left out."""
import argparse
import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEAKS = [("H200", 989.0), ("H100 PCIe", 756.0), ("H100", 989.0), ("A100", 312.0)]  # bf16 dense TFLOP/s


def gpu_info():
    """(name, driver) of GPU 0 from nvidia-smi, or None."""
    if not shutil.which("nvidia-smi"):
        return None
    r = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                       capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.strip():
        return None
    name, driver = [x.strip() for x in r.stdout.splitlines()[0].split(",")[:2]]
    return name, driver


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def plan(a, build):
    """(name, command) per bench for the profile."""
    b = lambda name: os.path.join(build, "bench", name)
    mpi = ["mpirun", "--oversubscribe", "-np", str(a.np)]
    q = a.quick
    py = sys.executable
    if a.profile == "cpu":
        return [
            ("tokenize", [b("bench_tokenize"), "--mb", "1" if q else "4", "--reps", "1" if q else "3", "--json"]),
            ("forward", [b("bench_forward"), "--shape", "tiny", "--tokens", "256", "--budgets",
                         "256,2048" if q else "256,2048,8192", "--reps", "1" if q else "3", "--json"]),
            ("sae", [b("bench_sae"), "--d-model", "256" if q else "1024", "--d-sae", "16384", "--tokens", "128",
                     "--docs", "2" if q else "8", "--reps", "1" if q else "3", "--dtype", "bfloat16", "--json"]),
            ("encode", mpi + [b("bench_encode"), "--docs", "4" if q else "16", "--tokens", "256", "--reps",
                              "1" if q else "3", "--dtype", "bfloat16", "--check-fp32", "--json"]),
            ("reduce", mpi + [b("bench_reduce"), "--reps", "5" if q else "20", "--check", "--json"]),
            ("hdf5", mpi + [b("bench_hdf5"), "--docs", "200" if q else "2000", "--reps", "1" if q else "3", "--json"]),
            ("dispatch", mpi + [b("bench_dispatch"), "--chunks-per-rank", "20" if q else "200", "--docs", "8",
                                "--work-us", "500", "--check", "--json"]),
            ("cluster", [b("bench_cluster"), "--features", "1000" if q else "1000,4000,10000", "--reps",
                         "1" if q else "3", "--json"]),
            ("collect", [py, os.path.join(ROOT, "bench", "bench_collect.py"), "--saediff", os.path.join(build, "saediff"),
                         "--concurrency", "4" if q else "1,16,64", "--reps", "1" if q else "3", "--json"]),
            # HF transformers where it is installed, else the float64 torch reference (labelled so).
            ("hf", [py, os.path.join(ROOT, "bench", "hf_side_by_side.py"), "--shape", "tiny", "--tokens", "64",
                    "--docs", "4" if q else "16", "--reps", "1" if q else "3", "--dtype", "float32", "--device", "cpu",
                    "--threads", "1", "--saediff", b("bench_encode"), "--json", "-"]),
        ]
    peak = ["--peak-tflops", str(a.peak_tflops)] if a.peak_tflops else []
    gpu = ["--dtype", "bfloat16", "--device", "cuda"]
    return [
        ("tokenize", [b("bench_tokenize"), "--reps", "3", "--json"]),
        ("forward", [b("bench_forward"), "--shape", "llama3-8b", "--layer", "19", "--tokens", "512", "--budgets",
                     "512,2048,8192,16384", "--reps", "3", "--json"] + gpu + peak),
        ("sae", [b("bench_sae"), "--tokens", "512", "--docs", "32", "--reps", "5", "--json"] + gpu),
        ("encode", [b("bench_encode"), "--shape", "llama3-8b", "--layer", "19", "--tokens", "512", "--docs", "64",
                    "--batch-tokens", "16384", "--reps", "3", "--check-fp32", "--json"] + gpu + peak),
        ("reduce", mpi + [b("bench_reduce"), "--reps", "50", "--check", "--json"]),
        ("hdf5", mpi + [b("bench_hdf5"), "--docs", "5000", "--reps", "3", "--json"]),
        ("dispatch", mpi + [b("bench_dispatch"), "--chunks-per-rank", "200", "--docs", "8", "--work-us", "500",
                            "--check", "--json"]),
        ("hf", [py, os.path.join(ROOT, "bench", "hf_side_by_side.py"), "--shape", "llama3-8b", "--tokens", "512",
                "--docs", "32", "--reps", "3", "--dtype", "bfloat16", "--device", "cuda", "--saediff",
                b("bench_encode"), "--json", "-"]),
    ]


def rows_of(name, r):
    """(setting, result, correctness, wrong) rows of one bench's JSON."""
    f = lambda x, d=1: f"{x:,.{d}f}"
    if name == "tokenize":
        hf = f"; HF tokenizers {f(r['hf_1t_mb_s'], 2)} MB/s, {f(r['ratio_1t'])}x" if "hf_1t_mb_s" in r else ""
        return [(f"{r['documents']} docs, {r['bytes'] / 1e6:.1f} MB", f"{f(r['saediff_1t_mb_s'], 2)} MB/s (1 thread), "
                 f"{f(r['saediff_mt_mb_s'], 2)} MB/s ({r['saediff_threads']} threads){hf}",
                 f"{r.get('wrong_docs', '-')} docs differ from HF", r.get("wrong_docs", 0) or 0)]
    if name == "forward":
        out = []
        for x in r["rows"]:
            peak = f", {100 * x['fraction_of_peak']:.0f}% of peak" if r["peak_tflops"] else ""
            out.append((f"{r['weights']}, L={r['layer']}, {r['dtype']}, {r['device']}, {x['batch_tokens']}-token batches "
                        f"of {r['doc_tokens']}-token docs", f"{f(x['tokens_per_s_mean'])} ± {f(x['tokens_per_s_sd'])} tokens/s, "
                        f"{x['tflops_per_rank']:.2f} TFLOP/s{peak}", f"packed vs alone {x['packed_vs_alone_rel']:.1e}",
                        x["wrong"]))
        return out
    if name == "sae":
        return [(f"[{r['doc_tokens']} x {r['d_model']}] -> {r['d_sae']}, {r['dtype']}, {r['device']}",
                 f"encode {f(r['encode']['tokens_per_s_mean'])} tokens/s; + pool + top-{r['topk']} "
                 f"{f(r['encode_pool']['tokens_per_s_mean'])} tokens/s ({r['encode_pool']['tflops_per_rank']:.2f} TFLOP/s)",
                 f"max err vs float64 {r['max_abs_err_vs_float64']:.2g}; decisions = float32: "
                 f"{100 * r['decisions_agree_with_float32']:.3f}%", r["wrong"])]
    if name == "encode":
        agree = r.get("decisions_agree_with_float32")
        peak = f", {100 * r['fraction_of_peak']:.0f}% of peak" if r["peak_tflops"] else ""
        return [(f"{r['weights']}, L={r['layer']}, {r['dtype']}, {r['device']}, {r['n_rank']} ranks, "
                 f"{r['n_doc_per_rank']} x {r['n_token']} tokens/rank", f"{f(r['tokens_per_s_mean'])} ± "
                 f"{f(r['tokens_per_s_sd'])} tokens/s, {r['tflops_per_rank']:.2f} TFLOP/s per rank{peak}",
                 (f"decisions = float32: {100 * agree:.3f}%; " if agree is not None else "") +
                 f"packed vs alone {r['packed_vs_alone_rel']:.1e}", r["wrong"])]
    if name == "reduce":
        out = [(f"{r['sets']} x {r['d_sae']} int64 over {r['ranks']} ranks, MPI",
                f"{r['mpi']['mean_s'] * 1e3:.3f} ms, {r['mpi']['bus_gb_per_s']:.2f} GB/s bus",
                "exact" if r["mpi"]["exact"] else "NOT exact", 0 if r["mpi"]["exact"] else 1)]
        if isinstance(r.get("nccl_device"), dict):
            n = r["nccl_device"]
            out.append((f"... NCCL, device memory", f"{n['mean_s'] * 1e3:.3f} ms, {n['bus_gb_per_s']:.2f} GB/s bus",
                        "exact" if n["exact"] else "NOT exact", 0 if n["exact"] else 1))
        return out
    if name == "hdf5":
        return [(f"{r['n_rank']} ranks x {r['docs_per_rank']} docs, {r['file_bytes'] / 1e6:.0f} MB",
                 f"write {f(r['write_mb_per_s_mean'])} MB/s; read (rank 0) {f(r['read_mb_per_s'])} MB/s",
                 f"{r['wrong']} docs differ on read-back", r["wrong"])]
    if name == "dispatch":
        return [(f"{r['ranks']} ranks, {r['chunks']} chunks of {r['docs_per_chunk']} x {r['work_us']} µs",
                 f"efficiency {100 * r['efficiency']:.1f}%, {r['overhead_per_chunk_us']:.0f} µs lost per chunk",
                 "every chunk once" if r.get("check") else "-", 0)]
    if name == "cluster":
        return [(f"{x['features']} top features (--top-k {x['top_k']}), {r['docs']} docs", f"{x['seconds_mean']:.3f} ± "
                 f"{x['seconds_sd']:.3f} s, matrix {x['matrix_bytes'] / 1e6:.0f} MB", f"{x['clusters']} clusters", 0)
                for x in r["sizes"]]
    if name == "collect":
        return [(f"latency {x['latency_s'] * 1e3:.0f} ms, {x['concurrency']} in flight", f"{f(x['req_per_s'])} req/s, "
                 f"{x['overhead_ms']:.2f} ms/request overhead", f"{x['wrong']} wrong", x["wrong"]) for x in r["rows"]]
    if name == "hf":
        return [(f"{x['side']}, {x['dtype']}, {x['device']}, {r['docs']} x {r['tokens']} tokens",
                 f"{f(x['mean'])} ± {f(x['sd'])} tokens/s", f"saediff / this: {x['ratio']:.2f}x" if x.get("ratio")
                 else "-", 0) for x in r["rows"]]
    return [("?", json.dumps(r)[:80], "-", 0)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=["cpu", "gpu"], default="cpu")
    ap.add_argument("--quick", action="store_true", help="smallest sizes, one repetition (the test)")
    ap.add_argument("--build", help="build folder (default: build, or build-cuda for --profile gpu)")
    ap.add_argument("--np", type=int, default=2, help="ranks of the MPI benches (gpu: one per GPU)")
    ap.add_argument("--only", help="comma-separated benches to run")
    ap.add_argument("--peak-tflops", type=float, help="peak TFLOP/s of the GPU in bf16 (default: by its name)")
    ap.add_argument("--out", help="Markdown file (default: standard output)")
    ap.add_argument("--json", help="every bench's JSON, in one file")
    a = ap.parse_args()
    for path in (a.out, a.json):
        if path and os.path.dirname(path):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    build = os.path.abspath(a.build or os.path.join(ROOT, "build-cuda" if a.profile == "gpu" else "build"))
    gpu = gpu_info()
    if a.profile == "gpu" and not a.peak_tflops and gpu:
        a.peak_tflops = next((p for key, p in PEAKS if key in gpu[0]), None)
    benches = plan(a, build)
    if a.only:
        keep = a.only.split(",")
        unknown = set(keep) - {n for n, _ in benches}
        if unknown:
            sys.exit(f"suite: unknown bench(es) {', '.join(sorted(unknown))}")
        benches = [(n, c) for n, c in benches if n in keep]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    results, table, failed = {}, [], 0
    for name, cmd in benches:
        print(f"suite: {name}: {' '.join(shlex.quote(c) for c in cmd)}", file=sys.stderr, flush=True)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        except OSError as e:  # the program is missing: not built, or another --build
            p = subprocess.CompletedProcess(cmd, 127, "", str(e))
        line = next((l for l in reversed(p.stdout.splitlines()) if l.startswith("{")), None)
        if p.returncode != 0 or line is None:
            failed += 1
            tail = (p.stderr.strip().splitlines() or ["no output"])[-1][:160]
            table.append((name, "-", f"FAILED (exit {p.returncode}): {tail}", "-", cmd))
            continue
        r = json.loads(line)
        results[name] = r
        for setting, result, check, wrong in rows_of(name, r):
            failed += 1 if wrong else 0
            table.append((name, setting, result, check + (" (WRONG)" if wrong else ""), cmd))
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# saediff bench suite ({a.profile}{', quick' if a.quick else ''})", "",
             f"{now}; commit {commit}; {os.uname().nodename}; {cpu_name()}, {os.cpu_count()} cores" +
             (f"; GPU {gpu[0]}, driver {gpu[1]}" if gpu else "; no GPU") +
             (f"; bf16 peak {a.peak_tflops:g} TFLOP/s" if a.peak_tflops else "") + ".", "",
             f"`{' '.join(shlex.quote(x) for x in sys.argv)}`", "",
             "| bench | setting | result | correctness |", "|---|---|---|---|"]
    lines += [f"| {n} | {s} | {r} | {c} |" for n, s, r, c, _ in table]
    lines += ["", "Commands:", ""] + [f"- {n}: `{' '.join(shlex.quote(x) for x in cmd)}`" for n, cmd in benches]
    text = "\n".join(lines) + "\n"
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"profile": a.profile, "commit": commit, "date": now, "gpu": gpu, "results": results}, f, indent=1)
    if failed:
        print(f"suite: {failed} bench(es) failed or reported wrong results", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
