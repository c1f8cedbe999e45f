#!/usr/bin/env python3
"""The summary of scripts/gpu_check.sh: reads WORK/steps.tsv and each step's log (WORK/logs/NAME.log), takes the
key figures from them, and writes OUT/summary.json and OUT/summary.md (one row per step: status, exit code,
seconds, figures). Run after every step, so that OUT holds a whole summary even if the run is cut off.
  scripts/gpu_check_summary.py WORK OUT PREFIX"""
import csv
import json
import os
import re
import subprocess
import sys


def last_json(text):
    """The last line of a log that parses as a JSON object (the benches' --json output), else None."""
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def pick(obj, keys):
    return {k: obj[k] for k in keys if k in obj and obj[k] is not None}


def figures(name, text, logs):
    """Key figures of one step: `figure: k=v` lines that the script's own steps print, plus each tool's own."""
    fig = {}
    for m in re.finditer(r"^figure: (\w+)=(.*)$", text, re.M):
        fig[m.group(1)] = m.group(2).strip()
    if name == "configure":
        fig["found"] = re.findall(r"^found: (.*)$", text, re.M)
        m = re.search(r"saediff: CUDA (\S+) and NCCL \((.*?)\) found", text)
        fig["cuda_nccl"] = f"CUDA {m.group(1)}, NCCL {m.group(2)}" if m else "not found"
        if m := re.search(r"saediff: libtorch has CUDA (\d+)", text):
            fig["libtorch_cuda"] = m.group(1)
    elif name == "build":
        progress = re.findall(r"^\[(\d+)/(\d+)\]", text, re.M)
        if progress:
            fig["edges"] = "/".join(progress[-1])
        if m := re.search(r"^(FAILED: .*|.*\berror: .*)$", text, re.M):
            fig["first_error"] = m.group(0)[:300]
    elif name == "version":
        fig["version"] = " | ".join(l for l in text.splitlines()[2:6] if l.strip())
    elif name == "hf_goldens":
        if m := re.search(r"wrote (\d+) goldens", text):
            fig["goldens"] = int(m.group(1))
    elif name == "parity_ctest":
        if m := re.search(r"(\d+)% tests passed, (\d+) tests? failed out of (\d+)", text):
            fig["passed"] = f"{int(m.group(3)) - int(m.group(2))}/{m.group(3)}"
        fig["failed_tests"] = re.findall(r"^\s+\d+ - (\S+) \(", text, re.M)
        fig["hf_goldens_checked"] = len(re.findall(r"^ok: HF .* golden", text, re.M))
    elif name == "parity_cuda":
        fig["ok"] = len(re.findall(r"^ok: ", text, re.M))
        fig["fail"] = re.findall(r"^FAIL: (.*)$", text, re.M)[:5]
        for dtype in ("float32", "bfloat16"):
            errs = [float(e) for label, e in re.findall(r"^ok: (.*?): .*max relative error.*? ([\d.]+e[-+]\d+) <=",
                                                         text, re.M) if dtype in label]
            if errs:
                fig[f"max_rel_err_{dtype}"] = f"{max(errs):.2e}"
        fig["hf_goldens_checked"] = len(re.findall(r"^ok: HF .* golden", text, re.M))
    elif name == "bench_encode" and (j := last_json(text)):
        fig.update(pick(j, ["device", "tokens_per_s_mean", "tokens_per_s_sd", "tflops_per_rank", "fraction_of_peak",
                            "decisions_agree_with_float32", "active_decisions_agree_with_float32", "wrong",
                            "packed_vs_alone_rel", "repeatable", "load_s", "weight_bytes", "memory_after_run",
                            "ops_per_batch"]))
    elif name == "bench_reduce" and (j := last_json(text)):
        for backend in ("mpi", "nccl_device"):
            v = j.get(backend)
            fig[backend] = (f"{v['mean_s'] * 1e3:.3f} ms, exact {v['exact']}" if isinstance(v, dict) else v)
    elif name == "hf_side_by_side":
        path = os.path.join(logs, "hf_side_by_side.json")
        if os.path.exists(path):
            r = json.load(open(path))
            fig["rows"] = [f"{row['side']}: {row['mean']:.0f} tokens/s"
                           + (f" (saediff {row['ratio']:.2f}x)" if "ratio" in row else "") for row in r["rows"]]
    return fig


def brief(fig):
    """One table cell from the figures."""
    parts = []
    for k, v in fig.items():
        if k in ("found",) or v in ([], None, ""):
            continue
        if isinstance(v, float):
            v = f"{v:.4g}"
        elif isinstance(v, list):
            v = "; ".join(" ".join(f"{a}" for a in x.values()) if isinstance(x, dict) else str(x) for x in v)
        parts.append(f"{k} {v}")
    return ", ".join(parts).replace("|", "/")


def main(work, out, prefix):
    logs = os.path.join(work, "logs")
    steps = []
    with open(os.path.join(work, "steps.tsv")) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            log = os.path.join(logs, row["name"] + ".log")
            text = open(log, errors="replace").read() if os.path.exists(log) else ""
            steps.append({"name": row["name"], "status": row["status"],
                          "exit": int(row["rc"]) if row["rc"].lstrip("-").isdigit() else None,
                          "seconds": int(row["seconds"]), "timeout_s": int(row["timeout_s"]),
                          "command": row["command"], "log": f"logs/{row['name']}.log",
                          "figures": figures(row["name"], text, logs) if text else {}})
    host = next((s["figures"] for s in steps if s["name"] == "preflight"), {})
    size = subprocess.run(["du", "-sh", prefix], capture_output=True, text=True).stdout.split("\t")[0]
    not_ok = [s["name"] for s in steps if s["status"] not in ("ok", "dry-run")]
    summary = {"bench": "gpu_check", "host": host, "prefix_size": size, "steps": steps,
               "ok": sum(s["status"] == "ok" for s in steps), "not_ok": not_ok}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)

    def h(key):
        return host.get(key, "?")

    lines = ["# saediff GPU check", "",
             f"{h('date')}, commit {h('commit')}, GPU {h('gpu')}, {h('cores')} cores, torch {h('torch')}, "
             f"transformers {h('transformers')}; {h('cmake')}; nvcc {h('nvcc')}; prefix {size}. "
             f"{summary['ok']} of {len(steps)} steps ok" + (f"; not ok: {', '.join(not_ok)}" if not_ok else "")
             + ". Logs: logs.tar.gz.", "",
             "| step | status | exit | seconds | key figures |", "|---|---|---:|---:|---|"]
    for s in steps:
        fig = brief(s["figures"]) if s["name"] != "preflight" else ""
        code = "-" if s["exit"] is None else s["exit"]
        lines.append(f"| {s['name']} | {s['status']} | {code} | {s['seconds']} | {fig} |")
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
