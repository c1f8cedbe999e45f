#!/usr/bin/env python3
"""`saediff diff` statistics against SciPy, statsmodels and exact integer arithmetic, on synthetic encoded.h5 files.

usage: diff_stats.py [WORKDIR]     (default: a fresh temporary folder; needs $SAEDIFF, the saediff binary)

Writes encoded.h5 files with h5py in the layout saediff reads (README "encoded.h5"; src/io/encoded_h5.cpp), from
a seeded RNG, with planted differences: a feature 0.10 -> 0.40, one 0.50 -> 0.30, a rare 0.01 -> 0.05, a common
0.80 -> 0.85, one absent from the baseline, one absent from the candidate, one in every document, one active only
below the file's threshold (max values exactly 0.5 included), and two length features: the candidate's documents
are longer, one feature's rate depends on length only (equal rates in both sets within each length stratum: its raw
diff is significant, its length-controlled diff is not) and one differs within every stratum. Then runs
`saediff diff` with --threshold equal to the file's threshold and different from it (0.3, whose float32 neighbours
sit in the data; 0.25; 0), and --length-bins 4 (default), 6, 3 and 1, and checks features.csv column by column
(by name) and summary.json:

  counts           == documents with float32 max > threshold, recomputed from the synthetic matrices (exact)
  rows, order      every feature active in either set, by |c_c n_b - c_b n_c| descending (exact integers), then id
  freq_*, diff     c/n in double                         tol: printed half-unit (+1e-12)
  p_value          scipy.stats.fisher_exact two-sided    tol: printed half-unit + 1e-9 relative
                   (also checked against an exact big-integer Fisher test with stats.h's 1e-7 tie rule)
  q_value          statsmodels multipletests(fdr_bh) of the reference p-values   tol: half-unit + 1e-9 relative
  ci_*_baseline/candidate   scipy binomtest(k, n).proportion_ci("wilson")        tol: half-unit + 1e-12
  diff_ci_low/high Newcombe 1998 method 10, written out here from SciPy's Wilson limits  tol: half-unit + 1e-12
  log_odds_ratio, log_odds_ratio_ci_low, log_odds_ratio_ci_high
                   numpy, Haldane (+0.5 every cell) Woolf, written out here, and statsmodels
                   Table2x2(corrected cells).log_oddsratio(_confint) (an independent library)  tol: half-unit + 1e-12
  cohens_h, log2_ratio      numpy                        tol: half-unit + 1e-12
  diff_length_adjusted      exact fractions over the test's own strata          tol: half-unit + 1e-12
  p_paired, q_paired  statsmodels mcnemar(exact=True) over prompts answered in both sets, and BH  tol: half-unit + 1e-9 rel
  p_cmh            statsmodels StratifiedTable(...).test_null_odds(correction=True).pvalue over the length strata
                   (strata with < 2 documents dropped; 1 when the variance is 0 or |sum a - sum E| < 0.5, where
                   stats.h follows R's min(0.5, |d|) continuity correction)
                   tol: half-unit + 1e-12 absolute (statsmodels returns 1 - cdf), and half-unit + 1e-9 relative
                   against chi2.sf(statsmodels' statistic, 1)
  q_cmh            BH of those p-values over the same rows                      tol: half-unit + 1e-9 relative
  length_confounded  diff.h's rule from the reference values; planted: confounded 1, within-stratum 0
  rank_abs/rel/sig 1-based permutations: |diff| (exact integers), |log2_ratio| (exact rationals), p_value (exact
                   big-integer Fisher, as printed with %.6g), ties by feature id ascending
  length_strata    summary.json edges == the test's own strata (inverted-CDF quantiles by counting, ties together)

"Printed half-unit": the precision is read from each column of the file: a column whose numbers all have D
decimals and no exponent is taken as %.Df (half-unit 0.5e-D); otherwise %.Pg with P the most significant digits
any value shows (half-unit half of the P-th significant digit of the printed value). Bad input: active_docs that
disagree with the max rows (message must name active_docs), baseline == candidate, an unknown set (message must list
the file's sets). A column missing from features.csv is a failure that names it.
Prints one line per check, then "N passed, M failed"; exits 1 if any check failed.
"""
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from decimal import Decimal
from fractions import Fraction

import h5py
import numpy as np
import scipy.sparse
from scipy import stats
from statsmodels.stats.contingency_tables import StratifiedTable, Table2x2, mcnemar
from statsmodels.stats.multitest import multipletests

SAEDIFF = os.environ.get("SAEDIFF")
SEED = 20240611
D_SAE = 2000
N_BASE, N_CAND, N_OTHER = 300, 280, 20
BASE, CAND, OTHER = "gemini_2_0", "gemini_2_5", "other"
FILE_THRESHOLD = 0.5
ALPHA = 0.05  # saediff's --alpha default (diff.h)
Z95 = float(stats.norm.ppf(0.975))

# Planted features: (feature id, rate in the baseline, rate in the candidate); exactly round(rate * n) documents.
PLANTED = {
    "up": (101, 0.10, 0.40),
    "down": (202, 0.50, 0.30),
    "rare_up": (303, 0.01, 0.05),
    "common_up": (404, 0.80, 0.85),
    "new_in_candidate": (1999, 0.0, 0.15),  # all-zero in the baseline; also the last feature id
    "gone_in_candidate": (0, 0.12, 0.0),  # all-zero in the candidate; also feature id 0
    "always_on": (555, 1.0, 1.0),  # every document of both sets: Fisher p 1, CMH variance 0
}
F_CONFOUNDED = 606  # rate depends on length only: 0.05, 0.20, 0.45, 0.80 in the 4 length strata, in both sets
F_WITHIN = 707  # 0.15 in the baseline, 0.45 in the candidate, in every length stratum
F_SUBTHRESHOLD = 808  # only 0 < max <= 0.5: absent at threshold 0.5, present at 0.3, 0.25 and 0
CONFOUNDED_RATES = [0.05, 0.20, 0.45, 0.80]
WITHIN_RATES = (0.15, 0.45)
SIGNIFICANT_PLANTED = ["up", "down", "new_in_candidate", "gone_in_candidate"]

COLUMNS = ["feature", "label", "freq_baseline", "freq_candidate", "diff", "count_baseline", "count_candidate",
           "p_value", "q_value", "ci_low_baseline", "ci_high_baseline", "ci_low_candidate", "ci_high_candidate",
           "diff_ci_low", "diff_ci_high", "log2_ratio", "cohens_h", "log_odds_ratio", "log_odds_ratio_ci_low",
           "log_odds_ratio_ci_high",
           "diff_length_adjusted", "p_cmh", "q_cmh", "length_confounded", "rank_abs", "rank_rel", "rank_sig",
           "n_pairs", "only_baseline", "only_candidate", "p_paired", "q_paired", "q_cmh_significant"]

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True)
    return bool(ok)


# ---------------------------------------------------------------------------------------------- length strata

def strata_edges(values, n_bins):
    """Upper bounds (inclusive) of the length strata: for b = 1..n_bins the b/n_bins quantile by the inverted CDF,
    i.e. the smallest length x with at least b/n_bins of the documents having n_pooled <= x (by counting, in
    integers), duplicates dropped (ties stay in one stratum)."""
    values = np.asarray(values, dtype=np.int64)
    n = len(values)
    distinct = np.unique(values)
    at_or_below = np.array([int(np.count_nonzero(values <= x)) for x in distinct], dtype=object)
    edges = []
    for b in range(1, n_bins + 1):
        x = next(int(v) for v, c in zip(distinct, at_or_below) if c * n_bins >= b * n)
        if x not in edges:
            edges.append(x)
    return edges


def stratum_of(values, edges):
    """Stratum of each length: the first edge >= the length."""
    out = []
    for v in values:
        out.append(next(i for i, e in enumerate(edges) if int(v) <= e))
    return np.array(out, dtype=np.int64)


# ---------------------------------------------------------------------------------------------- synthetic data

def f32(x):
    return float(np.float32(x))


# Sub-threshold max values that sit on the thresholds the test uses: exactly 0.5 and 0.25 (never counted at those
# thresholds), float32(0.3) (> 0.3 in double, so counted at 0.3) and the float32 just below 0.3 (not counted).
EDGE_VALUES = np.array([0.5, 0.25, f32(0.3), float(np.nextafter(np.float32(0.3), np.float32(0))),
                        float(np.nextafter(np.float32(0.5), np.float32(0)))], dtype=np.float32)


def sub_threshold_values(rng, n):
    v = rng.uniform(1e-4, 0.5, n).astype(np.float32)
    edge = rng.random(n) < 0.3
    v[edge] = rng.choice(EDGE_VALUES, int(edge.sum()))
    return v


def firing_values(rng, n):
    return (0.5 + rng.uniform(1e-3, 3.5, n)).astype(np.float32)


def exact_docs(rng, rows, rate):
    """round(rate * len(rows)) of `rows`, at random."""
    k = int(round(rate * len(rows)))
    return rng.choice(rows, k, replace=False) if k else np.array([], dtype=np.int64)


def make_data():
    rng = np.random.default_rng(SEED)

    def lengths(n, median):
        x = rng.lognormal(np.log(median), 0.7, n)
        return np.clip(np.round(x / 5) * 5, 5, 4000).astype(np.int64)  # multiples of 5: many ties

    npool = {BASE: lengths(N_BASE, 90), CAND: lengths(N_CAND, 210), OTHER: lengths(N_OTHER, 120)}
    sizes = {BASE: N_BASE, CAND: N_CAND, OTHER: N_OTHER}

    # Background: 25% of features never fire; the others at the same rate in every set, log-uniform 0.3%..50%;
    # every feature has some sub-threshold activity (stored, counted only at low thresholds), some have none.
    rate = 10 ** rng.uniform(np.log10(0.003), np.log10(0.5), D_SAE)
    rate[rng.random(D_SAE) < 0.25] = 0.0
    sub = rng.uniform(0, 0.08, D_SAE)
    sub[rng.random(D_SAE) < 0.1] = 0.0
    mats = {}
    for name, n in sizes.items():
        m = np.zeros((n, D_SAE), dtype=np.float32)
        fire = rng.random((n, D_SAE)) < rate
        m[fire] = firing_values(rng, int(fire.sum()))
        below = ~fire & (rng.random((n, D_SAE)) < sub)
        m[below] = sub_threshold_values(rng, int(below.sum()))
        mats[name] = m

    def plant(name, f, docs, noise=0.1):
        m = mats[name]
        m[:, f] = 0
        m[docs, f] = firing_values(rng, len(docs))
        rest = np.setdiff1d(np.arange(m.shape[0]), docs)
        quiet = rest[rng.random(len(rest)) < noise]
        m[quiet, f] = sub_threshold_values(rng, len(quiet))

    for f, rb, rc in PLANTED.values():
        plant(BASE, f, exact_docs(rng, np.arange(N_BASE), rb))
        plant(CAND, f, exact_docs(rng, np.arange(N_CAND), rc))
    # Length features, by the test's own 4 strata over both sets (saediff's default --length-bins).
    edges = strata_edges(np.concatenate([npool[BASE], npool[CAND]]), 4)
    assert len(edges) == 4, f"synthetic lengths give only {len(edges)} strata"
    for name, which in ((BASE, 0), (CAND, 1)):
        s = stratum_of(npool[name], edges)
        conf, within = [], []
        for k in range(4):
            rows = np.flatnonzero(s == k)
            conf.extend(exact_docs(rng, rows, CONFOUNDED_RATES[k]))
            within.extend(exact_docs(rng, rows, WITHIN_RATES[which]))
        plant(name, F_CONFOUNDED, np.array(conf, dtype=np.int64))
        plant(name, F_WITHIN, np.array(within, dtype=np.int64))
    for name in (BASE, CAND):
        m = mats[name]
        m[:, F_SUBTHRESHOLD] = 0
        rows = np.flatnonzero(rng.random(m.shape[0]) < 0.3)
        m[rows, F_SUBTHRESHOLD] = sub_threshold_values(rng, len(rows))
        m[rows[:5], F_SUBTHRESHOLD] = 0.5  # exactly the file's threshold: never counted at 0.5

    sets = {}
    for name, n in sizes.items():
        prefix = {BASE: "p", CAND: "p", OTHER: "o"}[name]
        sets[name] = {
            "doc_id": [f"{prefix}_{i:04d}" for i in range(n)],
            "failed_doc_id": ["p_0900", "p_0901"] if name == BASE else [],
            "truncated_doc_id": ["p_0003", "p_0017", "p_0100"] if name == CAND else [],
            "n_pooled": npool[name],
            "n_tokens": npool[name] + 31,
            "max": mats[name],
            "category": [["code", "advice", "verbosity"][i % 3] for i in range(n)] if name != OTHER else None,
        }
    return sets


def utf8_strings(values):
    width = max([1] + [len(v.encode()) for v in values])
    return np.array([v.encode() for v in values], dtype=h5py.string_dtype("utf-8", width)).reshape(len(values))


def write_encoded(path, sets, order, active_override=None):
    """encoded.h5 as src/io/encoded_h5.cpp writes it: fixed-length UTF-8 strings, int64 scalars, CSR groups."""
    rng = np.random.default_rng(SEED + 1)
    with h5py.File(path, "w") as f:
        text = {"model": "synthetic/llama-3.1", "sae": "synthetic/sae.pth", "pooling": "content", "dtype": "float32",
                "version": "diff_stats.py", "commit": "none", "config": "# synthetic\n"}
        for k, v in text.items():
            f.attrs.create(k, np.array(v.encode(), dtype=h5py.string_dtype("utf-8", max(1, len(v.encode())))))
        for k, v in {"layer": 19, "d_model": 64, "d_sae": D_SAE, "n_rank": 1}.items():
            f.attrs.create(k, np.int64(v))
        f.attrs.create("threshold", np.float64(FILE_THRESHOLD))
        root = f.create_group("sets")
        root.attrs.create("names", utf8_strings(order))
        for name in order:
            s = sets[name]
            g = root.create_group(name)
            n = len(s["doc_id"])
            g.attrs.create("n_docs", np.int64(n))
            g.attrs.create("n_failed", np.int64(len(s["failed_doc_id"])))
            g.attrs.create("n_truncated", np.int64(len(s["truncated_doc_id"])))
            for key in ("doc_id", "failed_doc_id", "truncated_doc_id"):
                # An empty list gives a (0,) dataset of 1-byte strings, as saediff writes it.
                g.create_dataset(key, data=utf8_strings(s[key]))
            g.create_dataset("n_tokens", data=np.asarray(s["n_tokens"], dtype=np.int64))
            g.create_dataset("n_pooled", data=np.asarray(s["n_pooled"], dtype=np.int64))
            m = s["max"]
            active = (m.astype(np.float64) > FILE_THRESHOLD).sum(axis=0).astype(np.int64)
            if active_override is not None and name in active_override:
                active = active_override[name](active)
            ds = g.create_dataset("active_docs", data=active)
            ds.attrs.create("threshold", np.float64(FILE_THRESHOLD))
            csr = scipy.sparse.csr_matrix(m)
            csr.sort_indices()
            indptr = csr.indptr.astype(np.int64)
            indices = csr.indices.astype(np.int32)
            vmax = csr.data.astype(np.float32)
            assert (vmax > 0).all() and all((np.diff(indices[indptr[r]:indptr[r + 1]]) > 0).all() for r in range(n))
            n_pooled = np.repeat(np.asarray(s["n_pooled"]), np.diff(indptr))
            vcount = np.maximum(1, np.floor(rng.random(len(vmax)) * n_pooled)).astype(np.float32)
            vsum = (vmax * rng.uniform(1.0, 1.0 + vcount)).astype(np.float32)
            for gname, values in (("max", vmax), ("sum", vsum), ("count", vcount)):
                c = g.create_group(gname)
                c.create_dataset("indptr", data=indptr)
                c.create_dataset("indices", data=indices)
                c.create_dataset("values", data=values)
            if s["category"] is not None:
                g.create_dataset("category", data=utf8_strings(s["category"]))


# ---------------------------------------------------------------------------------------------- references

class ExactFisher:
    """Two-sided Fisher exact test in big integers, for a fixed pair of set sizes: P = sum of the hypergeometric
    probabilities of tables no more likely than the observed one, a table counting as equally likely when its
    probability is within a relative 1e-7 (stats.h's rule). Returns the numerator over C(n, n_a)."""

    def __init__(self, n_a, n_b):
        self.n_a, self.n_b, self.n = n_a, n_b, n_a + n_b
        self.denominator = math.comb(self.n, n_a)
        self.pmf = {}

    def numerator(self, a, b):
        k = a + b
        if k not in self.pmf:
            lo, hi = max(0, k - self.n_b), min(k, self.n_a)
            self.pmf[k] = (lo, [math.comb(k, x) * math.comb(self.n - k, self.n_a - x) for x in range(lo, hi + 1)])
        lo, pmf = self.pmf[k]
        obs = pmf[a - lo]
        return sum(p for p in pmf if p * 10**7 <= obs * (10**7 + 1))

    def near_tie(self, a, b):
        """True when some table is within a relative 1e-7 of the observed one's probability without being equal
        (SciPy's fisher_exact counts those with a relative 1e-14, stats.h's rule with 1e-7)."""
        lo, pmf = self.pmf[a + b]
        obs = pmf[a - lo]
        return any(p != obs and abs(p - obs) * 10**7 <= obs for p in pmf)


def fisher_scipy(kc, nc, kb, nb, cache={}):
    if (kc, nc, kb, nb) not in cache:
        cache[(kc, nc, kb, nb)] = float(stats.fisher_exact([[kc, nc - kc], [kb, nb - kb]], alternative="two-sided")[1])
    return cache[(kc, nc, kb, nb)]


def wilson(k, n, cache={}):
    if (k, n) not in cache:
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        cache[(k, n)] = (float(ci.low), float(ci.high))
    return cache[(k, n)]


def newcombe(k1, n1, k2, n2):
    """Newcombe (1998) method 10, hybrid score interval for p1 - p2 from the Wilson limits (l, u) of each."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1)
    l2, u2 = wilson(k2, n2)
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def log_odds_numpy(cc, nc, cb, nb):
    a, b, c, d = cc + 0.5, nc - cc + 0.5, cb + 0.5, nb - cb + 0.5
    value = float(np.log(a * d / (b * c)))
    se = float(np.sqrt(1 / a + 1 / b + 1 / c + 1 / d))
    return value, value - Z95 * se, value + Z95 * se


def log_odds_statsmodels(cc, nc, cb, nb):
    t = Table2x2(np.array([[cc, nc - cc], [cb, nb - cb]], dtype=np.float64) + 0.5, shift_zeros=False)
    lo, hi = t.log_oddsratio_confint(alpha=0.05, method="normal")
    return float(t.log_oddsratio), float(lo), float(hi)


def cmh_reference(tables):
    """tables: [(k_c, n_c, k_b, n_b)] per stratum. Returns (statsmodels p, chi2.sf(statsmodels' statistic), |dev|)."""
    kept = [t for t in tables if t[1] + t[3] >= 2]  # stats.h: strata with < 2 documents carry no information
    if not kept:
        return 1.0, 1.0, 0.0
    cube = np.dstack([np.array([[kc, nc - kc], [kb, nb - kb]], dtype=np.float64) for kc, nc, kb, nb in kept])
    st = StratifiedTable(cube)
    n = cube.sum(axis=(0, 1))
    var = np.sum(cube[0].sum(0) * cube[1].sum(0) * cube[:, 0].sum(0) * cube[:, 1].sum(0) / (n ** 2 * (n - 1)))
    dev = abs(float(np.sum(cube[0, 0] - cube[0].sum(0) * cube[:, 0].sum(0) / n)))
    if var <= 0:
        return 1.0, 1.0, dev  # stats.h: 1 when the variance is 0 (statsmodels gives 0/0)
    if dev < 0.5:
        # stats.h: the correction is min(0.5, |d|), as in R's mantelhaen.test, so the statistic is 0 and p = 1;
        # statsmodels always subtracts 0.5 and squares a negative number.
        return 1.0, 1.0, dev
    res = st.test_null_odds(correction=True)
    return float(res.pvalue), float(stats.chi2.sf(res.statistic, 1)), dev


# ---------------------------------------------------------------------------------------------- printed precision

def column_format(strings):
    """('fixed', D) when every finite value has D decimals and no exponent, else ('general', P) with P the most
    significant digits any value shows; None when the column carries no digits to read (integers only)."""
    finite = []
    for s in strings:
        try:
            if math.isfinite(float(s)):
                finite.append(s.strip())
        except ValueError:
            pass
    if not finite:
        return None
    if not any(c in s for s in finite for c in "eE"):
        decimals = {len(s.split(".")[1]) if "." in s else 0 for s in finite}
        if len(decimals) == 1 and decimals != {0}:
            return ("fixed", decimals.pop())
    sig = 0
    for s in finite:
        digits = Decimal(s).as_tuple().digits
        sig = max(sig, len(str(int("".join(map(str, digits))))) if any(digits) else 1)
    return ("general", sig) if sig > 1 else None


def half_unit(s, fmt):
    kind, digits = fmt
    if kind == "fixed":
        return 0.5 * 10.0 ** -digits
    d = Decimal(s)
    if d == 0:
        return 0.0
    return 0.5 * 10.0 ** (d.adjusted() - digits + 1)


def num(s):
    return float(s)


def flag(s):
    """A 0/1 column; true/false also read. None when it is neither."""
    return {"0": 0, "1": 1, "false": 0, "true": 1}.get(s.strip().lower())


def close(printed, ref, fmt, rel=0.0, abs_=0.0):
    try:
        v = num(printed)
    except ValueError:
        return False
    if math.isnan(ref) or math.isnan(v):
        return math.isnan(ref) and math.isnan(v)
    return abs(v - ref) <= half_unit(printed, fmt) * (1 + 1e-9) + rel * abs(ref) + abs_


# ---------------------------------------------------------------------------------------------- one diff run

def run_saediff(args, timeout=120):
    return subprocess.run([SAEDIFF, "diff"] + args, capture_output=True, text=True, timeout=timeout)


def compare_column(name, rows, col, refs, fmt, rel, abs_, ref_name, extra=None):
    bad = []
    for r, ref in zip(rows, refs):
        if not close(r[col], ref, fmt, rel, abs_):
            bad.append(f"feature {r['feature']}: {col} = {r[col]}, {ref_name} {ref!r}" + (extra(r) if extra else ""))
    check(f"{name}: {col} vs {ref_name} (tol half-unit of {fmt[0]} {fmt[1]} + {rel:g} rel + {abs_:g} abs)",
          not bad, f"{len(bad)} of {len(rows)} rows differ; first: " + "; ".join(bad[:4]) if bad else
          f"{len(rows)} rows")


def check_ranks(name, rows, col, key, what, tie_note=None):
    """col must be the 1-based rank of each row under `key` ascending; key(row) = (exact value, feature id)."""
    keys = {int(r["feature"]): key(r) for r in rows}
    got = {int(r["feature"]): int(r[col]) for r in rows}
    if not check(f"{name}: {col} is a 1-based permutation", sorted(got.values()) == list(range(1, len(rows) + 1))):
        return
    expected = sorted(keys, key=keys.get)
    bad = [f for i, f in enumerate(expected) if got[f] != i + 1]
    detail = f"{len(rows)} rows"
    if bad:
        # Walk saediff's order: a pair out of order by value, or an exact tie not in feature id order.
        theirs = sorted(got, key=got.get)
        misordered, tie_broken = [], []
        for a, b in zip(theirs, theirs[1:]):
            if keys[a][:-1] > keys[b][:-1]:
                misordered.append((a, b))
            elif keys[a][:-1] == keys[b][:-1] and a > b:
                tie_broken.append((a, b))
        detail = (f"{len(bad)} rows ranked otherwise (first: " +
                  ", ".join(f"feature {f} {col} {got[f]} expected {expected.index(f) + 1}" for f in bad[:3]) +
                  f"); in saediff's order, {len(misordered)} adjacent pairs are out of order by {what}" +
                  (f" (e.g. features {misordered[:3]})" if misordered else "") +
                  f", and {len(tie_broken)} adjacent pairs are exact ties of {what} not in feature id order" +
                  (f" (e.g. features {tie_broken[:3]}{tie_note(tie_broken) if tie_note else ''})" if tie_broken
                   else ""))
    check(f"{name}: {col} follows {what}, ties by feature id ascending", not bad, detail)


def check_run(name, h5, sets, threshold, bins, work, planted):
    """Runs diff with --threshold `threshold` (None: not passed, saediff's default 0.5) and --length-bins `bins`
    (None: not passed, default 4) and checks its features.csv and summary.json."""
    out = os.path.join(work, name)
    args = ["--encoded", h5, "--baseline", BASE, "--candidate", CAND, "--out", out]
    if threshold is not None:
        args += ["--threshold", repr(threshold)]
    if bins is not None:
        args += ["--length-bins", str(bins)]
    thr = 0.5 if threshold is None else threshold
    n_bins = 4 if bins is None else bins
    r = run_saediff(args)
    if not check(f"{name}: saediff diff {' '.join(args[6:]) or '(defaults)'} exits 0", r.returncode == 0,
                 "" if r.returncode == 0 else f"exit {r.returncode}: {r.stderr.strip()[-800:]}"):
        return
    with open(os.path.join(out, "features.csv"), newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        rows = list(reader)
    missing = [c for c in COLUMNS if c not in header]
    check(f"{name}: features.csv has every column", not missing,
          f"missing columns: {', '.join(missing)} (header: {','.join(header)})" if missing else "")
    have = lambda *cols: all(c in header for c in cols)  # noqa: E731

    mb, mc = sets[BASE]["max"].astype(np.float64), sets[CAND]["max"].astype(np.float64)
    nb, nc = mb.shape[0], mc.shape[0]
    act_b, act_c = mb > thr, mc > thr
    cb_all, cc_all = act_b.sum(axis=0), act_c.sum(axis=0)

    # Rows: every feature active in either set, in |diff| order computed exactly in integers, then by id.
    listed = [f for f in range(D_SAE) if cb_all[f] + cc_all[f] > 0]
    order = sorted(listed, key=lambda f: (-abs(int(cc_all[f]) * nb - int(cb_all[f]) * nc), f))
    got = [int(r["feature"]) for r in rows]
    check(f"{name}: rows are the features active in either set", sorted(got) == listed,
          f"{len(got)} rows, expected {len(listed)}; missing {sorted(set(listed) - set(got))[:8]}, "
          f"extra {sorted(set(got) - set(listed))[:8]}")
    if sorted(got) != listed:
        return
    first_bad = next((i for i, (a, b) in enumerate(zip(got, order)) if a != b), None)
    check(f"{name}: rows by |diff| descending (exact: |c_c n_b - c_b n_c|), ties by feature id",
          first_bad is None, f"row {first_bad}: feature {got[first_bad]}, expected {order[first_bad]}"
          if first_bad is not None else f"{len(rows)} rows")
    bad = [r["feature"] for r in rows if (int(r["count_baseline"]), int(r["count_candidate"])) !=
           (int(cb_all[int(r["feature"])]), int(cc_all[int(r["feature"])]))]
    check(f"{name}: counts == documents with float32 max > {thr!r}", not bad, f"features {bad[:8]}")
    cb = {f: int(cb_all[f]) for f in listed}
    cc = {f: int(cc_all[f]) for f in listed}
    F = lambda r: int(r["feature"])  # noqa: E731

    fmts = {}
    for col in header:
        if col not in COLUMNS or col in ("feature", "label", "count_baseline", "count_candidate", "length_confounded",
                                         "rank_abs", "rank_rel", "rank_sig", "n_pairs", "only_baseline",
                                         "only_candidate"):
            continue
        fmt = column_format([r[col] for r in rows])
        if fmt is None:
            fmt = ("general", 6)
            print(f"note {name}: column {col} shows no digits to read a precision from; taking %.6g")
        fmts[col] = fmt
    print(f"info {name}: printed precision read from features.csv: " +
          ", ".join(f"{c} %.{d}{'f' if k == 'fixed' else 'g'}" for c, (k, d) in fmts.items()))

    compare_column(name, rows, "freq_baseline", [cb[F(r)] / nb for r in rows], fmts["freq_baseline"], 0, 1e-12,
                   "c_b/n_b")
    compare_column(name, rows, "freq_candidate", [cc[F(r)] / nc for r in rows], fmts["freq_candidate"], 0, 1e-12,
                   "c_c/n_c")
    compare_column(name, rows, "diff", [cc[F(r)] / nc - cb[F(r)] / nb for r in rows], fmts["diff"], 0, 1e-12,
                   "c_c/n_c - c_b/n_b")

    # Fisher: SciPy, cross-checked against exact big integers (stats.h's 1e-7 rule for equally likely tables).
    exact = ExactFisher(nc, nb)
    p_exact_num = {f: exact.numerator(cc[f], cb[f]) for f in listed}
    p_ref, notes = {}, []
    for f in listed:
        p_scipy = fisher_scipy(cc[f], nc, cb[f], nb)
        p_ex = float(Fraction(p_exact_num[f], exact.denominator))
        if abs(p_scipy - p_ex) <= 1e-9 * p_ex:
            p_ref[f] = p_scipy
        elif exact.near_tie(cc[f], cb[f]):
            p_ref[f] = min(1.0, p_ex)  # a table within 1e-7 of the observed one: stats.h's rule, not SciPy's 1e-14
            notes.append(f)
        else:
            check(f"{name}: reference Fisher (SciPy vs exact integers) agree for feature {f}", False,
                  f"scipy {p_scipy!r}, exact {p_ex!r}")
            p_ref[f] = p_scipy
    if notes:
        print(f"note {name}: features {notes[:10]} have a table within 1e-7 of the observed one's probability; "
              "their reference p is the exact stats.h rule (SciPy uses 1e-14)")
    compare_column(name, rows, "p_value", [p_ref[F(r)] for r in rows], fmts["p_value"], 1e-9, 0,
                   "scipy.stats.fisher_exact")
    q_ref = dict(zip(listed, multipletests([p_ref[f] for f in listed], method="fdr_bh")[1]))
    compare_column(name, rows, "q_value", [float(q_ref[F(r)]) for r in rows], fmts["q_value"], 1e-9, 0,
                   "statsmodels fdr_bh")

    if have("ci_low_baseline", "ci_high_baseline", "ci_low_candidate", "ci_high_candidate"):
        for col, k, n, i in (("ci_low_baseline", cb, nb, 0), ("ci_high_baseline", cb, nb, 1),
                             ("ci_low_candidate", cc, nc, 0), ("ci_high_candidate", cc, nc, 1)):
            compare_column(name, rows, col, [wilson(k[F(r)], n)[i] for r in rows], fmts[col], 0, 1e-12,
                           "scipy binomtest wilson")
    if have("diff_ci_low", "diff_ci_high"):
        nw = {f: newcombe(cc[f], nc, cb[f], nb) for f in listed}
        compare_column(name, rows, "diff_ci_low", [nw[F(r)][0] for r in rows], fmts["diff_ci_low"], 0, 1e-12,
                       "Newcombe hybrid score (test's own, SciPy Wilson)")
        compare_column(name, rows, "diff_ci_high", [nw[F(r)][1] for r in rows], fmts["diff_ci_high"], 0, 1e-12,
                       "Newcombe hybrid score (test's own, SciPy Wilson)")
    if have("log2_ratio"):
        compare_column(name, rows, "log2_ratio",
                       [float(np.log2((cc[F(r)] + 0.5) / (nc + 1)) - np.log2((cb[F(r)] + 0.5) / (nb + 1)))
                        for r in rows],
                       fmts["log2_ratio"], 0, 1e-12, "numpy log2 ratio")
    if have("cohens_h"):
        compare_column(name, rows, "cohens_h",
                       [float(2 * np.arcsin(np.sqrt(cc[F(r)] / nc)) - 2 * np.arcsin(np.sqrt(cb[F(r)] / nb)))
                        for r in rows], fmts["cohens_h"], 0, 1e-12, "numpy Cohen's h")
    if have("log_odds_ratio", "log_odds_ratio_ci_low", "log_odds_ratio_ci_high"):
        lor_np = {f: log_odds_numpy(cc[f], nc, cb[f], nb) for f in listed}
        lor_sm = {f: log_odds_statsmodels(cc[f], nc, cb[f], nb) for f in listed}
        for i, col in enumerate(("log_odds_ratio", "log_odds_ratio_ci_low", "log_odds_ratio_ci_high")):
            compare_column(name, rows, col, [lor_np[F(r)][i] for r in rows], fmts[col], 0, 1e-12,
                           "numpy Haldane-Woolf (test's own formula)")
            compare_column(name, rows, col, [lor_sm[F(r)][i] for r in rows], fmts[col], 0, 1e-12,
                           "statsmodels Table2x2 on +0.5 cells")

    # Length strata: the test's own, from the lengths of both sets together.
    npb, npc = np.asarray(sets[BASE]["n_pooled"]), np.asarray(sets[CAND]["n_pooled"])
    edges = strata_edges(np.concatenate([npb, npc]), n_bins)
    sb, sc = stratum_of(npb, edges), stratum_of(npc, edges)
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    ls = summary.get("length_strata")
    theirs = ls if isinstance(ls, list) else ls.get("edges") if isinstance(ls, dict) else None
    check(f"{name}: summary.json length_strata edges == the test's strata ({n_bins} bins)",
          theirs is not None and [int(e) for e in theirs] == edges,
          f"saediff: {json.dumps(ls)}; test: {edges} (inverted-CDF quantiles of n_pooled over both sets, "
          "ties kept in one stratum)")
    check(f"{name}: summary.json sets, documents, failures, truncations, threshold",
          summary.get("baseline", {}).get("n_docs") == nb and summary.get("candidate", {}).get("n_docs") == nc and
          summary["baseline"].get("n_failed") == 2 and summary["candidate"].get("n_failed") == 0 and
          summary["baseline"].get("n_truncated") == 0 and summary["candidate"].get("n_truncated") == 3 and
          summary.get("threshold") == thr and summary.get("n_features_active") == len(listed),
          json.dumps({k: summary.get(k) for k in ("baseline", "candidate", "threshold", "n_features_active")}))

    per_b = {k: act_b[sb == k].sum(axis=0) for k in range(len(edges))}
    per_c = {k: act_c[sc == k].sum(axis=0) for k in range(len(edges))}
    docs_b = {k: int((sb == k).sum()) for k in range(len(edges))}
    docs_c = {k: int((sc == k).sum()) for k in range(len(edges))}
    tables = {f: [(int(per_c[k][f]), docs_c[k], int(per_b[k][f]), docs_b[k]) for k in range(len(edges))]
              for f in listed}

    def adjusted(f):
        num_, den = Fraction(0), 0
        for kc, nck, kb, nbk in tables[f]:
            if nck and nbk:
                num_ += (nck + nbk) * (Fraction(kc, nck) - Fraction(kb, nbk))
                den += nck + nbk
        return num_ / den if den else None

    adj = {f: adjusted(f) for f in listed}
    if have("diff_length_adjusted"):
        compare_column(name, rows, "diff_length_adjusted",
                       [float(adj[F(r)]) if adj[F(r)] is not None else math.nan for r in rows],
                       fmts["diff_length_adjusted"], 0, 1e-12, "exact standardised diff over the test's strata")
    cmh = {f: cmh_reference(tables[f]) for f in listed}
    if have("p_cmh"):
        def small_dev(r):
            dev = cmh[F(r)][2]
            return (f" (|sum a - sum E| = {dev:.4g}: below 0.5 statsmodels still subtracts the 0.5 continuity "
                    "correction, (|d| - 0.5)^2)" if dev < 0.5 else "")
        compare_column(name, rows, "p_cmh", [cmh[F(r)][0] for r in rows], fmts["p_cmh"], 0, 1e-12,
                       "statsmodels StratifiedTable.test_null_odds(correction=True).pvalue", small_dev)
        compare_column(name, rows, "p_cmh", [cmh[F(r)][1] for r in rows], fmts["p_cmh"], 1e-9, 0,
                       "chi2.sf(statsmodels statistic)", small_dev)
    q_cmh_ref = dict(zip(listed, multipletests([cmh[f][1] for f in listed], method="fdr_bh")[1]))
    if have("q_cmh"):
        compare_column(name, rows, "q_cmh", [float(q_cmh_ref[F(r)]) for r in rows], fmts["q_cmh"], 1e-9, 0,
                       "statsmodels fdr_bh of the CMH p-values")

    # BH of the CMH p-values over the features significant before control only (the family length control is
    # asked of); empty for the others.
    sig = [f for f in listed if float(q_ref[f]) < ALPHA]
    q_cmh_sig_ref = dict(zip(sig, multipletests([cmh[f][1] for f in sig], method="fdr_bh")[1])) if sig else {}
    if have("q_cmh_significant"):
        empty_ok = all((r["q_cmh_significant"] == "") == (F(r) not in q_cmh_sig_ref) for r in rows)
        check(f"{name}: q_cmh_significant is given exactly for the rows with q < {ALPHA}", empty_ok,
              f"{len(q_cmh_sig_ref)} rows")
        sig_rows = [r for r in rows if F(r) in q_cmh_sig_ref and r["q_cmh_significant"] != ""]
        if sig_rows:
            compare_column(name, sig_rows, "q_cmh_significant", [float(q_cmh_sig_ref[F(r)]) for r in sig_rows],
                           fmts["q_cmh_significant"], 1e-9, 0, "statsmodels fdr_bh of the CMH p-values of the significant rows")

    if have("length_confounded"):
        bad, skipped = [], 0
        for r in rows:
            f = F(r)
            diff = Fraction(cc[f], nc) - Fraction(cb[f], nb)
            q, qc, a = float(q_ref[f]), float(q_cmh_sig_ref.get(f, 1.0)), adj[f]
            if abs(q - ALPHA) <= 1e-9 * ALPHA or abs(qc - ALPHA) <= 1e-9 * ALPHA or (
                    a is not None and (abs(a) == abs(diff) / 2 or (a == 0 and diff == 0))):
                skipped += 1  # on a boundary of the rule: rounding decides
                continue
            shrinks = a is None or a * diff <= 0 or abs(a) < abs(diff) / 2
            expected = q < ALPHA and (qc >= ALPHA or shrinks)  # qc: q_cmh_significant
            if flag(r["length_confounded"]) != int(expected):
                bad.append(f"feature {f}: {r['length_confounded']}, expected {int(expected)} (q {q:.3g}, q_cmh "
                           f"{qc:.3g}, diff {float(diff):.4f}, adjusted {float(a) if a is not None else 'nan'})")
        check(f"{name}: length_confounded follows diff.h's rule (alpha {ALPHA})", not bad,
              f"{len(bad)} rows: " + "; ".join(bad[:4]) if bad else f"{len(rows) - skipped} rows, {skipped} on a "
              "boundary not checked")

    # Paired by prompt: baseline and candidate documents with the same doc_id (the synthetic sets share p_0000..).
    if have("n_pairs", "only_baseline", "only_candidate", "p_paired", "q_paired"):
        ids_b, ids_c = sets[BASE]["doc_id"], sets[CAND]["doc_id"]
        row_c = {d: i for i, d in enumerate(ids_c)}
        pairs = [(i, row_c[d]) for i, d in enumerate(ids_b) if d in row_c]
        pb = np.array([act_b[i] for i, _ in pairs])
        pc = np.array([act_c[j] for _, j in pairs])
        only_b = (pb & ~pc).sum(axis=0)
        only_c = (~pb & pc).sum(axis=0)
        bad = [F(r) for r in rows if (int(r["n_pairs"]), int(r["only_baseline"]), int(r["only_candidate"])) !=
               (len(pairs), int(only_b[F(r)]), int(only_c[F(r)]))]
        check(f"{name}: n_pairs, only_baseline, only_candidate counted over the {len(pairs)} paired prompts", not bad,
              f"features {bad[:8]}")
        p_mc = {f: float(mcnemar(np.array([[0, only_b[f]], [only_c[f], 0]]), exact=True).pvalue) for f in listed}
        compare_column(name, rows, "p_paired", [p_mc[F(r)] for r in rows], fmts["p_paired"], 1e-9, 1e-15,
                       "statsmodels mcnemar(exact=True)")
        q_mc = dict(zip(listed, multipletests([p_mc[f] for f in listed], method="fdr_bh")[1]))
        compare_column(name, rows, "q_paired", [float(q_mc[F(r)]) for r in rows], fmts["q_paired"], 1e-9, 1e-15,
                       "statsmodels fdr_bh of the McNemar p-values")

    if have("rank_abs"):
        check(f"{name}: rank_abs is the row number",
              [int(r["rank_abs"]) for r in rows] == list(range(1, len(rows) + 1)))
        check_ranks(name, rows, "rank_abs", lambda r: (-abs(cc[F(r)] * nb - cb[F(r)] * nc), F(r)), "|diff|")
    if have("rank_rel"):
        # |log2_ratio| compared exactly: the ratio is (2 c_c + 1)(n_b + 1) / ((2 c_b + 1)(n_c + 1)).
        def rel_key(r):  # noqa: E306
            ratio = Fraction((2 * cc[F(r)] + 1) * (nb + 1), (2 * cb[F(r)] + 1) * (nc + 1))
            return (-max(ratio, 1 / ratio), F(r))
        check_ranks(name, rows, "rank_rel", rel_key, "|log2_ratio| (exact rationals)")
    if have("rank_sig"):
        def p_one(pairs):
            ones = sum(1 for a, _ in pairs if p_exact_num[a] == exact.denominator)
            return f"; {ones} of these ties are at p = 1 exactly"
        # diff.h: p-values tie when they print the same (%.6g), then go by feature id.
        def sig_key(r):  # noqa: E306
            return (float("%.6g" % float(Fraction(p_exact_num[F(r)], exact.denominator))), F(r))
        check_ranks(name, rows, "rank_sig", sig_key, "p_value as printed (exact big-integer p, %.6g)", p_one)

    if planted:
        by_f = {F(r): r for r in rows}
        for label, (f, rb, rc) in PLANTED.items():
            r = by_f.get(f)
            want = (round(rb * nb), round(rc * nc))
            sign = (want[1] * nb > want[0] * nc) - (want[1] * nb < want[0] * nc)
            ok = r is not None and (int(r["count_baseline"]), int(r["count_candidate"])) == want and (
                (num(r["diff"]) > 0) - (num(r["diff"]) < 0)) == sign
            if label in SIGNIFICANT_PLANTED:
                ok = ok and num(r["q_value"]) < ALPHA
            check(f"{name}: planted {label} (feature {f}, {rb} -> {rc}) found with counts {want} and sign {sign:+d}"
                  + (", q < 0.05" if label in SIGNIFICANT_PLANTED else ""), ok, json.dumps(r))
        check(f"{name}: sub-threshold-only feature {F_SUBTHRESHOLD} (max values exactly 0.5 included) not listed",
              F_SUBTHRESHOLD not in by_f)
        rc_, rw = by_f.get(F_CONFOUNDED), by_f.get(F_WITHIN)
        check(f"{name}: length-confounded feature {F_CONFOUNDED} has a significant raw diff > 0",
              rc_ is not None and num(rc_["diff"]) > 0.1 and num(rc_["q_value"]) < ALPHA, json.dumps(rc_))
        check(f"{name}: within-stratum feature {F_WITHIN} has a significant raw diff > 0",
              rw is not None and num(rw["diff"]) > 0.1 and num(rw["q_value"]) < ALPHA, json.dumps(rw))
        if have("length_confounded", "q_cmh", "diff_length_adjusted"):
            check(f"{name}: feature {F_CONFOUNDED} is length-confounded (length_confounded 1, q_cmh >= {ALPHA}, "
                  "adjusted diff near 0)", flag(rc_["length_confounded"]) == 1 and num(rc_["q_cmh"]) >= ALPHA and
                  abs(num(rc_["diff_length_adjusted"])) < 0.05, json.dumps(rc_))
            check(f"{name}: feature {F_WITHIN} is not length-confounded (length_confounded 0, q_cmh < {ALPHA}, "
                  "adjusted diff near the raw one)", flag(rw["length_confounded"]) == 0 and num(rw["q_cmh"]) < ALPHA and
                  abs(num(rw["diff_length_adjusted"]) - (WITHIN_RATES[1] - WITHIN_RATES[0])) < 0.03, json.dumps(rw))
    elif threshold is not None and threshold < FILE_THRESHOLD:
        check(f"{name}: sub-threshold-only feature {F_SUBTHRESHOLD} listed below the file's threshold",
              F_SUBTHRESHOLD in got)


def check_failure(name, args, must_mention):
    r = run_saediff(args)
    text = r.stdout + r.stderr
    missing = [w for w in must_mention if w not in text]
    ok = r.returncode != 0 and not missing
    check(f"{name}: exits non-zero and says {', '.join(repr(w) for w in must_mention)}", ok,
          f"exit {r.returncode}, last line: {text.strip().splitlines()[-1] if text.strip() else ''}" if ok else
          f"exit {r.returncode}, output: {text.strip()[-600:]!r}")


def main():
    if not SAEDIFF:
        sys.exit("SAEDIFF must point at the saediff binary")
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="saediff-diff-stats-")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    sets = make_data()
    h5 = os.path.join(work, "encoded.h5")
    order = [CAND, OTHER, BASE]  # not in baseline/candidate order: sets are found by name
    write_encoded(h5, sets, order)
    with h5py.File(h5) as f:  # the file reads back as written
        ok = all(np.array_equal(f[f"sets/{s}/n_pooled"][:], sets[s]["n_pooled"]) for s in order)
        ok = ok and f["sets/gemini_2_5/failed_doc_id"].shape == (0,) and len(f["sets/gemini_2_0/failed_doc_id"]) == 2
    check("synthetic encoded.h5 written and read back with h5py", ok, h5)

    # (name, --threshold or None for the default 0.5, --length-bins or None for the default 4, planted checks)
    for name, threshold, bins, planted in (("t0.5", FILE_THRESHOLD, None, True), ("default-bins6", None, 6, False),
                                           ("t0.3", 0.3, None, False), ("t0.25-bins1", 0.25, 1, False),
                                           ("t0-bins3", 0.0, 3, False)):
        try:
            check_run(name, h5, sets, threshold, bins, work, planted)
        except Exception:  # a malformed output: report it and go on with the other runs
            check(f"{name}: checks ran to the end", False, traceback.format_exc())

    # Bad input.
    bad = os.path.join(work, "bad_active_docs.h5")

    def off_by_one(a):
        a = a.copy()
        a[101] += 1
        return a

    write_encoded(bad, sets, order, active_override={CAND: off_by_one})
    check_failure("active_docs disagreeing with the max rows",
                  ["--encoded", bad, "--baseline", BASE, "--candidate", CAND, "--threshold", "0.5",
                   "--out", os.path.join(work, "bad1")], ["active_docs"])
    check_failure("baseline == candidate", ["--encoded", h5, "--baseline", BASE, "--candidate", BASE,
                                            "--out", os.path.join(work, "bad2")], [BASE])
    check_failure("unknown set", ["--encoded", h5, "--baseline", BASE, "--candidate", "nosuch",
                                  "--out", os.path.join(work, "bad3")], ["nosuch", BASE, CAND, OTHER])

    n_fail = results.count(False)
    print(f"{results.count(True)} passed, {n_fail} failed")
    sys.exit(1 if n_fail else 0)


if __name__ == "__main__":
    main()
