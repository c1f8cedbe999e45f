#!/usr/bin/env python3
"""`saediff interpret` against the loopback server (tests/reference/mock_openrouter.py), on the planted demo run.

  interpret_loopback.py DEMO_RUN_DIR RESPONSES.jsonl WORK_DIR

The mock proposer turns the marked tokens of each shown feature into a hypothesis ("uses "might" or "perhaps" more
often"); the mock judge counts those words in answers A and B. Checked here, against independent Python:
  - the split: disjoint, complete, stratified by category, seeded; the proposer sees discovery data only (the
    frequencies it is shown are recounted with h5py on the discovery rows) and the judge held-out pairs only;
  - the statistics: outcomes recomputed from the answers by the judge's rule, wins and ties, Wilson intervals
    (statsmodels), the sign test (scipy), BH within each source (statsmodels);
  - a planted difference (hedging up, apologies down in `verbose`) is verified, in the right direction;
  - a judge that always answers "A" verifies nothing; a coin-flip judge verifies at most alpha of the hypotheses
    over many seeds;
  - a run killed with SIGKILL resumes without repeating a recorded request, and ends as an uninterrupted run does;
  - the key reaches the server and no output or log;
  - a proposer answer without JSON is reported (exit 3), bad inputs are clear errors that write nothing;
  - diff --findings and `run --stages interpret` lead the report with the verified findings."""
import collections
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

SRC = os.environ["SAEDIFF_SOURCE_DIR"]
SAEDIFF = os.environ["SAEDIFF"]
sys.path.insert(0, os.path.join(SRC, "tests", "reference"))
import mock_openrouter  # noqa: E402

KEY = "sk-or-v1-SECRET-interpret-key-7"
ALPHA = 0.05
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def interpret_args(run, responses, out, base_url, judge="mock/lexicon", proposer="mock/proposer", seed=1, *extra):
    return [SAEDIFF, "interpret", "--encoded", f"{run}/encoded.h5", "--report", f"{run}/report", "--responses", responses,
            "--out", out, "--proposer", proposer, "--judge", judge, "--base-url", base_url, "--seed", str(seed),
            "--retry-base", "0", *extra]


def saediff(args, env=None):
    p = subprocess.run(args, capture_output=True, text=True, env=env)
    return p.returncode, p.stdout + p.stderr


def load_requests(log):
    if not os.path.exists(log):
        return []
    return [json.loads(line) for line in open(log, encoding="utf-8") if line.strip()]


def latest_answers(path):
    """prompt_id -> latest successful answer, from a collector folder's responses.jsonl."""
    out = {}
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line (the run was killed)
            if r.get("response") is not None:
                out[r["prompt_id"]] = r["response"]
    return out


def discovery_counts(run, set_name, rows, feature, threshold):
    with h5py.File(f"{run}/encoded.h5", "r") as f:
        g = f[f"sets/{set_name}/max"]
        indptr, indices, values = g["indptr"][()], g["indices"][()], g["values"][()]
    k = 0
    for r in rows:
        idx = indices[indptr[r]:indptr[r + 1]]
        val = values[indptr[r]:indptr[r + 1]]
        hit = val[idx == feature]
        k += int(hit.size > 0 and hit[0] > threshold)
    return k


def check_statistics(findings, answers_by_set):
    """Outcomes by the mock judge's own rule from the held-out answers, then every statistic, independently."""
    pairs = findings["split"]["held_out_pairs"]
    base, cand = findings["baseline"]["set"], findings["candidate"]["set"]
    ok = True
    for h in findings["hypotheses"]:
        words = mock_openrouter.quoted_words(h["text"])
        sign = -1 if " less often" in h["text"] else 1
        expect = []
        for pid in pairs:
            c = sign * mock_openrouter.count_words(words, answers_by_set[cand][pid][:6000])
            b = sign * mock_openrouter.count_words(words, answers_by_set[base][pid][:6000])
            expect.append("candidate" if c > b else "baseline" if b > c else "tie")
        if expect != h["outcomes"]:
            ok = False
            print(f"  {h['id']}: outcomes differ from the judge's rule", file=sys.stderr)
        wc, wb = expect.count("candidate"), expect.count("baseline")
        n = wc + wb
        lo, hi = proportion_confint(wc, n, alpha=0.05, method="wilson") if n else (0.0, 1.0)
        p = binomtest(wc, n, 0.5).pvalue if n else 1.0
        if (h["wins_candidate"], h["wins_baseline"], h["ties"], h["n_pairs"]) != (wc, wb, len(pairs) - n, len(pairs)):
            ok = False
            print(f"  {h['id']}: counts {h['wins_candidate']}/{h['wins_baseline']}/{h['ties']} vs {wc}/{wb}", file=sys.stderr)
        if abs(h["ci_low"] - lo) > 1e-9 or abs(h["ci_high"] - hi) > 1e-9 or abs(h["p"] - p) > 1e-9 * max(p, 1e-300):
            ok = False
            print(f"  {h['id']}: CI/p {h['ci_low']},{h['ci_high']},{h['p']} vs {lo},{hi},{p}", file=sys.stderr)
    for source in ("sae", "baseline"):
        hs = [h for h in findings["hypotheses"] if h["source"] == source]
        if not hs:
            continue
        q = multipletests([h["p"] for h in hs], method="fdr_bh")[1]
        for h, qq in zip(hs, q):
            verified = qq < ALPHA and h["wins_candidate"] > h["wins_baseline"]
            if abs(h["q"] - qq) > 1e-9 or h["verified"] != verified:
                ok = False
                print(f"  {h['id']}: q {h['q']} vs {qq}, verified {h['verified']} vs {verified}", file=sys.stderr)
    return ok


def main(run, responses, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    records = [json.loads(line) for line in open(responses, encoding="utf-8") if line.strip()]
    answers_by_set = collections.defaultdict(dict)
    category = {}
    for r in records:
        category[r["prompt_id"]] = r["category"]
        if r.get("response") is not None:
            answers_by_set[r["set"]][r["prompt_id"]] = r["response"]
    prompt_of = {r["prompt_id"]: r["prompt"] for r in records}
    summary = json.load(open(f"{run}/report/summary.json"))
    threshold = summary["threshold"]
    server, base_url, log = mock_openrouter.launch(work, lifetime=900)
    env = dict(os.environ, OPENROUTER_API_KEY=KEY)
    try:
        # --- a real run (lexicon judge) ---
        out1 = f"{work}/seed1"
        rc, text = saediff(interpret_args(run, responses, out1, base_url), env)
        check(rc == 0, f"interpret exits 0 ({rc}): {text[-600:]}")
        findings = json.load(open(f"{out1}/findings.json", encoding="utf-8"))
        split = findings["split"]
        disc, held = set(split["discovery"]), set(split["held_out"])
        check(not disc & held and disc | held == set(category), "the split is disjoint and covers every prompt")
        by_cat = collections.Counter(category.values())
        held_cat = collections.Counter(category[p] for p in held)
        check(all(held_cat[c] == max(1, min(n - 1, int(n * 0.5 + 0.5))) for c, n in by_cat.items() if n >= 2),
              f"held out: half of each category, at least one each way ({dict(held_cat)} of {dict(by_cat)})")
        check(split["held_out_pairs"] == sorted(p for p in held if p in answers_by_set["terse"] and p in answers_by_set["verbose"]),
              "held-out pairs: the held-out prompts both sets answered")
        reqs = load_requests(log)
        check(all(r["authorization"] == f"Bearer {KEY}" for r in reqs), "every request carried the key")
        judge_reqs = [r for r in reqs if r["prompt"].startswith("[saediff-interpret judge]")]
        sae_req = [r for r in reqs if r["prompt"].startswith("[saediff-interpret propose-sae]")]
        base_req = [r for r in reqs if r["prompt"].startswith("[saediff-interpret propose-baseline]")]
        check(len(sae_req) == 1 and len(base_req) == 1, "one proposer request per source")
        held_prompts = {prompt_of[p] for p in split["held_out_pairs"]}
        judged_prompts = {r["prompt"].split("\n## Prompt\n", 1)[1].split("\n\n## Answer A\n", 1)[0] for r in judge_reqs}
        check(judged_prompts == held_prompts, f"the judge saw exactly the held-out pairs ({len(judged_prompts)} prompts)")
        n_h = len(findings["hypotheses"])
        n_texts = len({h["text"] for h in findings["hypotheses"]})
        check(len(judge_reqs) == 2 * n_texts * len(split["held_out_pairs"]) and len({r["prompt"] for r in judge_reqs}) == len(judge_reqs),
              f"each pair judged once in both orders per distinct hypothesis ({len(judge_reqs)} requests, {n_h} hypotheses)")
        shown_pairs = re.findall(r"\nPrompt: (.*)\n--- baseline answer ---", base_req[0]["prompt"])
        check(shown_pairs and all(p in {prompt_of[d] for d in disc} for p in shown_pairs),
              f"the baseline proposer saw discovery pairs only ({len(shown_pairs)})")
        # The frequencies the SAE proposer was shown are the discovery rows' counts, recounted here.
        with h5py.File(f"{run}/encoded.h5", "r") as f:
            doc_ids = {s: [x.decode() if isinstance(x, bytes) else x for x in f[f"sets/{s}/doc_id"][()]] for s in ("terse", "verbose")}
        rows = {s: [i for i, d in enumerate(doc_ids[s]) if d in disc] for s in doc_ids}
        blocks = re.findall(r"=== feature (\d+) ===\n.*?\nfires in [0-9.]+% of candidate answers \((\d+) of (\d+)\) and "
                            r"[0-9.]+% of baseline answers \((\d+) of (\d+)\)", sae_req[0]["prompt"], flags=re.S)
        good = bool(blocks)
        for fid, kc, nc, kb, nb in blocks:
            want = (discovery_counts(run, "verbose", rows["verbose"], int(fid), threshold), len(rows["verbose"]),
                    discovery_counts(run, "terse", rows["terse"], int(fid), threshold), len(rows["terse"]))
            good = good and (int(kc), int(nc), int(kb), int(nb)) == want
        check(good, f"the SAE proposer's {len(blocks)} features carry discovery-only counts (recounted with h5py)")
        check(check_statistics(findings, answers_by_set), "outcomes, wins, Wilson CIs, sign tests and BH q match Python")
        sae = [h for h in findings["hypotheses"] if h["source"] == "sae"]
        hedging = [h for h in sae if {"might", "perhaps", "however"} & set(mock_openrouter.quoted_words(h["text"]))]
        check(any(h["verified"] and h["share"] > 0.5 for h in hedging),
              "the planted hedging difference is verified, more in verbose: " + "; ".join(h["text"] for h in hedging))
        apology = [h for h in sae if " less often" in h["text"] and
                   any(w.startswith(("sorry", "apolog")) for w in mock_openrouter.quoted_words(h["text"]))]
        check(any(h["verified"] for h in apology), "the planted apology difference (fewer in verbose) is verified: " +
              "; ".join(h["text"] for h in apology))
        check(all(h["features"] for h in sae) and all(not h["features"] for h in findings["hypotheses"] if h["source"] == "baseline"),
              "SAE hypotheses name their features; baseline ones none")
        check(all(len(h["examples"]) == 2 for h in findings["hypotheses"]), "two held-out example pairs per hypothesis")
        check(findings["models"] == {"proposer": "mock/proposer", "judge": "mock/lexicon"}, "findings.json names the models")
        check(findings["comparison"]["sae"]["n_verified"] == sum(h["verified"] for h in sae), "the comparison counts the verified")
        usage = findings["usage"]
        check(usage["requests"] == len(reqs) and usage["cost"] == 0.25 * len(reqs), f"usage: requests and cost ({usage})")
        leaked = [os.path.join(d, n) for d, _, files in os.walk(out1) for n in files
                  if KEY.encode() in open(os.path.join(d, n), "rb").read()]
        check(not leaked and KEY not in text, f"the key is in no output and not in the log ({leaked})")

        # --- a second run on the same folder requests nothing ---
        n_before = len(load_requests(log))
        rc, _ = saediff(interpret_args(run, responses, out1, base_url), env)
        check(rc == 0 and len(load_requests(log)) == n_before, "a second run resumes everything: no request")

        # --- the same folder, another seed: only the new questions are asked, and the result is a fresh run's ---
        def ids_of(folder, name):
            with open(f"{folder}/requests/{name}/prompts.csv", newline="", encoding="utf-8") as f:
                return {r["id"] for r in csv.DictReader(f)}
        fresh = f"{work}/seed3"
        rc, _ = saediff(interpret_args(run, responses, fresh, base_url, "mock/lexicon", "mock/proposer", 3), env)
        asked3 = ids_of(fresh, "proposer") | ids_of(fresh, "judge")
        recorded1 = set(latest_answers(f"{out1}/requests/proposer/responses.jsonl")) | set(latest_answers(f"{out1}/requests/judge/responses.jsonl"))
        n_before = len(load_requests(log))
        rc2, _ = saediff(interpret_args(run, responses, out1, base_url, "mock/lexicon", "mock/proposer", 3), env)
        again = json.load(open(f"{out1}/findings.json"))
        n_new = len(load_requests(log)) - n_before
        check(rc == rc2 == 0 and n_new == len(asked3 - recorded1) and 0 < n_new < len(asked3)
              and again["hypotheses"] == json.load(open(f"{fresh}/findings.json"))["hypotheses"],
              f"a folder rerun with another seed asks only what it had not asked ({n_new} of {len(asked3)}) and ends as a fresh run")
        rc, _ = saediff(interpret_args(run, responses, out1, base_url), env)  # back to seed 1 (nothing new to ask)

        # --- the report leads with the findings ---
        rep = f"{work}/report"
        rc, text = saediff([SAEDIFF, "diff", "--encoded", f"{run}/encoded.h5", "--baseline", "terse", "--candidate", "verbose",
                            "--labels", f"{run}/demo-model/labels.json", "--findings", f"{out1}/findings.json", "--out", rep])
        check(rc == 0, f"diff --findings exits 0 ({rc}): {text[-300:]}")
        md = open(f"{rep}/report.md", encoding="utf-8").read()
        html = open(f"{rep}/report.html", encoding="utf-8").read()
        check(0 <= md.find("## Verified findings") < md.find("## Key findings"), "report.md: Verified findings come first")
        check(html.find("Verified findings") < html.find("Key findings") and "Verified findings" in html, "report.html too")
        ver = [h for h in findings["hypotheses"] if h["verified"]]
        plain = [h for h in findings["hypotheses"] if re.fullmatch(r"[\w\s'\".]+", h["text"])]
        check(md.count("### Finding ") == len(ver) and all(h["text"] in md for h in plain) and
              ("**Not verified**" in md) == any(not h["verified"] for h in findings["hypotheses"]),
              f"report.md shows each verified finding with its pairs, and those not verified ({len(ver)} verified)")
        stale = json.load(open(f"{out1}/findings.json"))
        stale["encoded_fingerprint"] = "0" * 16 + "-" + "0" * 16
        with open(f"{work}/stale.json", "w") as f:
            json.dump(stale, f)
        rc, text = saediff([SAEDIFF, "diff", "--encoded", f"{run}/encoded.h5", "--baseline", "terse", "--candidate", "verbose",
                            "--findings", f"{work}/stale.json", "--out", f"{work}/stale-report"])
        check(rc == 1 and "made from other data" in text and not os.path.exists(f"{work}/stale-report"),
              "diff --findings refuses findings made from other data")
        rep_summary = json.load(open(f"{rep}/summary.json"))
        check(rep_summary["verified_findings"]["n_verified"] == len(ver), "summary.json counts the verified findings")

        # --- a judge that always says "A" verifies nothing ---
        rc, _ = saediff(interpret_args(run, responses, f"{work}/always-a", base_url, "mock/always-a"), env)
        fa = json.load(open(f"{work}/always-a/findings.json"))
        check(rc == 0 and fa["hypotheses"] and not any(h["verified"] for h in fa["hypotheses"])
              and all(h["ties"] == h["n_pairs"] > 0 for h in fa["hypotheses"]),
              "an always-A judge: every pair a tie, nothing verified")

        # --- a coin-flip judge, many seeds ---
        total = verified = 0
        for seed in range(1, 13):
            out = f"{work}/coin-{seed}"
            rc, text = saediff(interpret_args(run, responses, out, base_url, "mock/coin", "mock/proposer", seed), env)
            if rc != 0:
                check(False, f"coin seed {seed}: rc {rc}: {text[-300:]}")
                break
            fc = json.load(open(f"{out}/findings.json"))
            total += len(fc["hypotheses"])
            verified += sum(h["verified"] for h in fc["hypotheses"])
            shutil.rmtree(out)
        check(total > 0 and verified <= ALPHA * total, f"a coin-flip judge verifies {verified} of {total} hypotheses over 12 seeds (<= alpha)")

        # --- killed and resumed ---
        slow_server, slow_url, slow_log = mock_openrouter.launch(work, latency=0.01, lifetime=900)
        try:
            out_k = f"{work}/killed"
            p = subprocess.Popen(interpret_args(run, responses, out_k, slow_url, "mock/lexicon", "mock/proposer", 1,
                                                "--concurrency", "2"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.time() + 120
            while time.time() < deadline and len(load_requests(slow_log)) < 150 and p.poll() is None:
                time.sleep(0.05)
            p.send_signal(signal.SIGKILL)
            p.wait()
            # Requests in flight at the kill are logged by the server when it finishes them: wait until the log
            # stops growing, so that they are not taken for the resumed run's.
            stable, last = 0, -1
            while stable < 3:
                time.sleep(0.2)
                n = len(load_requests(slow_log))
                stable, last = (stable + 1, n) if n == last else (0, n)
            recorded = latest_answers(f"{out_k}/requests/judge/responses.jsonl")
            first = len(load_requests(slow_log))
            check(first >= 150 and not os.path.exists(f"{out_k}/findings.json"), f"killed after {first} requests, no findings.json")
            with open(f"{out_k}/requests/judge/prompts.csv", newline="", encoding="utf-8") as f:
                id_to_prompt = {r["id"]: r["prompt"] for r in csv.DictReader(f)}
            rc, text = saediff(interpret_args(run, responses, out_k, slow_url, "mock/lexicon", "mock/proposer", 1,
                                              "--concurrency", "8"), env)
            second = collections.Counter(r["prompt"] for r in load_requests(slow_log)[first:])
            expected = collections.Counter(p for i, p in id_to_prompt.items() if i not in recorded)
            check(rc == 0 and second == expected, f"the resumed run asks exactly what was not recorded ({sum(second.values())} new, "
                  f"{len(recorded)} of {len(id_to_prompt)} recorded before the kill, none repeated)")
            fk = json.load(open(f"{out_k}/findings.json"))
            check(fk["hypotheses"] == findings["hypotheses"], "killed and resumed: the same findings as an uninterrupted run")
        finally:
            slow_server.terminate()

        # --- a proposer without JSON; bad inputs ---
        rc, text = saediff(interpret_args(run, responses, f"{work}/nojson", base_url, "mock/lexicon", "mock/nojson"), env)
        fn = json.load(open(f"{work}/nojson/findings.json"))
        check(rc == 3 and "holds no {\"hypotheses\": [...]} JSON" in text and fn["n_unparsed_proposals"] == 2 and not fn["hypotheses"],
              f"a proposer answer without JSON is reported, exit 3 ({rc})")
        os.makedirs(f"{work}/empty-report")
        rc, text = saediff(interpret_args(f"{work}/no-such-run", responses, f"{work}/bad1", base_url), env)
        check(rc == 1 and not os.path.exists(f"{work}/bad1"), f"a missing report or encoded file: rc 1, nothing written ({text[-200:]})")
        args = interpret_args(run, responses, f"{work}/bad2", base_url)
        args[args.index("--report") + 1] = f"{work}/empty-report"
        rc, text = saediff(args, env)
        check(rc == 1 and "summary.json" in text and not os.path.exists(f"{work}/bad2"), "a report folder without summary.json: clear error")
        other = f"{work}/other.jsonl"
        with open(other, "w") as f:
            for r in records:
                if r["prompt_id"] != "p01":
                    f.write(json.dumps(r) + "\n")
        rc, text = saediff(interpret_args(run, other, f"{work}/bad3", base_url), env)
        check(rc == 1 and "do not belong together" in text, "responses that are not the encoded file's: clear error")
        rc, text = saediff(interpret_args(run, responses, f"{work}/bad4", base_url, "mock/lexicon", "mock/proposer", 1,
                                          "--held-out-fraction", "1.5"), env)
        check(rc != 0 and not os.path.exists(f"{work}/bad4"), "--held-out-fraction outside (0, 1) is refused")

        # --- run --stages interpret on a copy of the demo run ---
        job = f"{work}/job"
        shutil.copytree(run, job, ignore=shutil.ignore_patterns("*.lock"))
        cfg = open(os.path.join(SRC, "configs", "demo.toml")).read()
        cfg = re.sub(r'(?m)^responses = .*$', f'responses = "{responses}"', cfg)
        cfg = re.sub(r'(?m)^demo-tokenizer = .*$', f'demo-tokenizer = "{os.environ["SAEDIFF_TOKENIZER_JSON"]}"', cfg)
        cfg = re.sub(r'(?m)^demo-plant = .*$', f'demo-plant = "{os.path.join(SRC, "configs", "demo", "behaviours.json")}"', cfg)
        cfg += f'\n[interpret]\nproposer = "mock/proposer"\njudge = "mock/lexicon"\nbase-url = "{base_url}"\nretry-base = 0\n'
        with open(f"{work}/job.toml", "w") as f:
            f.write(cfg)
        rc, text = saediff([SAEDIFF, "run", "--config", f"{work}/job.toml", "--out", job, "--stages", "interpret"], env)
        check(rc == 0, f"run --stages interpret exits 0 ({rc}): {text[-400:]}")
        md = open(f"{job}/report/report.md", encoding="utf-8").read()
        fj = json.load(open(f"{job}/interpret/findings.json"))
        check("## Verified findings" in md and fj["hypotheses"] == findings["hypotheses"],
              "run's interpret stage writes interpret/findings.json and the report leads with it")
        rc, text = saediff([SAEDIFF, "run", "--config", f"{work}/job.toml", "--out", job, "--stages", "diff"], env)
        md = open(f"{job}/report/report.md", encoding="utf-8").read()
        check(rc == 0 and "## Verified findings" in md, "a later diff-only job keeps the findings in the report")
        fj["encoded_fingerprint"] = "f" * 16 + "-" + "f" * 16  # as if encode had run again since
        with open(f"{job}/interpret/findings.json", "w") as f:
            json.dump(fj, f)
        rc, text2 = saediff([SAEDIFF, "run", "--config", f"{work}/job.toml", "--out", job, "--stages", "diff"], env)
        md = open(f"{job}/report/report.md", encoding="utf-8").read()
        check(rc == 0 and "## Verified findings" not in md and "left out of the report" in text2,
              "a diff-only job leaves out findings made from other data, with a warning")
        check(KEY not in text and not any(KEY.encode() in open(os.path.join(d, n), "rb").read()
                                          for d, _, files in os.walk(f"{job}/interpret") for n in files),
              "run: the key is in no output and not in the log")
    finally:
        server.terminate()
    if failures:
        print(f"interpret_loopback: {len(failures)} failures", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(*sys.argv[1:])
