#!/usr/bin/env python3
"""The demo report's analysis recomputed from encoded.h5 with h5py and numpy, independently of saediff:

  report_contents.py DEMO_RUN_DIR

- the per-category table of every feature card (report.md) equals counts of documents whose pooled max > the
  threshold, per category and set;
- every cluster in summary.json: its mean pairwise NPMI (ln(p_ab / p_a p_b) / -ln p_ab over both sets'
  documents, pairs seen together in < 3 documents count 0) within 1e-9, every pair linked, and average
  linkage: no cluster could absorb another top feature at NPMI >= 0.3;
- length strata: edges are the ceil(b N / bins)-th smallest pooled counts, and the table's counts per set;
- the key findings' counts of significant features equal features.csv's rows with q < 0.05;
- every excerpt, its marks removed, is a verbatim window of its document's text row."""
import csv
import json
import math
import os
import re
import sys

import h5py
import numpy as np

failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg)
    if not cond:
        failures.append(msg)


def ragged(g, name, row):
    p = g[name]["indptr"]
    return bytes(g[name]["utf8"][p[row]:p[row + 1]]).decode("utf-8", errors="replace")


def main(run):
    rep = os.path.join(run, "report")
    md = open(os.path.join(rep, "report.md"), encoding="utf-8").read()
    summary = json.load(open(os.path.join(rep, "summary.json")))
    rows = list(csv.DictReader(open(os.path.join(rep, "features.csv"), newline="", encoding="utf-8")))
    thr, alpha = summary["threshold"], summary["alpha"]
    base, cand = summary["baseline"]["set"], summary["candidate"]["set"]
    h5 = h5py.File(os.path.join(run, "encoded.h5"), "r")
    d_sae = int(h5.attrs["d_sae"])
    active, cats, pooled, texts = {}, {}, {}, {}
    for s in (base, cand):
        g = h5["sets"][s]
        n = len(g["doc_id"])
        m = np.zeros((n, d_sae), dtype=bool)
        ip, ix, v = g["max/indptr"][()], g["max/indices"][()], g["max/values"][()]
        for r in range(n):
            m[r, ix[ip[r]:ip[r + 1]][v[ip[r]:ip[r + 1]] > thr]] = True
        active[s] = m
        cats[s] = [c.decode() for c in g["category"][()]]
        pooled[s] = g["n_pooled"][()]
        texts[s] = [ragged(g, "text", r) for r in range(n)]

    # Per-category tables of the cards.
    cards = re.split(r"\n### ", md.split("## Feature cards", 1)[1])[1:]
    checked = 0
    for card in cards:
        f = int(re.match(r"#(\d+)", card).group(1))
        table = re.findall(r"^\| (\S[^|]*?) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", card, flags=re.M)
        body = [t for t in table if t[0] not in ("category",) and not t[0].startswith("---")]
        want = []
        for c in sorted(set(cats[base]) | set(cats[cand])):
            cells = []
            for s in (base, cand):
                idx = [i for i, x in enumerate(cats[s]) if x == c]
                k = int(active[s][idx, f].sum())
                cells.append(f"({k}/{len(idx)})")
            want.append((c, cells))
        got = [(t[0], [re.search(r"\(\d+/\d+\)", t[1]).group(0), re.search(r"\(\d+/\d+\)", t[2]).group(0)]) for t in body
               if re.search(r"\(\d+/\d+\)", t[1])]
        if got != want:
            check(False, f"feature {f}: per-category table {got[:3]} != recomputed {want[:3]}")
            break
        checked += 1
    else:
        check(checked > 0, f"per-category tables of {checked} feature cards equal the recomputed counts")

    # Clusters: NPMI over both sets' documents.
    both = np.concatenate([active[base], active[cand]])
    n_docs = both.shape[0]

    def npmi(a, b):
        n_ab = int((both[:, a] & both[:, b]).sum())
        if n_ab < 3:
            return 0.0
        if n_ab == n_docs:
            return 1.0
        pa, pb, pab = both[:, a].mean(), both[:, b].mean(), n_ab / n_docs
        return math.log(pab / (pa * pb)) / -math.log(pab)

    top = [int(r["feature"]) for r in rows if float(r["diff"]) > 0][:15] + \
          [int(r["feature"]) for r in rows if float(r["diff"]) < 0][:15]
    for i, cl in enumerate(summary["clusters"]):
        fs = cl["features"]
        vals = [npmi(a, b) for k, a in enumerate(fs) for b in fs[k + 1:]]
        check(abs(np.mean(vals) - cl["mean_npmi"]) < 1e-9, f"cluster {i + 1}: mean NPMI {cl['mean_npmi']:.6f} "
              f"recomputed {np.mean(vals):.6f}")
        outside = [f for f in top if all(f not in c["features"] for c in summary["clusters"])]
        best = max((np.mean([npmi(o, a) for a in fs]) for o in outside), default=-1)
        check(best < 0.3, f"cluster {i + 1}: no unclustered top feature links to it at NPMI >= 0.3 (best {best:.3f})")

    # Length strata.
    allp = np.sort(np.concatenate([pooled[base], pooled[cand]]))
    bins, edges = 4, []
    for b in range(1, bins + 1):
        e = int(allp[-(-b * len(allp) // bins) - 1])
        if not edges or e > edges[-1]:
            edges.append(e)
    check(edges == summary["length_strata"]["edges"], f"length strata edges {summary['length_strata']['edges']} == {edges}")
    table = md.split("## Length control", 1)[1].split("\n\n", 2)[1]
    for k, e in enumerate(edges):
        lo = 0 if k == 0 else edges[k - 1] + 1
        nb = int(((pooled[base] >= lo) & (pooled[base] <= e)).sum())
        nc = int(((pooled[cand] >= lo) & (pooled[cand] <= e)).sum())
        if f"| {k + 1} | {lo}–{e} | {nb} | {nc} |" not in table:
            check(False, f"stratum {k + 1}: expected | {k + 1} | {lo}–{e} | {nb} | {nc} | in the table")
            break
    else:
        check(True, "length strata table counts documents per stratum and set")

    # Key findings' counts.
    sig = [r for r in rows if float(r["q_value"]) < alpha]
    up = sum(1 for r in sig if float(r["diff"]) > 0)
    check(f"**{len(sig)}** differ in frequency at q < {alpha:g}" in md and f": {up} are more frequent in **{cand}**" in md,
          f"key findings: {len(sig)} significant, {up} up (from features.csv)")

    # Excerpts: verbatim windows of the documents.
    excerpts = re.findall(r"^> \*\*(\S+) · (\S+) · [^\n]*?max ([0-9.]+)[^\n]*\*\*  \n((?:> [^\n]*\n)+)", md, flags=re.M)
    bad = 0
    for s, doc, _, body in excerpts:
        text = "".join(line[2:] for line in body.splitlines(keepends=True))
        text = text.replace("  \n", "\n").rstrip("\n")
        plain = re.sub(r"⟦(.*?)\|[0-9.]+⟧", r"\1", text, flags=re.S)
        plain = re.sub(r"\\(.)", r"\1", plain).strip("… ").strip()
        row = [d.decode() for d in h5["sets"][s]["doc_id"][()]].index(doc)
        if plain not in texts[s][row].replace("\r", ""):
            bad += 1
    check(excerpts and bad == 0, f"{len(excerpts)} excerpts are verbatim windows of their documents' text ({bad} not)")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
