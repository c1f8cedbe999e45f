#!/usr/bin/env python3
"""The Slurm scripts on a real one-node Slurm cluster started on this machine (scripts/slurm_local.sh: munged,
slurmctld, slurmd; linuxproc, task/none, no cgroups):

  slurm_jobs.py WORK_DIR DEMO_NP2_DIR

1. `sbatch --wait slurm/run.sbatch configs/demo.toml OUT` on 2 tasks (srun --mpi=pmix): exit 0, and results
   identical to the `mpirun -np 2` demo (features.csv byte for byte, every encoded.h5 dataset).
2. `slurm/submit.sh`: collect -> encode -> diff chained with afterok; each job completes, and the results are
   identical again. A chain whose collect fails cancels the rest (invalid dependency).
3. A time-limit signal mid-encode (`scancel --batch --signal=TERM`, what `--signal=B:TERM@120` sends): the
   script stops the step, requeues the job, and the requeued job finishes with results identical to an
   uninterrupted run of the same config.
4. Exit codes reach Slurm: a bad config fails the job with saediff's exit code.
5. The SAEDIFF_ENV hook is sourced; bench.sbatch writes bench_encode's JSON; suite.sbatch writes the bench
   suite's table and JSON (two benches, one of them under mpirun in the allocation)."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

SRC = os.environ["SAEDIFF_SOURCE_DIR"]
BIN = os.environ["SAEDIFF"]
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def sh(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, **kw)


def job(jid):
    """scontrol's view of a job: {'JobState': ..., 'ExitCode': ..., 'Restarts': ...}."""
    out = sh("scontrol", "show", "job", str(jid)).stdout
    return dict(re.findall(r"(\w+)=(\S*)", out))


def wait_job(jid, timeout=300):
    t0 = time.time()
    while time.time() - t0 < timeout:
        j = job(jid)
        if j.get("JobState") in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"):
            return j
        time.sleep(1)
    return job(jid)


def identical(a, b, label):
    p = sh(sys.executable, os.path.join(SRC, "tests", "integration", "check_identical.py"), a, b)
    check(p.returncode == 0, f"{label}: results identical to {a} ({(p.stdout + p.stderr)[-400:].strip()})")


def main(work, demo_np2):
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch") if shutil.which(b) is None]
    if missing or os.geteuid() != 0:
        print(f"skip: a local Slurm cluster needs root and {', '.join(missing) or 'its daemons'} "
              "(scripts/setup.sh installs slurmctld slurmd slurm-client munge)")
        return 77
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    slurm_dir = os.path.join(work, "cluster")
    p = sh("bash", os.path.join(SRC, "scripts", "slurm_local.sh"), "start", slurm_dir)
    if p.returncode != 0:
        check(False, f"a local Slurm cluster starts ({p.stderr[-600:]})")
        return 1
    os.environ["SLURM_CONF"] = os.path.join(slurm_dir, "slurm.conf")
    os.environ["SAEDIFF"] = BIN  # the scripts take the binary from here
    try:
        return run_checks(work, demo_np2)
    finally:
        sh("bash", os.path.join(SRC, "scripts", "slurm_local.sh"), "stop", slurm_dir)


def run_checks(work, demo_np2):
    slurm = os.path.join(SRC, "slurm")
    demo = os.path.join(SRC, "configs", "demo.toml")
    small = ["--ntasks-per-node=2", "--cpus-per-task=1"]

    # 1. The whole pipeline in one job.
    out = os.path.join(work, "run")
    site_env = os.path.join(work, "site-env.sh")  # the SAEDIFF_ENV hook: a site script sourced first
    open(site_env, "w").write('echo "site environment loaded" >&2\n')
    p = sh("sbatch", "--wait", *small, f"--output={work}/run-%j.out", os.path.join(slurm, "run.sbatch"), demo, out,
           timeout=400, env=dict(os.environ, SAEDIFF_ENV=site_env))
    log = "".join(open(os.path.join(work, f)).read() for f in os.listdir(work) if f.startswith("run-"))
    check(p.returncode == 0, f"sbatch --wait run.sbatch exits 0 ({p.stderr.strip()[-300:]}{log[-500:] if p.returncode else ''})")
    check("on 1 nodes, 2 tasks" in log and "[saediff 1/2" in log, "two ranks under srun --mpi=pmix")
    identical(demo_np2, out, "run.sbatch")
    check("site environment loaded" in log, "SAEDIFF_ENV is sourced before the run")

    # The benchmark script: one JSON object with a tokens/s figure and no wrong results.
    bench_json = os.path.join(work, "bench.json")
    p = sh("sbatch", "--wait", "--gpus-per-task=0", "--cpus-per-task=1", f"--output={work}/bench-%j.out",
           os.path.join(slurm, "bench.sbatch"), "--reps", "1", "--docs", "2", "--tokens", "64", timeout=400,
           env=dict(os.environ, BENCH_OUT=bench_json))  # bench_encode found beside $SAEDIFF
    try:
        b = json.load(open(bench_json))
        ok = p.returncode == 0 and b["tokens_per_s_mean"] > 0 and b["wrong"] == 0
    except (OSError, ValueError, KeyError):
        ok = False
    check(ok, "bench.sbatch writes bench_encode's JSON (tokens/s > 0, #wrong 0)")

    # The suite script: its Markdown table and JSON, the MPI bench under mpirun inside the allocation.
    suite_out = os.path.join(work, "suite")
    p = sh("sbatch", "--wait", "--gpus-per-node=0", "--cpus-per-task=1", f"--output={work}/suite-%j.out",
           os.path.join(slurm, "suite.sbatch"), "--profile", "cpu", "--quick", "--only", "forward,hdf5", timeout=400,
           env=dict(os.environ, SUITE_OUT=suite_out))
    try:
        r = json.load(open(suite_out + ".json"))["results"]
        table = open(suite_out + ".md").read()
        ok = p.returncode == 0 and set(r) == {"forward", "hdf5"} and r["hdf5"]["wrong"] == 0 and "| hdf5 |" in table
    except (OSError, ValueError, KeyError):
        ok = False
    log = "".join(open(os.path.join(work, f)).read() for f in os.listdir(work) if f.startswith("suite-") and f.endswith(".out"))
    check(ok, f"suite.sbatch writes the suite's table and JSON ({log[-400:] if not ok else ''})")

    # 2. Chained stages.
    out = os.path.join(work, "chain")
    env = dict(os.environ, SAEDIFF_COLLECT_OPTS="--cpus-per-task=1", SAEDIFF_DIFF_OPTS="--cpus-per-task=1",
               SAEDIFF_ENCODE_OPTS=" ".join(small + ["--gpus-per-task=0"]))
    p = sh(os.path.join(slurm, "submit.sh"), demo, out, env=env)
    ids = dict(line.split() for line in p.stdout.split("\n") if line.strip())
    check(p.returncode == 0 and set(ids) == {"collect", "encode", "diff"}, f"submit.sh submits three jobs ({p.stdout}{p.stderr})")
    if set(ids) == {"collect", "encode", "diff"}:
        deps = job(ids["diff"]).get("Dependency", "")
        check(f"afterok:{ids['encode']}" in deps, f"diff depends on encode with afterok ({deps})")
        states = {k: wait_job(v).get("JobState") for k, v in ids.items()}
        check(all(s == "COMPLETED" for s in states.values()), f"every stage completes ({states})")
        identical(demo_np2, out, "submit.sh chain")
    bad = os.path.join(work, "bad.toml")
    open(bad, "w").write(open(demo).read().replace("[diff]", "bogus-key = 1\n[diff]", 1))
    p = sh(os.path.join(slurm, "submit.sh"), bad, os.path.join(work, "badchain"), env=env)
    ids = dict(line.split() for line in p.stdout.split("\n") if line.strip())
    if set(ids) == {"collect", "encode", "diff"}:
        states = {k: wait_job(v, 120) for k, v in ids.items()}
        check(states["collect"].get("JobState") == "FAILED" and states["collect"].get("ExitCode", "").startswith("1:"),
              f"a bad config fails the collect job with saediff's exit code 1 ({states['collect'].get('ExitCode')})")
        gone = all(states[k].get("JobState") in ("CANCELLED", "") for k in ("encode", "diff"))
        check(gone, f"... and the chain after it is cancelled ({[states[k].get('JobState') for k in ('encode', 'diff')]})")

    # 3. The time-limit signal mid-encode: stop, requeue, resume, same results. A config three times the demo,
    #    so that encode runs long enough to be caught.
    responses = os.path.join(work, "responses3.jsonl")
    with open(responses, "w") as f:
        for rep in range(3):
            for line in open(os.path.join(SRC, "configs", "demo", "responses.jsonl")):
                r = json.loads(line)
                r["prompt_id"] = f"{r['prompt_id']}-r{rep}"
                f.write(json.dumps(r) + "\n")
    cfg = os.path.join(work, "three.toml")
    text = open(demo).read()
    text = re.sub(r'(?m)^responses = .*$', f'responses = "{responses}"', text)
    text = re.sub(r'(?m)^demo-tokenizer = .*$', f'demo-tokenizer = "{os.environ["SAEDIFF_TOKENIZER_JSON"]}"', text)
    text = re.sub(r'(?m)^demo-plant = .*$', f'demo-plant = "{os.path.join(SRC, "configs", "demo", "behaviours.json")}"', text)
    text = re.sub(r'(?m)^out = .*$', "", text)
    open(cfg, "w").write(text)
    ref_out, sig_out = os.path.join(work, "three-ref"), os.path.join(work, "three-signal")
    p = sh("sbatch", "--wait", *small, f"--output={work}/ref-%j.out", os.path.join(slurm, "run.sbatch"), cfg, ref_out,
           timeout=400)
    check(p.returncode == 0, "the uninterrupted run of the larger config completes")
    p = sh("sbatch", "--parsable", *small, f"--output={work}/signal-%j.out", os.path.join(slurm, "run.sbatch"), cfg,
           sig_out)
    jid = p.stdout.strip().split(";")[0]
    logf = os.path.join(work, f"signal-{jid}.out")
    t0, sent = time.time(), False
    while time.time() - t0 < 300:
        text = open(logf).read() if os.path.exists(logf) else ""
        if re.search(r"encode: \d+ documents in \d+ sets", text):  # rank 0 has handed out the documents
            time.sleep(1.0)
            sent = sh("scancel", "--batch", "--signal=TERM", jid).returncode == 0
            break
        if job(jid).get("JobState") in ("COMPLETED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.2)
    check(sent, "TERM sent to the batch script while encode runs")
    # Slurm holds a requeued job back until the old job credential expires (cred_expire + 1 s; the local
    # cluster sets cred_expire=10 so the test stays short).
    final = wait_job(jid, 600)
    log = open(logf).read() if os.path.exists(logf) else ""
    check("caught SIGTERM" in log and "requeueing job" in log, "the script caught the signal, stopped the step and requeued")
    check(final.get("JobState") == "COMPLETED" and final.get("Restarts") == "1",
          f"the requeued job completes (state {final.get('JobState')}, restarts {final.get('Restarts')})")
    check(log.count("restart 1") == 1, "the second run of the script knows it is a restart")
    identical(ref_out, sig_out, "signalled and requeued run")

    print(f"slurm_jobs: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
