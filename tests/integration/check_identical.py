#!/usr/bin/env python3
"""Asserts that demo runs at different rank counts wrote identical results.

features.csv must match byte for byte; every dataset of encoded.h5 must match exactly (the values are
per-document computations, so the rank a document ran on must not matter)."""
import sys

import h5py
import numpy as np

NL = b"\n"


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        attrs = {k: f.attrs[k] for k in f.attrs if k not in ("config", "n_rank", "reduce", "model", "sae", "tokenizer", "timings")}  # paths name the run folder; timings vary
    return out, attrs


def main(dirs):
    ref_csv = open(f"{dirs[0]}/report/features.csv", "rb").read()
    ref_h5, ref_attrs = datasets(f"{dirs[0]}/encoded.h5")
    assert ref_csv.count(b"\n") > 1, "features.csv has no feature rows"
    n_nnz = sum(v.size for k, v in ref_h5.items() if k.endswith("max/indices"))
    assert n_nnz > 0, "encoded.h5 holds no active features"
    failures = []
    for d in dirs[1:]:
        if open(f"{d}/report/features.csv", "rb").read() != ref_csv:
            failures.append(f"{d}/report/features.csv differs from {dirs[0]}")
        h5, attrs = datasets(f"{d}/encoded.h5")
        if set(h5) != set(ref_h5):
            failures.append(f"{d}/encoded.h5 has datasets {sorted(set(h5) ^ set(ref_h5))} that differ")
        for name in sorted(set(h5) & set(ref_h5)):
            if not np.array_equal(h5[name], ref_h5[name]):
                failures.append(f"{d}/encoded.h5:{name} differs")
        for k, v in ref_attrs.items():
            if k not in attrs or not np.array_equal(attrs[k], v):
                failures.append(f"{d}/encoded.h5 attribute {k} differs")
    for f in failures:
        print("FAIL:", f)
    print(f"compared {len(dirs)} runs: {len(ref_h5)} datasets, {n_nnz} active (doc, feature) pairs, "
          f"{ref_csv.count(NL) - 1} features.csv rows")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
