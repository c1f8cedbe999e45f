#!/usr/bin/env python3
"""A distributed encode killed mid-run resumes where it stopped, and its file equals an uninterrupted run's.

1. An uninterrupted `saediff encode` on 2 ranks over ~380 documents: the reference file (and, kept with
   --keep-spool, the full spool's size).
2. The same encode on 3 ranks, one rank killed with SIGKILL once about a third of the spool is on disk:
   mpirun must bring every rank down within seconds, leaving no encoded.h5.
3. Garbage appended to one spool file (a torn write); a rerun with other settings (--layer 1) is refused and
   leaves the spool untouched. A rerun during which a checked spool file is cut short fails on every rank
   (the error met while writing encoded.h5 must not hang the others in HDF5's collectives).
4. The rerun on 2 ranks encodes only what is missing (its log says how many were already there), and every
   dataset and attribute of its file equals the reference's; the spool folder is removed after success.
Usage: encode_resume.py DEMO_RUN_DIR WORK_DIR (DEMO_RUN_DIR holds demo-model/ from the demo run)."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

SAEDIFF = os.environ["SAEDIFF"]
SRC = os.environ["SAEDIFF_SOURCE_DIR"]
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
failures = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def encode_cmd(np_, model, out, *extra):
    return MPIRUN + ["-np", str(np_), SAEDIFF, "encode", "--responses", f"{WORK}/responses.jsonl", "--model", model,
                     "--sae", f"{model}/sae.safetensors", "--layer", "2", "--out", out, "--threads", "1",
                     "--progress-seconds", "1", *extra]


def contents(path):
    data, attrs = {}, {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: data.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
        attrs = {k: f.attrs[k] for k in f.attrs if k not in ("timings", "n_rank", "config")}
    return data, attrs


def same_file(a, b):
    da, aa = contents(a)
    db, ab = contents(b)
    bad = sorted(set(da) ^ set(db)) + [n for n in sorted(set(da) & set(db)) if not np.array_equal(da[n], db[n])]
    bad += [f"attr {k}" for k in sorted(set(aa) | set(ab)) if k not in aa or k not in ab or not np.array_equal(aa[k], ab[k])]
    return bad, da


def spool_bytes(out):
    return sum(os.path.getsize(p) for p in glob.glob(f"{out}.parts/*.spool"))


def main(demo_dir, work):
    global WORK
    WORK = work
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    model = f"{demo_dir}/demo-model"
    # ~380 documents: the demo's responses, four times over under new prompt ids.
    lines = [json.loads(l) for l in open(f"{SRC}/configs/demo/responses.jsonl", encoding="utf-8") if l.strip()]
    with open(f"{work}/responses.jsonl", "w", encoding="utf-8") as f:
        for k in range(4):
            for r in lines:
                f.write(json.dumps(dict(r, prompt_id=f"{r['prompt_id']}-{k}"), ensure_ascii=False) + "\n")
    n_ok = 4 * sum(1 for r in lines if r.get("response") is not None)

    ref = f"{work}/ref/encoded.h5"
    p = subprocess.run(encode_cmd(2, model, ref, "--keep-spool"), capture_output=True, text=True, timeout=900)
    check(p.returncode == 0, f"uninterrupted encode on 2 ranks exits 0 (got {p.returncode}: {p.stderr[-600:]})")
    check("ETA" in p.stderr, "rank 0 logs progress with an ETA")
    check("load balance:" in p.stderr, "rank 0 logs the per-rank load balance")
    full = spool_bytes(ref)
    check(full > 0, f"--keep-spool keeps the spool ({full} bytes)")

    # Killed on 3 ranks once about a third of the spool is on disk.
    out = f"{work}/run/encoded.h5"
    os.makedirs(os.path.dirname(out))
    log = open(f"{work}/killed.log", "w")
    proc = subprocess.Popen(encode_cmd(3, model, out), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None and spool_bytes(out) < full // 3:
        time.sleep(0.05)
    ranks = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout.split()
    check(proc.poll() is None and len(ranks) == 3, f"3 ranks running when a third of the spool is written ({ranks})")
    before_kill = spool_bytes(out)
    killed_at = time.time()
    os.kill(int(ranks[-1]), signal.SIGKILL)
    try:
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    log.close()
    waited = time.time() - killed_at
    check(rc is not None and rc != 0, f"mpirun fails after a rank is killed (rc {rc}, {waited:.1f} s)")
    check(waited < 30, f"every rank is down within seconds of the kill ({waited:.1f} s)")
    check(not os.path.exists(out), "no encoded.h5 after the kill")
    partial = spool_bytes(out)
    check(before_kill <= partial < full, f"a partial spool is left: {partial} of {full} bytes")

    # A torn write at the end of one spool file, and a rerun with other settings.
    spools = sorted(glob.glob(f"{out}.parts/*.spool"))
    with open(spools[0], "ab") as f:
        f.write(b"SDR1\x00\x01torn")
    sizes = {s: os.path.getsize(s) for s in spools}
    bad_cmd = encode_cmd(2, model, out)
    bad_cmd[bad_cmd.index("--layer") + 1] = "1"
    p = subprocess.run(bad_cmd, capture_output=True, text=True, timeout=300)
    check(p.returncode == 1 and "different settings" in p.stderr and "layer" in p.stderr,
          f"a rerun with --layer 1 is refused, naming the layer (rc {p.returncode}: {p.stderr.strip()[-300:]})")
    check({s: os.path.getsize(s) for s in spools} == sizes and not os.path.exists(out), "... and touches nothing")

    # A record lost after the rerun has checked it (the file cut while the rerun encodes the rest): the rank that
    # reads it back while writing encoded.h5 fails, and every rank stops, rather than waiting in a collective.
    proc = subprocess.Popen(encode_cmd(2, model, out), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "documents to encode in" in line:
            with open(spools[0], "r+b") as f:
                f.truncate(os.path.getsize(spools[0]) // 3)
            cut_at = time.time()
            break
    try:
        lines += proc.stderr.readlines()
        rc = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    text = "".join(lines)
    check(rc is not None and rc != 0, f"a spool file cut during the rerun makes it fail (rc {rc})")
    check(rc is not None and time.time() - cut_at < 90, "... on every rank, without hanging in the file's collectives")
    check("the file ends first" in text or "cannot read" in text, "... saying that the record cannot be read: " +
          "".join(l for l in lines if "error" in l)[-300:])
    check(not os.path.exists(out), "... and leaves no encoded.h5")

    # The rerun on 2 ranks: only the missing documents.
    p = subprocess.run(encode_cmd(2, model, out), capture_output=True, text=True, timeout=900)
    check(p.returncode == 0, f"the rerun exits 0 (rc {p.returncode}: {p.stderr[-600:]})")
    resumed = [l for l in p.stderr.splitlines() if "resuming:" in l]
    check(len(resumed) == 1, f"the rerun says it resumes: {resumed}")
    n_done = int(resumed[0].split("resuming:")[1].split()[0]) if resumed else -1
    check(0 < n_done < n_ok, f"{n_done} of {n_ok} documents were already encoded")
    todo = [l for l in p.stderr.splitlines() if "documents to encode in" in l]
    check(bool(todo) and f"encode: {n_ok - n_done} documents to encode" in todo[0], f"and only the rest is encoded: {todo}")
    check("torn" in p.stderr or "damaged" in p.stderr or "magic" in p.stderr, "the torn tail is reported")
    bad, data = same_file(ref, out)
    check(not bad, f"the resumed file equals the uninterrupted one ({len(data)} datasets; differ: {bad[:5]})")
    check(not os.path.exists(f"{out}.parts"), "the spool folder is removed once the file is written")
    print(f"{len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
