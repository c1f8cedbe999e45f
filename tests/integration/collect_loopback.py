#!/usr/bin/env python3
"""`saediff collect` against a real HTTP server on loopback (tests/reference/mock_openrouter.py).

Checks retries (500s, a 429 with Retry-After), permanent failures (400, API error bodies, timeouts), the
records in responses.jsonl, responses.csv (multi-line prompts round-trip), resume after a crash (a torn
last line is repaired; collected pairs are never requested again; failed ones are), the exit code, that
the API key appears in no output file and no log line, and a whole `saediff run` with collection under
`mpirun -np 2` (failures counted and listed in the report; the key in no file of the job, HDF5 included)."""
import csv
import json
import os
import shutil
import subprocess
import sys
import time

SRC = os.environ["SAEDIFF_SOURCE_DIR"]
SAEDIFF = os.environ["SAEDIFF"]
KEY = "sk-or-v1-SECRET-test-key-0123456789"
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg)
    if not cond:
        failures.append(msg)


def requests(log):
    with open(log) as f:
        return [json.loads(line) for line in f]


def main(work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    port_file, log = os.path.join(work, "port"), os.path.join(work, "requests.jsonl")
    server = subprocess.Popen([sys.executable, os.path.join(SRC, "tests", "reference", "mock_openrouter.py"),
                               port_file, log, "--lifetime", "90"])
    try:
        for _ in range(100):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        base = f"http://127.0.0.1:{open(port_file).read()}/v1"
        prompts = os.path.join(work, "prompts.csv")
        with open(prompts, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "category", "prompt", "rationale"])
            w.writerow(["ok1", "plain", "What is 2+2?", "plain"])
            w.writerow(["multi", "plain", 'Line one,\nline "two"', "multi-line, quotes"])
            w.writerow(["flaky", "faults", "Retry me [flaky-2]", "two 500s then success"])
            w.writerow(["limited", "faults", "Slow down [ratelimit]", "429 once"])
            w.writerow(["bad", "faults", "Nope [reject]", "permanent 400"])
            w.writerow(["apierr", "faults", "Broken [apierror]", "error body"])
            w.writerow(["slow", "faults", "Wait [slow]", "times out"])
            w.writerow(["trunc", "faults", "Cut me [length]", "finish_reason length"])
        out = os.path.join(work, "out")
        cmd = [SAEDIFF, "collect", "--prompts", prompts, "--model", "a=vendor/model-a", "--model", "b=vendor/model-b",
               "--out", out, "--base-url", base, "--concurrency", "4", "--max-attempts", "3", "--retry-base", "0.05",
               "--timeout", "2", "--max-tokens", "64"]
        env = dict(os.environ, OPENROUTER_API_KEY=KEY)
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        check(r.returncode == 3, f"collect exits 3 when pairs failed (got {r.returncode})")
        recs = [json.loads(line) for line in open(os.path.join(out, "responses.jsonl"))]
        by = {(x["set"], x["prompt_id"]): x for x in recs}
        check(len(recs) == 16 and len(by) == 16, f"one record per pair: {len(recs)} records")
        ok = by[("a", "ok1")]
        check(ok["response"] == "vendor/model-a says: ?2+2 si tahW" and ok["error"] is None and ok["attempts"] == 1
              and ok["finish_reason"] == "stop" and ok["usage"]["total_tokens"] == 6 and ok["model"] == "vendor/model-a"
              and ok["category"] == "plain" and ok["collected_at"].endswith("Z") and ok["latency_ms"] > 0,
              "a successful record has every field")
        check(by[("b", "flaky")]["attempts"] == 3 and by[("b", "flaky")]["response"] is not None,
              "two 500s then success: attempts 3")
        check(by[("a", "limited")]["attempts"] == 2 and by[("a", "limited")]["response"] is not None,
              "429 with Retry-After then success")
        bad = by[("a", "bad")]
        check(bad["response"] is None and bad["attempts"] == 1 and "HTTP 400" in bad["error"],
              "a 400 fails at once, with the status in the error")
        check(by[("a", "apierr")]["response"] is None and by[("a", "apierr")]["attempts"] == 3
              and "API error" in by[("a", "apierr")]["error"], "an error body is retried, then recorded")
        check(by[("a", "slow")]["response"] is None and "network" in by[("a", "slow")]["error"],
              "a request past --timeout fails as a network error")
        reqs = requests(log)
        check(all(q["authorization"] == f"Bearer {KEY}" for q in reqs), "every request carries the key")
        check(all(q["max_tokens"] == 64 and q["temperature"] == 0 for q in reqs), "max_tokens and temperature sent")
        with open(os.path.join(out, "responses.csv"), newline="") as f:
            rows = list(csv.reader(f))
        check(rows[0] == ["prompt_id", "category", "prompt", "response_a", "response_b"], "responses.csv header")
        multi = next(x for x in rows if x[0] == "multi")
        check(multi[2] == 'Line one,\nline "two"' and multi[3].startswith("vendor/model-a says:"),
              "a multi-line prompt round-trips through responses.csv")
        check(next(x for x in rows if x[0] == "bad")[3] == "", "a failed pair leaves an empty cell")

        # Crash simulation: a torn half line at the end; the resume repairs it and requests only failures.
        with open(os.path.join(out, "responses.jsonl"), "a") as f:
            f.write('{"prompt_id": "ok1", "set": "a", "resp')
        n_before = len(reqs)
        r2 = subprocess.run(cmd, env=env, capture_output=True, text=True)
        check(r2.returncode == 3, "resume still exits 3 (the permanent failures remain)")
        check("torn last line" in r2.stderr, "resume reports the repair")
        again = requests(log)[n_before:]
        asked = {(q["model"], q["prompt"].split(" [")[0]) for q in again}
        check(all(q["prompt"].split()[-1] in ("[reject]", "[apierror]", "[slow]") for q in again) and len(asked) == 6,
              f"resume re-requests only the 6 failed pairs ({sorted(asked)})")
        lines = open(os.path.join(out, "responses.jsonl")).read().splitlines()
        check(all(json.loads(line) for line in lines) and len(lines) == 22, "the torn line is gone; 6 records appended")

        # The key is nowhere in the outputs or logs.
        leaked = [p for p in os.listdir(out) if KEY in open(os.path.join(out, p), errors="replace").read()]
        check(not leaked and KEY not in r.stderr + r.stdout + r2.stderr + r2.stdout, f"the API key leaks nowhere {leaked}")

        # No key and a non-loopback URL: refused before any request.
        env_nokey = {k: v for k, v in os.environ.items() if k != "OPENROUTER_API_KEY"}
        r3 = subprocess.run([SAEDIFF, "collect", "--prompts", prompts, "--model", "a=x", "--out",
                             os.path.join(work, "nokey"), "--base-url", "https://openrouter.ai/api/v1"],
                            env=env_nokey, capture_output=True, text=True)
        check(r3.returncode != 0 and "no API key: set OPENROUTER_API_KEY" in r3.stderr, "a missing key is a clear error")
        r4 = subprocess.run(cmd[:-1] + ["64", "--model", "bad name=x"], env=env, capture_output=True, text=True)
        check(r4.returncode != 0 and "NAME=ID" in r4.stderr, "a malformed --model is a clear error")

        # The whole job with collection: `saediff run` under mpirun, collect -> encode -> diff.
        job = os.path.join(work, "job")
        toml = os.path.join(work, "job.toml")
        with open(toml, "w") as f:
            f.write(f'''demo-model = true
demo-tokenizer = "{os.environ['SAEDIFF_TOKENIZER_JSON']}"
demo-d-sae = 1024
[collect]
prompts = "{prompts}"
model = ["a=vendor/model-a", "b=vendor/model-b"]
base-url = "{base}"
concurrency = 4
max-attempts = 2
retry-base = 0.05
timeout = 2
[encode]
layer = 1
threads = 1
[diff]
baseline = "a"
candidate = "b"
''')
        r5 = subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "2", SAEDIFF,
                             "run", "--config", toml, "--out", job], env=env, capture_output=True, text=True)
        check(r5.returncode == 3, f"run with collection exits 3 when pairs failed (got {r5.returncode}: {r5.stderr[-400:]})")
        check(os.path.exists(os.path.join(job, "responses", "responses.jsonl")), "run collected into OUT/responses")
        report = open(os.path.join(job, "report", "report.md"), encoding="utf-8").read()
        check("- Failed to collect, a: bad, apierr, slow" in report and "- Failed to collect, b: bad, apierr, slow" in report,
              "the report lists the failed responses of each set")
        summary = json.load(open(os.path.join(job, "report", "summary.json")))
        check(summary["baseline"]["n_docs"] == 5 and summary["baseline"]["n_failed"] == 3,
              "5 documents encoded and 3 failures counted per set")
        check(summary["baseline"]["n_truncated"] == 1 and "- Cut by max_tokens, a: trunc" in report
              and "- Cut by max_tokens, b: trunc" in report,
              "the truncated answer (finish_reason length) is counted and listed in the report")
        leaked = []
        for root, _, files in os.walk(job):
            for name in files:
                if KEY.encode() in open(os.path.join(root, name), "rb").read():
                    leaked.append(os.path.join(root, name))
        check(not leaked and KEY not in r5.stderr + r5.stdout, f"the key is in no file of the job (HDF5 included) {leaked}")
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1])
