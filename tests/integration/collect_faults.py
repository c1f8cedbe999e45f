#!/usr/bin/env python3
"""`saediff collect` under faults, against the loopback server (tests/reference/mock_openrouter.py).

  collect_faults.py WORKDIR

1. Kill -9 mid-run, then resume (a 429 with an HTTP-date Retry-After among the pairs): every (set, prompt) pair ends with exactly one successful record, the
   answers (combining marks, ZWJ emoji, CJK, RTL, U+FFFD, CR/LF) byte-exact, never more requests in flight
   than --concurrency, HTML 502/503 bodies, truncated JSON and cut-off bodies retried to success, the
   truncated answer (finish_reason "length") counted, tokens and cost summed per set, the key nowhere.
2. SIGTERM mid-run: exits 143 soon, every line of responses.jsonl whole, the summary says so; a resume
   finishes the rest.
3. A 401: the run stops at once with a clear message, one request for it, no retries. A 403 (moderation)
   and a 400 with a body that is not UTF-8 fail their own pair only.
4. --rpm spaces the requests; --api-key-file, --reasoning and --extra-body reach the server; a progress
   bar on a terminal; no key in debug logs. A server that echoes the key (400 and 500 bodies, a header, an
   answer): the key is in no stored file and no log line. A 5 MiB answer fails its pair under the default
   --max-response-bytes, unretried and unstored; an empty 200 body says so.
5. The study config (configs/gemini_flash.toml with configs/prompts/gemini_flash.csv) collects every pair
   from the loopback server with its model ids, temperature, max_tokens and reasoning settings."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["SAEDIFF_SOURCE_DIR"], "tests", "reference"))
from mock_openrouter import launch  # noqa: E402

SRC = os.environ["SAEDIFF_SOURCE_DIR"]
SAEDIFF = os.environ["SAEDIFF"]
KEY = "sk-or-v1-FAULTS-secret-key-9876543210"
UNICODE_ANSWER = "e\u0301 cafe\u0301 👩\u200d💻 🇫🇷 你好 مرحبا שָׁלוֹם \ufffd \U0001d54f 'LL\r\n\t« » —"
failures = []
passed = [0]


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg, flush=True)
    if cond:
        passed[0] += 1
    else:
        failures.append(msg)


def write_prompts(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "category", "prompt"])
        w.writerows(rows)


def records(out):
    with open(os.path.join(out, "responses.jsonl"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    whole = [json.loads(l) for l in lines[:-1]]
    return whole, lines[-1]  # the last element is "" when the file ends with a newline


def requests(log):
    with open(log) as f:
        return [json.loads(line) for line in f]


def wait_lines(path, n, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path) and open(path, "rb").read().count(b"\n") >= n:
            return True
        time.sleep(0.02)
    return False


def main(work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = dict(os.environ, OPENROUTER_API_KEY=KEY)
    server, base, log = launch(work, 0.05)
    slow_server, slow_base, slow_log = launch(work, 0.3)
    try:
        # 1. kill -9 and resume.
        prompts = os.path.join(work, "prompts.csv")
        rows = [[f"u{i:02d}", "unicode", f"[unicode] question {i}\nline two"] for i in range(40)]
        rows += [["h502", "faults", "gateway [html502]"], ["h503", "faults", "busy [html503]"],
                 ["tj", "faults", "half [truncjson]"], ["cut", "faults", "short [cutoff]"],
                 ["len", "faults", "long [length]"], ["rd", "faults", "later [ratedate]"]]
        write_prompts(prompts, rows)
        out = os.path.join(work, "out")
        cmd = [SAEDIFF, "collect", "--prompts", prompts, "--model", "a=vendor/a", "--model", "b=vendor/b",
               "--out", out, "--base-url", base, "--concurrency", "3", "--max-attempts", "4", "--retry-base", "0.05",
               "--timeout", "10", "--progress-interval", "0.5"]
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        got = wait_lines(os.path.join(out, "responses.jsonl"), 15, 60)
        p.send_signal(signal.SIGKILL)
        _, err1 = p.communicate()
        recs_killed, _ = records(out)
        # The killed client's requests are still being answered (0.05 s latency): let them finish, so that the
        # in-flight count below sees the resumed client alone.
        time.sleep(0.5)
        check(got and p.returncode == -9 and 15 <= len(recs_killed) < 92,
              f"killed with -9 after {len(recs_killed)} of 92 records")
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        check(r.returncode == 0, f"the resume finishes every pair (exit {r.returncode}: {r.stderr[-300:]})")
        recs, tail = records(out)
        ok = [x for x in recs if x["response"] is not None]
        pairs = [(x["set"], x["prompt_id"]) for x in ok]
        check(tail == "" and len(pairs) == 92 and len(set(pairs)) == 92,
              f"every pair recorded exactly once: {len(pairs)} successful records, {len(set(pairs))} distinct")
        by = {(x["set"], x["prompt_id"]): x for x in ok}
        exact = all(by[(s, f"u{i:02d}")]["response"] == UNICODE_ANSWER + " " + f"[unicode] question {i}\nline two"
                    for s in "ab" for i in range(40))
        check(exact, "Unicode answers are byte-exact")
        check(all(by[(s, k)]["attempts"] >= 2 for s in "ab" for k in ("h502", "h503", "tj", "cut")),
              "HTML 502/503, truncated JSON and a cut-off body are retried to success")
        reqs = requests(log)
        later = sorted(q["arrived"] for q in reqs if q["model"] == "vendor/a" and "[ratedate]" in q["prompt"])
        check(len(later) >= 2 and later[1] - later[0] >= 1.0,
              f"a 429 with an HTTP-date Retry-After waits until then ({later[1] - later[0]:.2f} s)" if len(later) >= 2
              else "a 429 with an HTTP-date Retry-After is retried")
        check(max(q["in_flight"] for q in reqs) <= 3, f"never more than --concurrency 3 in flight "
              f"(max seen {max(q['in_flight'] for q in reqs)})")
        check(all(q["authorization"] == f"Bearer {KEY}" for q in reqs), "every request carries the key")
        summary = json.load(open(os.path.join(out, "collect_summary.json")))
        sa = summary["sets"]["a"]
        check(sa["truncated"] >= 1 and sa["cost"] > 0 and sa["completion_tokens"] > 0 and sa["reasoning_tokens"] > 0,
              f"the summary counts truncations, tokens, reasoning tokens and cost per set: {sa}")
        check("truncated (finish_reason length)" in r.stderr and "cost" in r.stderr, "the run's last lines say so too")
        leaked = [n for n in os.listdir(out) if KEY in open(os.path.join(out, n), errors="replace").read()]
        check(not leaked and KEY not in err1 + r.stderr + r.stdout, f"the key is in no output and no log {leaked}")

        # 2. SIGTERM: a clean stop, then a resume.
        out2 = os.path.join(work, "out-term")
        write_prompts(prompts, [[f"t{i:02d}", "plain", f"term {i}"] for i in range(30)])
        cmd2 = [SAEDIFF, "collect", "--prompts", prompts, "--model", "a=vendor/a", "--out", out2, "--base-url",
                slow_base, "--concurrency", "2"]
        p = subprocess.Popen(cmd2, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_lines(os.path.join(out2, "responses.jsonl"), 3, 30)
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        _, err2 = p.communicate(timeout=30)
        stopped_in = time.time() - t0
        recs2, tail2 = records(out2)
        check(p.returncode == 143 and stopped_in < 5, f"SIGTERM: exit 143 in {stopped_in:.1f} s (got {p.returncode})")
        check(tail2 == "" and 3 <= len(recs2) < 30, f"every line whole after SIGTERM ({len(recs2)} records)")
        s2 = json.load(open(os.path.join(out2, "collect_summary.json")))
        check(s2["interrupted_by_signal"] == 15 and "run the same command again to resume" in err2,
              "the summary and the log say it was interrupted")
        with open(os.path.join(out2, "responses.jsonl"), "rb+") as f:  # a last line without its newline
            f.truncate(os.path.getsize(os.path.join(out2, "responses.jsonl")) - 1)
        r = subprocess.run(cmd2, env=env, capture_output=True, text=True)
        recs2, _ = records(out2)
        check(r.returncode == 0 and len({x["prompt_id"] for x in recs2}) == 30 and len(recs2) == 30,
              f"the resume completes the other pairs, each once ({len(recs2)} records)")

        # 3. 401: stop at once.
        out3 = os.path.join(work, "out-401")
        write_prompts(prompts, [["x", "auth", "who [unauth]"]] + [[f"n{i}", "plain", f"n {i}"] for i in range(20)])
        n_before = len(requests(slow_log))
        r = subprocess.run([SAEDIFF, "collect", "--prompts", prompts, "--model", "a=vendor/a", "--out", out3,
                            "--base-url", slow_base, "--concurrency", "1"], env=env, capture_output=True, text=True)
        after = requests(slow_log)[n_before:]
        check(r.returncode == 1 and "the API refused the key (HTTP 401" in r.stderr,
              f"a 401 stops the run with a clear message (exit {r.returncode})")
        check(sum("[unauth]" in q["prompt"] for q in after) == 1 and len(after) <= 2,
              f"no retry and nothing more requested after a 401 ({len(after)} requests)")
        check(KEY not in r.stderr, "the refused key is not printed")

        # 3b. 403 (moderation) and a 400 whose body is not UTF-8 fail their own pair only, without retries.
        out3b = os.path.join(work, "out-403")
        write_prompts(prompts, [["f", "mod", "edgy [flagged]"], ["bb", "enc", "odd [badbody]"], ["fine", "plain", "ok"]])
        n_before = len(requests(log))
        r = subprocess.run([SAEDIFF, "collect", "--prompts", prompts, "--model", "a=vendor/a", "--out", out3b,
                            "--base-url", base], env=env, capture_output=True, text=True)
        after = requests(log)[n_before:]
        recs3b, _ = records(out3b)
        by3b = {x["prompt_id"]: x for x in recs3b}
        check(r.returncode == 3 and len(after) == 3 and by3b["fine"]["response"] is not None,
              f"403 and 400 fail their pair at once and the run goes on (exit {r.returncode}, {len(after)} requests)")
        check("HTTP 403" in by3b["f"]["error"] and "\ufffd" in by3b["bb"]["error"],
              "a body that is not UTF-8 is recorded with U+FFFD, not a crash")

        # 4. --rpm, --api-key-file, --reasoning, --extra-body.
        out4 = os.path.join(work, "out-rpm")
        write_prompts(prompts, [[f"r{i}", "plain", f"rate {i}"] for i in range(8)])
        key_file = os.path.join(work, "key.txt")
        with open(key_file, "w") as f:
            f.write(KEY + "\n")
        n_before = len(requests(log))
        env_nokey = {k: v for k, v in os.environ.items() if k != "OPENROUTER_API_KEY"}
        r = subprocess.run([SAEDIFF, "collect", "--prompts", prompts, "--model", "a=vendor/a", "--out", out4,
                            "--base-url", base, "--concurrency", "8", "--rpm", "300", "--api-key-file", key_file,
                            "--reasoning", '{"max_tokens": 512, "exclude": true}',
                            "--extra-body", '{"usage": {"include": true}}'], env=env_nokey, capture_output=True, text=True)
        after = sorted(requests(log)[n_before:], key=lambda q: q["arrived"])
        span = after[-1]["arrived"] - after[0]["arrived"] if after else 0
        check(r.returncode == 0 and len(after) == 8 and span >= 7 * 0.2 * 0.9,
              f"--rpm 300 spaces 8 requests over >= 1.26 s (took {span:.2f} s)")
        check(all(q["authorization"] == f"Bearer {KEY}" for q in after), "--api-key-file supplies the key")
        # On a terminal (a pty made by script(1)) progress is a bar redrawn in place; debug logging leaks no key.
        out_tty = os.path.join(work, "out-tty")
        inner = " ".join(f"'{a}'" for a in [SAEDIFF, "collect", "--prompts", prompts, "--model", "a=vendor/a",
                                              "--out", out_tty, "--base-url", base, "--retry-base", "0.01"])
        r = subprocess.run(["script", "-qec", inner, "/dev/null"], env=dict(env, SAEDIFF_LOG_LEVEL="debug"),
                           capture_output=True, text=True)
        check(r.returncode == 0 and "\x1b[K" in r.stdout and "8/8 pairs (100%)" in r.stdout and "#" * 30 in r.stdout,
              f"a progress bar on a terminal (exit {r.returncode}: {r.stdout[-300:]!r})")
        check(KEY not in r.stdout + r.stderr and "resolved config" in r.stdout, "debug logging prints no key")
        check(all(q["reasoning"] == {"max_tokens": 512, "exclude": True} and q["usage"] == {"include": True}
                  for q in after), "--reasoning and --extra-body reach the request body")
        bad = subprocess.run([SAEDIFF, "collect", "--prompts", prompts, "--model", "a=vendor/a", "--out", out4,
                              "--base-url", base, "--reasoning", "[1, 2]"], env=env, capture_output=True, text=True)
        check(bad.returncode != 0 and "--reasoning must be a JSON object" in bad.stderr, "a bad --reasoning is a clear error")
        plain = subprocess.run([SAEDIFF, "collect", "--prompts", prompts, "--model", "a=vendor/a", "--out", out4,
                                "--base-url", "http://api.example.com/v1"], env=env, capture_output=True, text=True)
        check(plain.returncode != 0 and "is not https" in plain.stderr, "a plain-http API URL is refused (the key)")
        latin1 = os.path.join(work, "latin1.csv")
        with open(latin1, "wb") as f:
            f.write(b"id,category,prompt\nx,c,caf\xe9\n")
        bad = subprocess.run([SAEDIFF, "collect", "--prompts", latin1, "--model", "a=vendor/a", "--out", out4,
                              "--base-url", base], env=env, capture_output=True, text=True)
        check(bad.returncode != 0 and "is not UTF-8" in bad.stderr, "a prompt CSV that is not UTF-8 is a clear error")

        # 4b. A server that echoes the key (a 400 body, a 500 body, a header, an answer): it is in no stored file
        # and no log line, debug included; error bodies keep their text with the key as [redacted].
        out4b = os.path.join(work, "out-echo")
        write_prompts(prompts, [["e400", "echo", "x [echokey400]"], ["e500", "echo", "x [echokey500]"],
                                ["ehdr", "echo", "x [echokeyheader]"], ["e200", "echo", "x [echokey200]"]])
        r = subprocess.run([SAEDIFF, "collect", "--prompts", prompts, "--model", "a=vendor/a", "--out", out4b,
                            "--base-url", base, "--max-attempts", "2", "--retry-base", "0.01"],
                           env=dict(env, SAEDIFF_LOG_LEVEL="debug"), capture_output=True, text=True)
        recs4b = {x["prompt_id"]: x for x in records(out4b)[0]}
        stored = "".join(open(os.path.join(out4b, f), encoding="utf-8", errors="replace").read()
                         for f in sorted(os.listdir(out4b)) if os.path.isfile(os.path.join(out4b, f)))
        check(r.returncode == 3 and len(recs4b) == 4 and recs4b["e200"]["response"] is not None,
              f"the echoing server's pairs are recorded (exit {r.returncode}: {r.stderr[-300:]})")
        check(KEY not in stored and KEY not in r.stdout + r.stderr,
              f"an echoed key is in no file of {sorted(os.listdir(out4b))} and in no log line")
        check("[redacted]" in (recs4b["e400"]["error"] or "") and "[redacted]" in (recs4b["e500"]["error"] or "")
              and "invalid request from Bearer [redacted]" in recs4b["e400"]["error"],
              f"error bodies are kept with the key redacted: {recs4b['e400']['error']!r}")
        check(recs4b["e200"]["response"] == "the bearer of your key: [redacted]",
              f"an answer loses the key only: {recs4b['e200']['response']!r}")

        # 4c. A 5 MiB answer fails its pair at once with --max-response-bytes' default (4 MiB), stored nowhere; a
        # larger limit takes it. An empty 200 body says so.
        out4c = os.path.join(work, "out-huge")
        write_prompts(prompts, [["huge", "big", "x [huge]"], ["empty", "big", "x [emptybody]"], ["fine", "plain", "ok"]])
        n_before = len(requests(log))
        r = subprocess.run([SAEDIFF, "collect", "--prompts", prompts, "--model", "a=vendor/a", "--out", out4c,
                            "--base-url", base, "--max-attempts", "2", "--retry-base", "0.01"], env=env,
                           capture_output=True, text=True)
        after = requests(log)[n_before:]
        recs4c = {x["prompt_id"]: x for x in records(out4c)[0]}
        size4c = sum(os.path.getsize(os.path.join(out4c, f)) for f in os.listdir(out4c))
        check(r.returncode == 3 and "larger than --max-response-bytes (4194304 bytes)" in (recs4c["huge"]["error"] or "")
              and sum("[huge]" in q["prompt"] for q in after) == 1 and size4c < 100000,
              f"a 5 MiB answer fails its pair, not retried, not stored ({size4c} bytes in {out4c}): {recs4c['huge']['error']!r}")
        check("empty body" in (recs4c["empty"]["error"] or "") and recs4c["fine"]["response"] is not None,
              f"an empty 200 body says so: {recs4c['empty']['error']!r}")
        out4d = os.path.join(work, "out-huge-allowed")
        r = subprocess.run([SAEDIFF, "collect", "--prompts", prompts, "--model", "a=vendor/a", "--out", out4d,
                            "--base-url", base, "--max-attempts", "1", "--max-response-bytes", "8000000"], env=env,
                           capture_output=True, text=True)
        recs4d = {x["prompt_id"]: x for x in records(out4d)[0]}
        check(len(recs4d["huge"]["response"] or "") == 5 << 20, "--max-response-bytes 8000000 takes the 5 MiB answer")

        # 5. The study config, end to end against the loopback server.
        out5 = os.path.join(work, "out-study")
        study_csv = os.path.join(SRC, "configs", "prompts", "gemini_flash.csv")
        with open(study_csv, newline="", encoding="utf-8") as f:
            study = list(csv.DictReader(f))
        n_before = len(requests(log))
        r = subprocess.run([SAEDIFF, "collect", "--config", os.path.join(SRC, "configs", "gemini_flash.toml"),
                            "--base-url", base, "--out", out5, "--concurrency", "32"], env=env, capture_output=True,
                           text=True)
        after = requests(log)[n_before:]
        recs5, _ = records(out5)
        check(r.returncode == 0 and len(recs5) == 2 * len(study) and all(x["response"] for x in recs5),
              f"the study config collects all {2 * len(study)} pairs (exit {r.returncode}: {r.stderr[-300:]})")
        check({q["model"] for q in after} == {"google/gemini-2.0-flash-001", "google/gemini-2.5-flash"}
              and all(q["temperature"] == 1.0 and q["max_tokens"] == 4096 for q in after)
              and all(q["reasoning"] == {"max_tokens": 1024, "exclude": True} and q["usage"] == {"include": True}
                      for q in after), "the study's models, sampling and reasoning settings are sent")
        sent = {q["prompt"] for q in after}
        check(all(p["prompt"] in sent for p in study), "every study prompt (multi-line ones too) is sent verbatim")
    finally:
        for s in (server, slow_server):
            s.terminate()
            s.wait(timeout=10)
    print(f"{passed[0]} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1])
