#!/usr/bin/env python3
"""Misuse and bad input, through the real binary (issue 17): each class is refused before the work, with a message
that says why, and a refused run leaves nothing behind.

1. Config files: diff and encode (under mpirun) refuse, naming FILE:LINE, a broken section header, a misspelt
   section, keys at the top level, garbage and a key the command does not take; `threshold = 0.0` in a file is
   applied (summary.json says 0).
2. Late failures: encode (mpirun -np 2) refuses an existing folder as --out and set names HDF5 cannot take ('.',
   'a/b', '') before loading anything, as collect refuses them in --model; a second encode of the same --out is
   refused at once, naming the holder's host and pid, while the first finishes; a run refused at the model load
   (--layer past the model) and one refused after the plan and the lock (an SAE of the wrong width) leave no
   OUT.parts, OUT.tmp, lock file or folder; diff refuses an --out another process holds.
3. Cost: diff --top-k 5000 on the demo finishes (its time is bench/bench_cluster's business) and clusters as
   --top-k 15 does for the top 15; every batch longer than --progress-seconds says so.
5. No key: collect refuses to send without one, naming the variable, unless --no-key and a loopback URL.
6. HDF5: a missing file, a folder, a text file, a truncated copy and a file without a dataset each get a message
   naming the file and what is wrong; a range error reads as a person writes it.
Usage: misuse.py DEMO_RUN_DIR WORK_DIR"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

SAEDIFF = os.environ["SAEDIFF"]
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
failures = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def run(args, **kw):
    p = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
    return p.returncode, p.stdout + p.stderr


def listing(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def refused(args, expect, what, leaves=None, **kw):
    """Runs args; checks a non-zero exit, each expected text in the log, and that `leaves` (a folder) is unchanged."""
    before = listing(leaves) if leaves else None
    rc, log = run(args, **kw)
    missing = [e for e in ([expect] if isinstance(expect, str) else expect) if e not in log]
    check(rc != 0 and not missing, f"{what} (rc {rc}; missing {missing}: {log[-400:]!r})")
    if leaves:
        check(listing(leaves) == before, f"{what}: leaves nothing behind ({sorted(set(listing(leaves)) - set(before))})")
    return log


def main(demo, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    encoded = f"{demo}/encoded.h5"
    model = f"{demo}/demo-model"
    responses = os.path.join(os.environ["SAEDIFF_SOURCE_DIR"], "configs", "demo", "responses.jsonl")
    encode = [SAEDIFF, "encode", "--model", model, "--sae", f"{model}/sae.safetensors", "--layer", "2", "--threads", "1"]

    prompts = f"{work}/prompts.csv"
    with open(prompts, "w") as f:
        f.write("id,category,prompt\np1,test,Hello?\n")

    # 1. Config files.
    def toml(name, text):
        path = f"{work}/{name}.toml"
        with open(path, "w") as f:
            f.write(text)
        return path
    diff_keys = f'encoded = "{encoded}"\nbaseline = "terse"\ncandidate = "verbose"\n'
    cases = [
        ("broken_header", f"[diff\n{diff_keys}", ":1:", "a broken section header"),
        ("misspelt", f"[dif]\n{diff_keys}", ":1: unknown section [dif]", "a misspelt section"),
        ("top_level", f"{diff_keys}threshold = 0.0\n", ":1: unknown top-level key 'encoded'", "keys at the top level"),
        ("garbage", "this is not toml at all\n", ":1:", "garbage"),
        ("foreign_key", f"[diff]\n{diff_keys}layer = 2\n", ":5: unknown key 'layer' in [diff]", "a key diff does not take"),
    ]
    for name, text, expect, what in cases:
        path = toml(name, text)
        refused([SAEDIFF, "diff", "--config", path, "--out", f"{work}/report-{name}"], [path + expect],
                f"diff --config refuses {what}, naming file:line", leaves=work)
    path = toml("encode_section", f'[encode]\nresponses = "{responses}"\nlayr = 2\n')
    refused(MPIRUN + ["-np", "2"] + encode + ["--config", path, "--out", f"{work}/e/encoded.h5"],
            [path + ":3: unknown key 'layr' in [encode]"], "encode --config (mpirun -np 2) refuses an unknown key",
            leaves=work)
    path = toml("encode_top", 'pool = "all"\n')
    refused(MPIRUN + ["-np", "2"] + encode + ["--config", path, "--responses", responses, "--out", f"{work}/e/encoded.h5"],
            [path + ":1: unknown top-level key 'pool'", "encode's 'pool' goes under [encode]"],
            "encode --config refuses top-level keys, saying where they go", leaves=work)
    path = toml("zero", f"[diff]\n{diff_keys}threshold = 0.0\ntop-k = 5\n")
    rc, log = run([SAEDIFF, "diff", "--config", path, "--out", f"{work}/report-zero"])
    summary = json.load(open(f"{work}/report-zero/summary.json")) if rc == 0 else {}
    check(rc == 0 and summary.get("threshold") == 0.0, f"threshold = 0.0 in the file is applied (rc {rc}, "
          f"threshold {summary.get('threshold')})")
    shutil.rmtree(f"{work}/report-zero", ignore_errors=True)

    # 2. Outputs and set names, before any work.
    os.makedirs(f"{work}/a-folder")
    log = refused(MPIRUN + ["-np", "2"] + encode + ["--responses", responses, "--out", f"{work}/a-folder"],
                  "encode --out '" + f"{work}/a-folder' is a folder; name the file to write",
                  "encode refuses a folder as --out", leaves=work)
    check("loaded layers" not in log, "... before loading the model")
    lines = [json.loads(l) for l in open(responses, encoding="utf-8") if l.strip()]
    for bad, reason in [(".", "only dots"), ("a/b", "holds '/'"), ("", "it is empty")]:
        path = f"{work}/bad-set.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for r in lines[:6]:
                f.write(json.dumps(dict(r, set=bad if r["set"] == "verbose" else r["set"])) + "\n")
        log = refused(MPIRUN + ["-np", "2"] + encode + ["--responses", path, "--out", f"{work}/bad/encoded.h5"],
                      [f"the set '{bad}' of prompt", "cannot name a set in encoded.h5", reason],
                      f"encode refuses the set name {bad!r} before any work", leaves=work)
        check("loaded layers" not in log, f"... before loading the model ({bad!r})")
        os.remove(path)
        refused([SAEDIFF, "collect", "--prompts", prompts, "--model", f"{bad}=some/model", "--out", f"{work}/c"],
                ["cannot name a set", reason], f"collect refuses the set name {bad!r} the same way", leaves=work)

    # Two encodes of one --out: the second is refused at once, naming the first; the first finishes.
    out = f"{work}/twice/encoded.h5"
    first = subprocess.Popen(encode + ["--responses", responses, "--out", out], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not os.path.exists(out + ".lock") and time.time() < deadline and first.poll() is None:
        time.sleep(0.05)
    held = os.path.exists(out + ".lock")
    start = time.time()
    rc, log = run(MPIRUN + ["-np", "2"] + encode + ["--responses", responses, "--out", out])
    took = time.time() - start
    first_log = first.communicate(timeout=600)[0]
    check(held and rc != 0 and "is being written by another saediff (pid " in log and f"pid {first.pid} on host "
          in log, f"a second encode of the same --out is refused, naming the first's pid {first.pid} (rc {rc}: {log[-300:]!r})")
    check(took < 30 and "loaded layers" not in log, f"... at once, before loading anything ({took:.1f} s)")
    check(first.returncode == 0 and os.path.exists(out) and listing(f"{work}/twice") == ["encoded.h5"],
          f"the first finishes, and leaves only its file (rc {first.returncode}: {listing(f'{work}/twice')} "
          f"{first_log[-300:]!r})")

    # A run refused at the model load leaves no spool folder, temporary file or lock behind.
    refused(MPIRUN + ["-np", "2"] + [a if a != "2" else "9" for a in encode] + ["--responses", responses, "--out",
                                                                               f"{work}/late/encoded.h5"],
            "layer 9 does not exist", "encode --layer past the model is refused", leaves=work)

    # Refused after the plan and the lock (the SAE's width against config.json): the lock file, the folder made for
    # it and OUT.parts are all gone again.
    wide = f"{work}/wide-model"
    shutil.copytree(model, wide, ignore=shutil.ignore_patterns("*.safetensors"))
    for f in os.listdir(model):
        if f.endswith(".safetensors") and f != "sae.safetensors":
            os.symlink(f"{model}/{f}", f"{wide}/{f}")
    cfg = json.load(open(f"{wide}/config.json"))
    cfg["hidden_size"] *= 2
    json.dump(cfg, open(f"{wide}/config.json", "w"))
    refused(MPIRUN + ["-np", "2"] + [a if a != model else wide for a in encode] + ["--responses", responses, "--out",
                                                                               f"{work}/sae-late/encoded.h5"],
            "the SAE does not fit the model", "encode with an SAE of the wrong width is refused", leaves=work)
    shutil.rmtree(wide)

    # collect and diff hold their --out too: a lock held by another process refuses them.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, struct, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "os.write(fd, b'pid %d on host test-holder, since now\\n' % os.getpid())\n"
        "fcntl.fcntl(fd, 37, struct.pack('hhqqi4x', fcntl.F_WRLCK, 0, 0, 0, 0))\n"  # F_OFD_SETLK
        "print('held', flush=True)\n"
        "time.sleep(60)\n"), f"{work}/report-locked.lock"], stdout=subprocess.PIPE, text=True)
    check(holder.stdout.readline().strip() == "held", "a test process holds report-locked.lock")
    refused([SAEDIFF, "diff", "--encoded", encoded, "--baseline", "terse", "--candidate", "verbose", "--out",
             f"{work}/report-locked"], ["diff --out", "is being written by another saediff (pid", "on host test-holder"],
            "diff refuses an --out another process holds, naming it")
    check(not os.path.exists(f"{work}/report-locked"), "... and writes no report")
    holder.kill()

    # 3. Cost: the clustering of 10,000 top features, and a line per batch.
    rc, log = run([SAEDIFF, "diff", "--encoded", encoded, "--baseline", "terse", "--candidate", "verbose",
                   "--top-k", "5000", "--out", f"{work}/top5000"])
    check(rc == 0, f"diff --top-k 5000 finishes (rc {rc}: {log[-300:]!r})")
    rc, log = run(encode + ["--responses", responses, "--out", f"{work}/progress/encoded.h5", "--progress-seconds",
                            "0.000001"])
    check(rc == 0 and log.count("encode: a batch of ") >= 2, f"every batch longer than --progress-seconds says so "
          f"({log.count('encode: a batch of ')} lines)")

    # 5. No key.
    env = {k: v for k, v in os.environ.items() if k != "OPENROUTER_API_KEY"}
    with socket.socket() as s:  # a loopback port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    loop = ["--base-url", f"http://127.0.0.1:{port}/v1", "--max-attempts", "1"]
    refused([SAEDIFF, "collect", "--prompts", prompts, "--model", "a=x", "--out", f"{work}/nokey"] + loop,
            ["no API key: set OPENROUTER_API_KEY", "--no-key"], "no key, even for loopback, is refused naming the variable",
            leaves=work, env=env)
    rc, log = run([SAEDIFF, "collect", "--prompts", prompts, "--model", "a=x", "--out", f"{work}/nokey", "--no-key"]
                  + loop, env=env)
    check(rc == 3 and "no API key" not in log, f"--no-key lets a loopback collect go on (rc {rc}: the pair fails to connect)")
    refused([SAEDIFF, "collect", "--prompts", prompts, "--model", "a=x", "--out", f"{work}/nokey2", "--no-key",
             "--base-url", "https://openrouter.ai/api/v1"], "--no-key is for a loopback --base-url only",
            "--no-key with a remote URL is refused", leaves=work, env=env)

    # 6. HDF5 files that cannot be read.
    diff = [SAEDIFF, "diff", "--baseline", "terse", "--candidate", "verbose", "--out", f"{work}/r6"]
    with open(f"{work}/text.h5", "w") as f:
        f.write("not hdf5\n")
    with open(encoded, "rb") as f:
        data = f.read()
    with open(f"{work}/truncated.h5", "wb") as f:
        f.write(data[: len(data) // 2])
    import h5py
    shutil.copy(encoded, f"{work}/holed.h5")
    with h5py.File(f"{work}/holed.h5", "a") as h:
        del h["sets/verbose/n_tokens"]
    for path, expect, what in [
        (f"{work}/missing.h5", "does not exist", "a missing file"),
        (f"{work}/a-folder", "is a folder", "a folder"),
        (f"{work}/text.h5", "is not an HDF5 file", "a text file"),
        (f"{work}/truncated.h5", "cannot be opened: truncated or corrupt", "a truncated copy"),
        (f"{work}/holed.h5", "HDF5 dataset '/sets/verbose/n_tokens' is missing", "a file without a dataset"),
    ]:
        log = refused(diff + ["--encoded", path], [f"'{path}'", expect], f"diff names {what} and what is wrong")
        check("H5Fopen(" not in log, f"... without the raw HDF5 call ({what})")
    refused(encode + ["--responses", responses, "--out", f"{work}/x.h5", "--chunk-tokens", "0"],
            "--chunk-tokens: must be from 1 to 2^40, got 0", "a range error reads as a person writes it", leaves=work)

    print(f"{len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
