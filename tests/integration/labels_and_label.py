#!/usr/bin/env python3
"""Feature labels in `saediff diff` and LLM relabelling with `saediff label`, on the demo run's encoded.h5.

  labels_and_label.py DEMO_RUN_DIR WORK_DIR

Labels: a JSON {id: label} file (interp_embed's layout) and a CSV reach features.csv, report.md and the HTML;
--labels hf resolves Goodfire's file from a Hugging Face cache laid out as huggingface_hub does (refs/main);
a missing file, an empty cache, and ids outside the SAE are clear errors that write nothing; no labels is
said in the log and the report. `saediff label` against the loopback server (tests/reference/mock_openrouter.py):
prompts carry marked positives and unmarked negatives, a fenced JSON answer is parsed, an answer without
JSON is reported (exit 3) and left out, --score stores held-out accuracies, a second run requests nothing
new and writes the same file, and diff --llm-labels shows the labels beside the originals."""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import zlib

SRC = os.environ["SAEDIFF_SOURCE_DIR"]
SAEDIFF = os.environ["SAEDIFF"]
sys.path.insert(0, os.path.join(SRC, "tests", "reference"))
import mock_openrouter  # noqa: E402

KEY = "sk-or-v1-SECRET-label-key-42"
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg)
    if not cond:
        failures.append(msg)


def saediff(*args, env=None):
    p = subprocess.run([SAEDIFF, *args], capture_output=True, text=True, env=env)
    return p.returncode, p.stdout + p.stderr


def diff(encoded, out, *extra, env=None):
    return saediff("diff", "--encoded", encoded, "--baseline", "terse", "--candidate", "verbose", "--out", out,
                   "--top-k", "5", *extra, env=env)


def features(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main(run, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    encoded = os.path.join(run, "encoded.h5")
    base_rows = features(os.path.join(run, "report", "features.csv"))
    top = [int(r["feature"]) for r in base_rows[:8]]

    # --- labels from JSON and CSV ---
    labels = {str(f): f"label <{f}> & \"quoted\", ünïcode" for f in top[:5]}
    with open(os.path.join(work, "labels.json"), "w", encoding="utf-8") as f:
        json.dump(labels, f, ensure_ascii=False)
    rc, log = diff(encoded, os.path.join(work, "json"), "--labels", os.path.join(work, "labels.json"))
    check(rc == 0, f"diff --labels JSON exits 0 ({rc}): {log[-300:]}")
    rows = features(os.path.join(work, "json", "features.csv"))
    check(all(r["label"] == labels.get(r["feature"], "") for r in rows), "features.csv carries the JSON labels exactly")
    md = open(os.path.join(work, "json", "report.md"), encoding="utf-8").read()
    html = open(os.path.join(work, "json", "report.html"), encoding="utf-8").read()
    check(labels[str(top[0])].replace("<", "\\<").replace(">", "\\>") in md, "report.md shows the label (Markdown-escaped)")
    check(f"label &lt;{top[0]}&gt; &amp; &quot;quoted&quot;" in html, "report.html shows the label, HTML-escaped")
    check("<" + str(top[0]) + ">" not in html, "no raw label markup in the HTML")
    summary = json.load(open(os.path.join(work, "json", "summary.json")))
    check(summary["labels"]["n_labelled"] == 5 and summary["labels"]["source"].endswith("labels.json"),
          "summary.json names the labels' source and count")

    with open(os.path.join(work, "labels.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["feature", "label"])
        for k, v in labels.items():
            w.writerow([k, v])
    rc, log = diff(encoded, os.path.join(work, "csv"), "--labels", os.path.join(work, "labels.csv"))
    check(rc == 0 and features(os.path.join(work, "csv", "features.csv")) == rows, "CSV labels give the same features.csv")

    # --- no labels: said loudly ---
    rc, log = diff(encoded, os.path.join(work, "none"))
    check(rc == 0 and "no feature labels" in log.lower(), "no --labels: the log warns")
    check("No feature labels" in open(os.path.join(work, "none", "report.md"), encoding="utf-8").read(),
          "no --labels: report.md says so")

    # --- errors write nothing ---
    for name, args, want in [
        ("missing", ["--labels", os.path.join(work, "nope.json")], "nope.json"),
        ("wrong-sae", ["--labels", os.path.join(work, "big.json")], "different SAE"),
        ("not-json", ["--labels", os.path.join(work, "bad.json")], "not valid JSON"),
    ]:
        if name == "wrong-sae":
            json.dump({"99999999": "x"}, open(os.path.join(work, "big.json"), "w"))
        if name == "not-json":
            open(os.path.join(work, "bad.json"), "w").write('{"1": "x",')
        out = os.path.join(work, "err-" + name)
        rc, log = diff(encoded, out, *args)
        check(rc != 0 and want in log, f"{name}: a clear error ({rc}, {want!r} in the message)")
        check(not os.path.exists(out), f"{name}: nothing written")

    # --- --labels hf from a Hugging Face cache ---
    env = dict(os.environ, HF_HOME=os.path.join(work, "hf-empty"))
    env.pop("HF_HUB_CACHE", None)
    rc, log = diff(encoded, os.path.join(work, "hf-missing"), "--labels", "hf", env=env)
    check(rc != 0 and "models--nickjiang--feature_labels" in log and "huggingface-cli download" in log,
          "--labels hf with an empty cache fails, naming where it looked and how to fetch the file")
    repo = os.path.join(work, "hf", "hub", "models--nickjiang--feature_labels")
    for rev, text in [("0123abc", {str(top[0]): "goodfire label"}), ("old999", {str(top[0]): "stale label"})]:
        d = os.path.join(repo, "snapshots", rev, "goodfire", "meta-llama")
        os.makedirs(d)
        json.dump(text, open(os.path.join(d, "Llama-3.1-8B-Instruct.json"), "w"))
    os.makedirs(os.path.join(repo, "refs"))
    open(os.path.join(repo, "refs", "main"), "w").write("0123abc")
    env["HF_HOME"] = os.path.join(work, "hf")
    rc, log = diff(encoded, os.path.join(work, "hf-ok"), "--labels", "hf", env=env)
    rows_hf = features(os.path.join(work, "hf-ok", "features.csv"))
    check(rc == 0 and rows_hf[0]["label"] == "goodfire label", "--labels hf reads the snapshot refs/main names")

    # --- saediff label against the loopback server ---
    server, url, reqlog = mock_openrouter.launch(work, lifetime=200)
    try:
        key_file = os.path.join(work, "key")
        open(key_file, "w").write(KEY + "\n")
        out = os.path.join(work, "label")
        args = ["label", "--encoded", encoded, "--features", os.path.join(run, "report", "features.csv"), "--out", out,
                "--labeler", "mock/labeler", "--base-url", url, "--api-key-file", key_file, "--top", "8",
                "--positives", "4", "--negatives", "4", "--held-out", "2", "--window", "12", "--seed", "7", "--score",
                "--retry-base", "0"]
        rc, log = saediff(*args)
        prompts = {r["id"]: r["prompt"] for r in csv.DictReader(open(os.path.join(out, "requests", "prompts.csv"),
                                                                      newline="", encoding="utf-8"))}
        check(sorted(prompts) == sorted(f"f{f}" for f in top), "one label prompt per top feature")
        garbled = {int(k[1:]) for k, p in prompts.items() if zlib.crc32(p.encode()) % 4 == 0}
        check(rc == (3 if garbled else 0), f"exit {rc}: 3 when an answer held no JSON ({len(garbled)} such)")
        for k, p in prompts.items():
            active = p.split("## Active", 1)[1].split("## Never active", 1)[0]
            never = p.split("## Never active", 1)[1]
            if "⟦" not in active or "⟦" in never:
                check(False, f"{k}: positives are marked and negatives are not")
                break
            if active.count("=== excerpt ") != 4 or never.count("=== excerpt ") != 4:
                check(False, f"{k}: 4 positives and 4 negatives shown")
                break
        else:
            check(True, "every prompt shows 4 marked positives and 4 unmarked negatives")
        labelled = json.load(open(os.path.join(out, "llm_labels.json"), encoding="utf-8"))
        got = {f["feature"]: f for f in labelled["features"]}
        check(labelled["model"] == "mock/labeler", "llm_labels.json names the labelling model")
        check(set(got) == set(top) - garbled, "every answer with JSON is stored; the others are left out")
        for f, entry in got.items():
            marked = [m.strip().lower() for m in re.findall(r"⟦(.*?)\|[0-9.]+⟧",
                      prompts[f"f{f}"].split("## Active", 1)[1].split("## Never active", 1)[0], flags=re.S)]
            marked = [m for m in marked if m] or ["nothing"]
            want = "mentions " + max(sorted(set(marked)), key=marked.count)
            if entry["label"] != want or entry["original"] != next(r["label"] for r in base_rows if r["feature"] == str(f)):
                check(False, f"feature {f}: label {entry['label']!r} (want {want!r}) and original label kept")
                break
            if not (0.0 <= entry.get("score", -1) <= 1.0 and entry.get("n_scored") == 4):
                check(False, f"feature {f}: scored on 4 held-out examples ({entry})")
                break
        else:
            check(True, "labels parsed from fenced JSON amid chatter, originals kept, scores on 4 held-out examples")
        n_requests = sum(1 for _ in open(reqlog))
        rc2, log2 = saediff(*args)
        check(sum(1 for _ in open(reqlog)) == n_requests, "a second run requests nothing (answers are resumed)")
        check(json.load(open(os.path.join(out, "llm_labels.json"), encoding="utf-8")) == labelled,
              "a second run writes the same llm_labels.json")
        rc, log = diff(encoded, os.path.join(work, "with-llm"), "--llm-labels", os.path.join(out, "llm_labels.json"))
        rows_llm = features(os.path.join(work, "with-llm", "features.csv"))
        check(rc == 0 and all(r["llm_label"] == (got[int(r["feature"])]["label"] if int(r["feature"]) in got else "")
                              for r in rows_llm), "diff --llm-labels fills the llm_label column")
        check("LLM label (mock/labeler)" in open(os.path.join(work, "with-llm", "report.md"), encoding="utf-8").read(),
              "report.md shows the LLM label beside the original")
        for root, _, files in os.walk(work):
            for name in files:
                if name == "key" or name.startswith("requests-"):  # the key file; the server's own request log
                    continue
                if KEY.encode() in open(os.path.join(root, name), "rb").read():
                    check(False, f"the API key leaked into {os.path.join(root, name)}")
        check(KEY not in log + log2, "the API key is in no log")
    finally:
        server.kill()
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
