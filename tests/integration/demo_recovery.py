#!/usr/bin/env python3
"""The planted demo finds what was put there (issue 16):

  demo_recovery.py DEMO_RUN_DIR RESPONSES.jsonl BEHAVIOURS.json

The truth is computed independently of saediff: each answer is tokenized with HF tokenizers' own
implementation (hf_tokenize.js), and a document "has" a planted behaviour when its pooled tokens (the trimmed
response, as --pool content reads it) contain one of the feature's trigger ids from planted.json. Checks:
- the generator's stated counts (behaviours.json) are the truth's counts, and planted.json matches the plant file;
- per planted feature, the documents where it is active (pooled max > threshold, from encoded.h5) are the
  documents that contain a trigger, in >= 99% of documents;
- every non-null planted feature is in the top 20 by |diff| (rank_abs), with the planted sign and q < 0.05, and
  survives length control (not length_confounded, length-adjusted diff of the same sign);
- no null feature has q < 0.05;
- the key findings name every non-null planted label.
It prints precision and recall of the planted differences."""
import csv
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from check_encoded import hf_tokenize  # noqa: E402

failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg)
    if not cond:
        failures.append(msg)


def latest_responses(path):
    """(set, prompt_id) -> response text of the latest successful record."""
    out = {}
    for line in open(path, encoding="utf-8"):
        if line.strip():
            r = json.loads(line)
            if r["response"] is not None:
                out[(r["set"], r["prompt_id"])] = r["response"]
    return out


def main(run, responses, behaviours_path):
    planted = json.load(open(os.path.join(run, "demo-model", "planted.json"), encoding="utf-8"))["features"]
    spec = json.load(open(behaviours_path, encoding="utf-8"))
    summary = json.load(open(os.path.join(run, "report", "summary.json"), encoding="utf-8"))
    rows = {int(r["feature"]): r for r in csv.DictReader(open(os.path.join(run, "report", "features.csv"),
                                                              newline="", encoding="utf-8"))}
    md = open(os.path.join(run, "report", "report.md"), encoding="utf-8").read()
    thr, alpha = summary["threshold"], summary["alpha"]
    base, cand = summary["baseline"]["set"], summary["candidate"]["set"]
    check((base, cand) == (spec["baseline"], spec["candidate"]), f"the report compares {base} -> {cand} as planted")
    check([p["label"] for p in planted] == [f["label"] for f in spec["features"]] and
          [p["direction"] for p in planted] == [f["direction"] for f in spec["features"]],
          "planted.json lists the plant file's features, labels and directions in order")
    labels = json.load(open(os.path.join(run, "demo-model", "labels.json"), encoding="utf-8"))
    check(labels == {str(p["feature"]): p["label"] for p in planted}, "labels.json holds the planted labels")

    texts = latest_responses(responses)
    h5 = h5py.File(os.path.join(run, "encoded.h5"), "r")
    truth, active, n_docs = {}, {}, {}
    for s in (base, cand):
        g = h5["sets"][s]
        doc_ids = [d.decode() for d in g["doc_id"][()]]
        n_docs[s] = len(doc_ids)
        ids = hf_tokenize([texts[(s, pid)].strip() for pid in doc_ids])
        pooled = g["n_pooled"][()]
        check(all(len(t) == int(n) for t, n in zip(ids, pooled)),
              f"{s}: every document's pooled token count equals HF's token count of its trimmed answer")
        ip, ix, v = g["max/indptr"][()], g["max/indices"][()], g["max/values"][()]
        for p in planted:
            f, trig = p["feature"], set(p["triggers"])
            truth[(s, f)] = np.array([bool(trig & set(t)) for t in ids])
            act = np.zeros(len(doc_ids), dtype=bool)
            for r in range(len(doc_ids)):
                sel = ix[ip[r]:ip[r + 1]] == f
                act[r] = bool(sel.any() and v[ip[r]:ip[r + 1]][sel].max() > thr)
            active[(s, f)] = act

    tp = fp = fn = 0
    for p, b in zip(planted, spec["features"]):
        f, lab, want = p["feature"], p["label"], p["direction"]
        counts = {s: int(truth[(s, f)].sum()) for s in (base, cand)}
        check(counts == b["documents"], f"#{f} {lab}: documents with a trigger {counts} == stated {b['documents']}")
        agree = sum(int((truth[(s, f)] == active[(s, f)]).sum()) for s in (base, cand))
        total = n_docs[base] + n_docs[cand]
        check(agree >= 0.99 * total, f"#{f} {lab}: active exactly where a trigger is pooled in {agree}/{total} documents")
        r = rows.get(f)
        if r is None:
            check(counts[base] == 0 and counts[cand] == 0, f"#{f} {lab}: absent from features.csv only if never active")
            continue
        q, diff, rank = float(r["q_value"]), float(r["diff"]), int(r["rank_abs"])
        called = q < alpha
        if want == "none":
            check(not called, f"#{f} {lab} (null): q = {q:.3g} >= {alpha}")
            fp += called
            continue
        sign_ok = (diff > 0) == (want == "candidate")
        check(rank <= 20 and sign_ok and called,
              f"#{f} {lab}: rank {rank} <= 20 by |diff|, diff {diff:+.3f} towards {want}, q = {q:.3g} < {alpha}")
        adj = float(r["diff_length_adjusted"]) if r["diff_length_adjusted"] else float("nan")
        check(r["length_confounded"] == "0" and adj * diff > 0,
              f"#{f} {lab}: survives length control (length-adjusted {adj:+.3f}, q_cmh among the significant "
              f"{r['q_cmh_significant']})")
        check(lab in md.split("## Key findings", 1)[1].split("\n## ", 1)[0].replace("\\", ""),
              f"#{f} {lab}: named in the key findings")
        tp += called and sign_ok
        fp += called and not sign_ok
        fn += not (called and sign_ok)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"planted differences: precision {precision:.3f} ({tp} of {tp + fp} called), recall {recall:.3f} "
          f"({tp} of {tp + fn} planted)")
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
