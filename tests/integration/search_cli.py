#!/usr/bin/env python3
"""`saediff search` on the planted demo run: what a feature reads, from encoded.h5.

  search_cli.py DEMO_RUN_DIR WORK_DIR

For every planted feature (DEMO_RUN_DIR/demo-model/planted.json): the per-set counts equal h5py's count of
documents whose pooled max exceeds the threshold, the documents listed are those where it fires, strongest first,
and every marked token is one of its triggers. --label matches labels case-insensitively; Markdown and HTML
files are written; --set restricts the sets; bad requests are clear errors that write nothing."""
import json
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

SAEDIFF = os.environ["SAEDIFF"]
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def search(*args):
    p = subprocess.run([SAEDIFF, "search", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def main(run, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    encoded = f"{run}/encoded.h5"
    labels = f"{run}/demo-model/labels.json"
    planted = json.load(open(f"{run}/demo-model/planted.json"))["features"]
    with h5py.File(encoded, "r") as f:
        threshold = float(f.attrs["threshold"]) if "threshold" in f.attrs else 0.5
        sets = {}
        for name in f["sets"]:
            g = f[f"sets/{name}"]
            sets[name] = ([x.decode() if isinstance(x, bytes) else x for x in g["doc_id"][()]],
                          g["max/indptr"][()], g["max/indices"][()], g["max/values"][()])
    for p in planted:
        fid, triggers = p["feature"], set(p["trigger_text"])
        rc, out, err = search("--encoded", encoded, "--feature", str(fid), "--docs", "1000", "--window", "-1")
        if rc != 0:
            check(False, f"search --feature {fid} exits 0 ({rc}): {err[-300:]}")
            continue
        good = True
        for name, (ids, indptr, indices, values) in sets.items():
            maxes = []
            for r in range(len(ids)):
                idx, val = indices[indptr[r]:indptr[r + 1]], values[indptr[r]:indptr[r + 1]]
                hit = val[idx == fid]
                if hit.size:
                    maxes.append((-float(hit[0]), r, ids[r]))
            k = sum(1 for m in maxes if -m[0] > threshold)
            line = f"-- set {name}: active in {k} of {len(ids)} documents"
            good = good and line in out
            section = out.split(f"-- set {name}:", 1)[1].split("\n-- set ", 1)[0]
            listed = re.findall(r"^   \d+\. (\S+) \(pooled max", section, flags=re.M)
            good = good and listed == [m[2] for m in sorted(maxes)]
        spans = set(re.findall(r"⟦(.*?)\|[0-9.]+⟧", out, flags=re.S))
        check(good and spans and spans <= triggers,
              f"feature {fid} ({p['label']}): counts, documents strongest first, marks only on triggers ({sorted(spans)})")

    hedging = next(p for p in planted if p["label"].startswith("hedging"))
    rc, out, err = search("--encoded", encoded, "--label", "HEDGING", "--labels", labels, "--out", f"{work}/hedging.md")
    md = open(f"{work}/hedging.md", encoding="utf-8").read() if os.path.exists(f"{work}/hedging.md") else ""
    check(rc == 0 and f"== feature {hedging['feature']}: {hedging['label']}" in out and "## Feature " in md and "⟦" in md,
          "--label matches case-insensitively; the Markdown file carries the marked excerpts")
    rc, out, err = search("--encoded", encoded, "--label", "a", "--labels", labels, "--max-features", "2", "--out",
                          f"{work}/many.html", "--set", "terse", "--docs", "2")
    html = open(f"{work}/many.html", encoding="utf-8").read() if os.path.exists(f"{work}/many.html") else ""
    check(rc == 0 and out.count("\n== feature ") == 2 and "labels match; the first 2" in html and "<mark" in html
          and "set verbose" not in out, "--max-features caps the matches, --set picks the sets, HTML has <mark>")
    for args, what in [([], "neither --feature nor --label"),
                       (["--feature", "1", "--label", "x", "--labels", labels], "both --feature and --label"),
                       (["--label", "hedging"], "--label without --labels"),
                       (["--label", "no such label text", "--labels", labels], "a label nothing matches"),
                       (["--feature", "99999999"], "a feature outside the SAE"),
                       (["--feature", "1", "--set", "nosuchset"], "an unknown set"),
                       (["--feature", "1", "--out", f"{work}/x.txt"], "an --out that is not .md or .html")]:
        rc, out, err = search("--encoded", encoded, *args)
        check(rc != 0 and "error" in err.lower() and not os.path.exists(f"{work}/x.txt"), f"refused: {what} ({err.strip().splitlines()[-1][:160] if err.strip() else rc})")
    if failures:
        print(f"search_cli: {len(failures)} failures", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(*sys.argv[1:])
