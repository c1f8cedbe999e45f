#!/usr/bin/env python3
"""Reads a demo run's encoded.h5 back with h5py and checks it against values computed independently:
documents from responses.jsonl (own parsing), token ids from HF tokenizers (Node binding, hf_tokenize.js),
and the reader, SAE and pooling from the Python/torch reference in llama_reference.py (float64).

Tolerances (float32 C++ against a float64 reference, tiny random model): pooled max and sum within
2e-4 absolute + 1e-4 relative; a feature may be present in one and absent in the other only when its
max is below 1e-4; counts of tokens > 0 may differ only by tokens whose activation is within 1e-4 of 0;
frequencies (features.csv) must agree exactly except for features with a pooled max within 1e-4 of the
threshold. The per-document rows too: tokens/id equal HF's ids of the pooled range, the text row is the trimmed
response and the token end bytes cover it, each token's stored top-k values match the reference and no other
feature beats them by more than 1e-4, evidence values match the reference on every token, and every evidence
document is among its feature's strongest (reference maxima, ties within 1e-4)."""
import argparse
import csv
import math
from fractions import Fraction
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_reference as ref  # noqa: E402

PREFIX = ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
          "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n")
SUFFIX = "<|eot_id|>"
ATOL, RTOL, EPS = 2e-4, 1e-4, 1e-4


def latest_outcomes(path):
    """(set, prompt_id) -> response text or None, in order of first appearance; sets in that order."""
    out, sets = {}, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            key = (r["set"], str(r["prompt_id"]))
            if r["set"] not in sets:
                sets.append(r["set"])
            if key not in out or r.get("response") is not None or out[key] is None:
                out[key] = r.get("response")
    return out, sets


def fisher_two_sided(a, n_a, b, n_b):
    """Exact two-sided Fisher test with rational arithmetic (tables no more likely than the observed)."""
    n, k = n_a + n_b, a + b
    total = math.comb(n, n_a)
    prob = {x: Fraction(math.comb(k, x) * math.comb(n - k, n_a - x), total)
            for x in range(max(0, k - n_b), min(k, n_a) + 1)}
    return float(sum(p for p in prob.values() if p <= prob[a] * (1 + Fraction(1, 10**7))))


def bh(p):
    order = sorted(range(len(p)), key=lambda i: p[i])
    q, running = [0.0] * len(p), 1.0
    for r in range(len(p) - 1, -1, -1):
        running = min(running, p[order[r]] * len(p) / (r + 1))
        q[order[r]] = min(1.0, running)
    return q


def hf_tokenize(texts):
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.jsonl"), os.path.join(tmp, "out.jsonl")
        with open(src, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hf_tokenize.js")
        subprocess.run(["node", script, os.environ["SAEDIFF_TOKENIZER_JSON"], src, dst], check=True)
        with open(dst, encoding="utf-8") as f:
            return [json.loads(line)["ids"] for line in f]


def ragged(g, name, row):
    indptr = g[name]["indptr"]
    return bytes(g[name]["utf8"][indptr[row]:indptr[row + 1]])


def check_token_rows(g, s, pid, row, pooled_ids, response, pooling, f, failures):
    """The per-document text and per-token rows against HF's ids and the reference activations f [n_pooled, d_sae]."""
    where = f"{s}/{pid}"
    t0, t1 = int(g["tokens/indptr"][row]), int(g["tokens/indptr"][row + 1])
    if list(g["tokens/id"][t0:t1]) != list(pooled_ids):
        failures.append(f"{where}: tokens/id differ from HF's ids of the pooled range")
        return
    text = ragged(g, "text", row)
    ends = g["tokens/end"][t0:t1]
    if pooling == "content" and text != response.strip().encode():
        failures.append(f"{where}: text row is not the trimmed response")
    if len(ends) and (ends[-1] != len(text) or (np.diff(ends) < 0).any() or ends[0] < 0):
        failures.append(f"{where}: token end bytes do not cover the text row")
    k = int(g["tokens"].attrs["k"])
    if k > 0 and t1 > t0:
        feats, vals = g["tokens/topk_feature"][t0:t1], g["tokens/topk_value"][t0:t1]
        for t in range(t1 - t0):
            used = feats[t] >= 0
            if (np.abs(vals[t][used] - f[t, feats[t][used]]) > ATOL + RTOL * np.abs(f[t, feats[t][used]])).any():
                failures.append(f"{where}: token {t}: stored top-k values differ from the reference")
                break
            # The stored features are the token's strongest: nothing left out beats the weakest kept by > EPS.
            rest = np.delete(f[t], feats[t][used])
            floor = vals[t][used].min() if used.all() else 0.0
            if rest.size and rest.max() > floor + EPS:
                failures.append(f"{where}: token {t}: feature {int(np.argmax(np.where(np.isin(np.arange(f.shape[1]), feats[t][used]), -1, f[t])))} "
                                f"({rest.max():.4g}) beats the stored top-{k}")
                break
    if "evidence" in g:
        ev = g["evidence"]
        for e in np.flatnonzero(ev["row"][()] == row):
            feat = int(ev["feature"][e])
            vals = ev["values"][ev["indptr"][e]:ev["indptr"][e + 1]]
            if len(vals) != t1 - t0 or (np.abs(vals - f[:, feat]) > ATOL + RTOL * np.abs(f[:, feat])).any():
                failures.append(f"{where}: evidence values of feature {feat} differ from the reference")


def check_evidence_selection(h5, names, ref_max, failures):
    """Every evidence document is among its feature's strongest in its set (reference maxima, ties within EPS)."""
    n_docs = int(h5.attrs["evidence_docs"])
    for s in names:
        if "evidence" not in h5["sets"][s]:
            failures.append(f"{s}: no evidence group")
            continue
        ev = h5["sets"][s]["evidence"]
        m = np.stack(ref_max[s])
        for row, feat in zip(ev["row"][()], ev["feature"][()]):
            col = m[:, feat]
            kth = np.sort(col)[::-1][min(n_docs, len(col)) - 1]
            if col[row] < kth - EPS or col[row] <= 0:
                failures.append(f"{s}: evidence row {row} is not among feature {feat}'s {n_docs} strongest documents")
                return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, help="a saediff run folder (encoded.h5, demo-model/, report/)")
    ap.add_argument("--responses", required=True)
    args = ap.parse_args()
    failures = []

    outcomes, set_order = latest_outcomes(args.responses)
    h5 = h5py.File(os.path.join(args.run, "encoded.h5"), "r")
    names = [n.decode() if isinstance(n, bytes) else n for n in h5["sets"].attrs["names"]]
    assert names == set_order, f"sets {names} != {set_order}"
    pooling = h5.attrs["pooling"].decode() if isinstance(h5.attrs["pooling"], bytes) else h5.attrs["pooling"]
    layer = int(h5.attrs["layer"])
    threshold = float(h5.attrs["threshold"])

    model_dir = os.path.join(args.run, "demo-model")
    model = ref.load_llama(model_dir, layer)
    sae = ref.load_sae(os.path.join(model_dir, "sae.safetensors"))
    n_prefix = len(hf_tokenize([PREFIX])[0])
    assert n_prefix == 30, f"the chat-template prefix is {n_prefix} tokens, expected 30"

    ref_max = {}  # set -> list of dense [d_sae] float64 arrays
    n_checked = 0
    for s in names:
        g = h5["sets"][s]
        doc_ids = [d.decode() for d in g["doc_id"][()]]
        want_ok = [pid for (ss, pid), resp in outcomes.items() if ss == s and resp is not None]
        want_failed = [pid for (ss, pid), resp in outcomes.items() if ss == s and resp is None]
        if doc_ids != want_ok:
            failures.append(f"{s}: doc_id {doc_ids[:5]}... != {want_ok[:5]}...")
            continue
        failed = [d.decode() for d in g["failed_doc_id"][()]]
        if failed != want_failed:
            failures.append(f"{s}: failed_doc_id {failed} != {want_failed}")
        texts = [PREFIX + outcomes[(s, pid)].strip() + SUFFIX for pid in doc_ids]
        all_ids = hf_tokenize(texts)
        csr = {k: (g[k]["indptr"][()], g[k]["indices"][()], g[k]["values"][()]) for k in ("max", "sum", "count")}
        ref_max[s] = []
        for row, (pid, ids) in enumerate(zip(doc_ids, all_ids)):
            begin, end = (n_prefix, len(ids) - 1) if pooling == "content" else (0, len(ids))
            if int(g["n_tokens"][row]) != len(ids):
                failures.append(f"{s}/{pid}: n_tokens {g['n_tokens'][row]} != HF {len(ids)}")
                continue
            if int(g["n_pooled"][row]) != end - begin:
                failures.append(f"{s}/{pid}: n_pooled {g['n_pooled'][row]} != {end - begin}")
            with torch.no_grad():
                h = ref.llama_forward(model, ids)          # [T, d_model] float64
                f = ref.sae_encode(sae, h)[begin:end]       # [n_pooled, d_sae] float64
            mx = f.max(0).values.numpy() if end > begin else np.zeros(f.shape[1])
            sm = f.sum(0).numpy()
            ct = (f > 0).sum(0).numpy()
            near0 = (f.abs() < EPS).sum(0).numpy()
            ref_max[s].append(mx)
            ours = {}
            for k, (indptr, indices, values) in csr.items():
                a, b = indptr[row], indptr[row + 1]
                dense = np.zeros(f.shape[1])
                dense[indices[a:b]] = values[a:b]
                ours[k] = dense
            present_ours, present_ref = ours["max"] > 0, mx > 0
            bad = (present_ours != present_ref) & (np.maximum(ours["max"], mx) >= EPS)
            if bad.any():
                failures.append(f"{s}/{pid}: features {np.flatnonzero(bad)[:5]} present in one side only")
            for k, want in (("max", mx), ("sum", sm)):
                err = np.abs(ours[k] - want) - (ATOL + RTOL * np.abs(want))
                if (err > 0).any():
                    j = int(np.argmax(err))
                    failures.append(f"{s}/{pid}: {k}[{j}] = {ours[k][j]} vs reference {want[j]}")
            cdiff = np.abs(ours["count"] - ct)
            if (cdiff > near0).any():
                j = int(np.argmax(cdiff - near0))
                failures.append(f"{s}/{pid}: count[{j}] = {ours['count'][j]} vs reference {ct[j]}")
            check_token_rows(g, s, pid, row, ids[begin:end], outcomes[(s, pid)], pooling, f.numpy(), failures)
            n_checked += 1
        active = (np.stack(ref_max[s]) > threshold).sum(0)
        borderline = (np.abs(np.stack(ref_max[s]) - threshold) < EPS).any(0)
        mism = (active != g["active_docs"][()]) & ~borderline
        if mism.any():
            failures.append(f"{s}: active_docs differ from the reference at features {np.flatnonzero(mism)[:5]}")

    check_evidence_selection(h5, names, ref_max, failures)

    # features.csv against frequencies computed from the reference maxima.
    report = os.path.join(args.run, "report", "features.csv")
    with open(report, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    base, cand = "terse", "verbose"
    nb, nc = len(ref_max[base]), len(ref_max[cand])
    cb = (np.stack(ref_max[base]) > threshold).sum(0)
    cc = (np.stack(ref_max[cand]) > threshold).sum(0)
    border = (np.abs(np.concatenate([np.stack(ref_max[base]), np.stack(ref_max[cand])]) - threshold) < EPS).any(0)
    listed = {int(r["feature"]): r for r in rows}
    for j in np.flatnonzero(((cb + cc) > 0) & ~border):
        r = listed.get(int(j))
        if r is None:
            failures.append(f"features.csv lacks feature {j}")
            continue
        if (int(r["count_baseline"]), int(r["count_candidate"])) != (cb[j], cc[j]):
            failures.append(f"features.csv feature {j}: counts {r['count_baseline']},{r['count_candidate']} "
                            f"vs reference {cb[j]},{cc[j]}")
        if abs(float(r["diff"]) - (cc[j] / nc - cb[j] / nb)) > 1e-6:
            failures.append(f"features.csv feature {j}: diff {r['diff']}")
    # p- and q-values from exact rational arithmetic (printed with 6 significant digits).
    ps = [fisher_two_sided(int(r["count_candidate"]), nc, int(r["count_baseline"]), nb) for r in rows]
    qs = bh(ps)
    for r, p_ref, q_ref in zip(rows, ps, qs):
        for col, want in (("p_value", p_ref), ("q_value", q_ref)):
            if abs(float(r[col]) - want) > 1e-5 * want + 1e-300:
                failures.append(f"features.csv feature {r['feature']}: {col} {r[col]} vs exact {want:.6g}")
                break
    keys = [(-abs(int(r["count_candidate"]) * nb - int(r["count_baseline"]) * nc), int(r["feature"])) for r in rows]
    if keys != sorted(keys):
        failures.append("features.csv is not sorted by |diff| descending, then feature id")

    for msg in failures[:40]:
        print("FAIL:", msg)
    print(f"checked {n_checked} documents, {len(rows)} features.csv rows against the reference: "
          f"{len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
