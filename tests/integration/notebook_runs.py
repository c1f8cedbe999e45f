#!/usr/bin/env python3
"""Runs the report's analysis.ipynb headless (nbclient) and fails on any cell error.

    notebook_runs.py REPORT_DIR [--work DIR] [--timeout S]

1. REPORT_DIR/analysis.ipynb as saediff wrote it: valid nbformat, no placeholder left, every cell runs in
   REPORT_DIR, and the frequencies it recomputes from encoded.h5 match features.csv.
2. The same notebook on a synthetic encoded.h5 holding the optional datasets (category, prompt, text, tokens
   with a token that splits a UTF-8 character): the category table and the token view print what they
   should. Run with scipy and again with scipy hidden (the dense fallback).
Fails, pointing to scripts/setup.sh, when nbclient or ipykernel is missing."""
import argparse
import copy
import json
import os
import re
import shutil
import sys
import tempfile

try:
    import h5py
    import nbclient
    import nbformat
    import numpy as np
    import pandas  # noqa: F401  (the notebook needs it)
    import ipykernel  # noqa: F401
except ImportError as e:
    print(f"FAIL: {e}: run scripts/setup.sh (python3-nbclient python3-ipykernel python3-pandas python3-h5py)")
    sys.exit(1)

CHECK_LINE = "CHECK freq matches features.csv: True"
PLACEHOLDER = re.compile(r"@(ENCODED|FEATURES|BASELINE|CANDIDATE|THRESHOLD)@")


def execute(nb, cwd, timeout, env=None):
    """Runs every cell in `cwd`; returns the text of all stream and result outputs."""
    saved = dict(os.environ)
    os.environ.update({"PYDEVD_DISABLE_FILE_VALIDATION": "1", **(env or {})})  # ipykernel's debugger chatter
    try:
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": cwd}})
        client.execute()  # raises CellExecutionError, naming the cell and the traceback, on any error
    finally:
        os.environ.clear()
        os.environ.update(saved)
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                out.append(o["text"])
            elif o.get("output_type") in ("execute_result", "display_data"):
                out.append(o.get("data", {}).get("text/plain", ""))
            elif o.get("output_type") == "error":
                raise AssertionError(f"cell error: {o.get('ename')}: {o.get('evalue')}")
    return "".join(out)


def set_parameters(nb, **values):
    """Rewrites NAME = ... lines of the first code cell (the parameters cell) with Python literals."""
    cell = next(c for c in nb.cells if c.cell_type == "code")
    source = cell.source
    for name, value in values.items():
        literal = f"float({json.dumps(str(value))})" if name == "THRESHOLD" else json.dumps(value)
        source, n = re.subn(rf"^{name} = .*$", f"{name} = {literal}", source, count=1, flags=re.M)
        assert n == 1, f"parameters cell has no line '{name} = ...':\n{cell.source}"
    cell.source = source


# Synthetic file: 2 sets, 3 documents each, d_sae 8, K = 4. Feature 5 fires on " café" in document "c1", where
# one token is the first byte of "é" (c3) and the next its second (a9): the view must merge the two.
D_SAE, K, THRESHOLD, FEATURE = 8, 4, 0.5, 5
DOCS = {
    "base": [("b0", "math", "Add 2 and 2.", [b"Four", b"."], [{1: 0.9}, {2: 0.3}]),
             ("b1", "math", "Add 3 and 3.", [b"Six"], [{1: 0.7}]),
             ("b2", "food", "Name a drink.", [b"Tea", b"."], [{5: 0.4}, {}])],
    "cand": [("c0", "math", "Add 2 and 2.", [b"It", b" is", b" four"], [{1: 0.2}, {}, {5: 0.6, 1: 1.1}]),
             ("c1", "food", "Name a drink.", [b"A", b" caf", b"\xc3", b"\xa9", b" au", b" lait"],
              [{}, {5: 1.5, 3: 0.2}, {5: 2.25}, {5: 0.75}, {}, {7: 0.1}]),
             ("c2", "food", "Name a dish.", [b"Soup"], [{6: 0.8}])],
}
EXPECTED_VIEW = "A[[ caf]](1.50)[[é]](2.25) au lait"  # c3 and a9 merged; their marks take the max


def write_synthetic(path):
    """encoded.h5 with every optional dataset; returns per set the [N, d_sae] dense pooled max."""
    dense = {}
    with h5py.File(path, "w") as f:
        for key, value in (("model", "synthetic"), ("sae", "synthetic"), ("pooling", "content"),
                           ("dtype", "float32"), ("version", "0"), ("commit", "none"), ("config", "")):
            f.attrs[key] = np.bytes_(value)
        f.attrs["d_sae"], f.attrs["layer"], f.attrs["threshold"] = D_SAE, 2, THRESHOLD
        sets = f.create_group("sets")
        sets.attrs["names"] = np.array([b"base", b"cand"])
        for name, docs in DOCS.items():
            g = sets.create_group(name)
            n = len(docs)
            g["doc_id"] = np.array([d[0].encode() for d in docs], dtype="S")
            g["category"] = np.array([d[1].encode() for d in docs], dtype="S")
            g["failed_doc_id"] = np.array([], dtype="S1")
            n_tok = np.array([len(d[3]) for d in docs], dtype=np.int64)
            g["n_pooled"], g["n_tokens"] = n_tok, n_tok + 31
            for group, rows in (("prompt", [d[2].encode() for d in docs]), ("text", [b"".join(d[3]) for d in docs])):
                r = g.create_group(group)
                r["indptr"] = np.cumsum([0] + [len(x) for x in rows]).astype(np.int64)
                r["utf8"] = np.frombuffer(b"".join(rows), dtype=np.uint8)
            tok = g.create_group("tokens")
            tok.attrs["k"] = K
            tok["indptr"] = np.cumsum([0] + list(n_tok)).astype(np.int64)
            ends, feats, vals = [], [], []
            m = np.zeros((n, D_SAE), dtype=np.float32)
            for i, doc in enumerate(docs):
                end = 0
                for piece, acts in zip(doc[3], doc[4]):
                    end += len(piece)
                    ends.append(end)
                    top = sorted(acts.items(), key=lambda kv: -kv[1])[:K]
                    feats.append([k for k, _ in top] + [-1] * (K - len(top)))
                    vals.append([v for _, v in top] + [0.0] * (K - len(top)))
                    for k, v in acts.items():
                        m[i, k] = max(m[i, k], v)
            tok["id"] = np.arange(len(ends), dtype=np.int32)
            tok["end"] = np.array(ends, dtype=np.int64)
            tok["topk_feature"] = np.array(feats, dtype=np.int32).reshape(-1, K)
            tok["topk_value"] = np.array(vals, dtype=np.float32).reshape(-1, K)
            g["active_docs"] = (m > THRESHOLD).sum(axis=0).astype(np.int64)
            for kind in ("max", "sum", "count"):
                c = g.create_group(kind)
                rows, cols = np.nonzero(m)
                c["indptr"] = np.searchsorted(rows, np.arange(n + 1)).astype(np.int64)
                c["indices"] = cols.astype(np.int32)
                c["values"] = m[rows, cols]
            dense[name] = m
    return dense


OPTIONAL_COLUMNS = ("ci_low_baseline,ci_high_baseline,ci_low_candidate,ci_high_candidate,diff_ci_low,diff_ci_high,"
                    "log2_ratio,cohens_h,log_odds_ratio,lor_ci_low,lor_ci_high,diff_length_adjusted,p_cmh,q_cmh,"
                    "length_confounded,rank_abs,rank_rel,rank_sig,cluster,llm_label")


def write_features_csv(path, dense):
    """features.csv as saediff writes it, ranked by |diff| then id; the optional columns hold dummies."""
    nb_, nc = (len(DOCS["base"]), len(DOCS["cand"]))
    cb, cc = ((dense[s] > THRESHOLD).sum(axis=0) for s in ("base", "cand"))
    rows = [(f, cb[f] / nb_, cc[f] / nc, cb[f], cc[f]) for f in range(D_SAE) if cb[f] or cc[f]]
    rows.sort(key=lambda r: (-abs(r[2] - r[1]), r[0]))
    with open(path, "w") as out:
        out.write(f"feature,label,freq_baseline,freq_candidate,diff,count_baseline,count_candidate,p_value,q_value,"
                  f"{OPTIONAL_COLUMNS}\n")
        for rank, (f, fb, fc, b, c) in enumerate(rows, 1):
            label, llm = ("drinks", '"drinks, hot"') if f == FEATURE else ("", "")
            out.write(f"{f},{label},{fb:.6f},{fc:.6f},{fc - fb:.6f},{b},{c},0.01,0.02,0,1,0,1,-1,1,0.5,0.5,0.5,-1,2,"
                      f"nan,0.1,0.2,true,{rank},{rank},{rank},{1 if f == FEATURE else ''},{llm}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report", help="a report folder written by saediff diff")
    ap.add_argument("--work", help="folder for the synthetic run (default: a temporary one)")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    args = ap.parse_args()

    path = os.path.join(args.report, "analysis.ipynb")
    raw = open(path, encoding="utf-8").read()
    assert not PLACEHOLDER.search(raw), f"{path}: placeholder left: {PLACEHOLDER.search(raw).group(0)}"
    written = nbformat.reads(raw, as_version=4)
    nbformat.validate(written)
    assert not any(c.get("outputs") for c in written.cells if c.cell_type == "code"), f"{path} carries outputs"

    out = execute(copy.deepcopy(written), os.path.abspath(args.report), args.timeout)
    assert CHECK_LINE in out, f"{path}: no '{CHECK_LINE}' in the outputs:\n{out}"
    print(f"ok: {path} ran; its frequencies match features.csv")

    work = args.work or tempfile.mkdtemp(prefix="saediff-notebook-")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "report"))
    dense = write_synthetic(os.path.join(work, "encoded.h5"))
    write_features_csv(os.path.join(work, "report", "features.csv"), dense)
    hidden = os.path.join(work, "no-scipy", "scipy")
    os.makedirs(hidden)
    with open(os.path.join(hidden, "__init__.py"), "w") as f:
        f.write('raise ImportError("scipy hidden by notebook_runs.py")\n')
    for label, env in (("scipy", {}), ("no scipy", {"PYTHONPATH": os.path.dirname(hidden)})):
        nb = copy.deepcopy(written)
        set_parameters(nb, ENCODED="../encoded.h5", FEATURES="features.csv", BASELINE="base", CANDIDATE="cand",
                       THRESHOLD=THRESHOLD, FEATURE=FEATURE)
        out = execute(nb, os.path.join(work, "report"), args.timeout, env)
        expected = [CHECK_LINE, EXPECTED_VIEW, "prompt: Name a drink.", "document c1, pooled max 2.250",
                    "scipy: " + ("yes" if label == "scipy" else "no")]
        missing = [e for e in expected if e not in out]
        assert not missing, f"synthetic run ({label}): missing {missing} in the outputs:\n{out}"
        # FEATURE per category: food has it in 0/1 base and 1/2 cand documents; math in 0/2 and 1/1.
        food = re.search(r"^food\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s*$", out, re.M)
        assert food and [float(food.group(1)), float(food.group(2))] == [0.0, 0.5], f"category table:\n{out}"
        print(f"ok: synthetic encoded.h5 with the optional datasets ({label})")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
