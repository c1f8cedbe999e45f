#include "analysis/diff.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <cstdio>
#include <numeric>
#include <tuple>

#include "analysis/stats.h"
#include "core/error.h"

namespace saediff {

std::vector<int64_t> active_counts(const EncodedSet& set, int64_t d_sae, double threshold) {
  SAEDIFF_CHECK(threshold >= 0.0, "threshold must be >= 0 (the file stores features with max > 0 only), got ", threshold);
  std::vector<int64_t> counts(static_cast<size_t>(d_sae), 0);
  for (size_t k = 0; k < set.max.indices.size(); ++k) {
    if (set.max.values[k] > threshold) ++counts[static_cast<size_t>(set.max.indices[k])];
  }
  return counts;
}

namespace {

// 1-based ranks of `rows` under `before` (a strict order).
template <typename Less>
void assign_ranks(std::vector<FeatureDiff>& rows, int64_t FeatureDiff::*rank, Less before) {
  std::vector<size_t> order(rows.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return before(rows[a], rows[b]); });
  for (size_t i = 0; i < order.size(); ++i) rows[order[i]].*rank = static_cast<int64_t>(i) + 1;
}

}  // namespace

std::vector<FeatureDiff> diff_sets(const std::vector<int64_t>& counts_baseline, int64_t n_baseline,
                                   const std::vector<int64_t>& counts_candidate, int64_t n_candidate) {
  SAEDIFF_CHECK(counts_baseline.size() == counts_candidate.size(), "the sets have different SAE widths");
  SAEDIFF_CHECK(n_baseline > 0 && n_candidate > 0, "both sets need at least one encoded document (baseline has ",
                n_baseline, ", candidate has ", n_candidate, ")");
  const auto nb = static_cast<double>(n_baseline), nc = static_cast<double>(n_candidate);
  std::vector<FeatureDiff> out;
  for (size_t f = 0; f < counts_baseline.size(); ++f) {
    const int64_t cb = counts_baseline[f], cc = counts_candidate[f];
    if (cb == 0 && cc == 0) continue;
    SAEDIFF_CHECK(cb <= n_baseline && cc <= n_candidate, "feature ", f, " is active in more documents than the set has");
    FeatureDiff d;
    d.feature = static_cast<int32_t>(f);
    d.count_baseline = cb;
    d.count_candidate = cc;
    d.freq_baseline = static_cast<double>(cb) / nb;
    d.freq_candidate = static_cast<double>(cc) / nc;
    d.diff = d.freq_candidate - d.freq_baseline;
    d.p_value = fisher_exact_two_sided(cc, n_candidate, cb, n_baseline);
    std::tie(d.ci_low_baseline, d.ci_high_baseline) = wilson_interval(cb, n_baseline);
    std::tie(d.ci_low_candidate, d.ci_high_candidate) = wilson_interval(cc, n_candidate);
    std::tie(d.diff_ci_low, d.diff_ci_high) = newcombe_interval(cc, n_candidate, cb, n_baseline);
    d.log2_ratio = std::log2((static_cast<double>(cc) + 0.5) / (nc + 1)) - std::log2((static_cast<double>(cb) + 0.5) / (nb + 1));
    d.cohens_h = cohens_h(d.freq_candidate, d.freq_baseline);
    const LogOddsRatio lor = log_odds_ratio(cc, n_candidate, cb, n_baseline);
    d.log_odds_ratio = lor.value;
    d.lor_ci_low = lor.ci_low;
    d.lor_ci_high = lor.ci_high;
    d.diff_length_adjusted = d.diff;
    d.p_cmh = d.p_value;
    out.push_back(d);
  }
  std::vector<double> p(out.size());
  for (size_t i = 0; i < out.size(); ++i) p[i] = out[i].p_value;
  const std::vector<double> q = benjamini_hochberg(p);
  for (size_t i = 0; i < out.size(); ++i) out[i].q_value = out[i].q_cmh = q[i];
  // |diff| * n_b * n_c = |c_c * n_b - c_b * n_c|: exact integer ranking.
  auto key = [&](const FeatureDiff& d) { return std::llabs(d.count_candidate * n_baseline - d.count_baseline * n_candidate); };
  const auto by_abs = [&](const FeatureDiff& a, const FeatureDiff& b) {
    const int64_t ka = key(a), kb = key(b);
    return ka != kb ? ka > kb : a.feature < b.feature;
  };
  std::sort(out.begin(), out.end(), by_abs);
  for (size_t i = 0; i < out.size(); ++i) out[i].rank_abs = static_cast<int64_t>(i) + 1;
  // |log2_ratio| compared exactly: the ratio is (2 c_c + 1)(n_b + 1) / ((2 c_b + 1)(n_c + 1)); as num / den >= 1.
  __extension__ using Wide = __int128;  // products of two int64 counts
  const auto ratio = [&](const FeatureDiff& d) {
    Wide num = static_cast<Wide>(2 * d.count_candidate + 1) * (n_baseline + 1);
    Wide den = static_cast<Wide>(2 * d.count_baseline + 1) * (n_candidate + 1);
    if (num < den) std::swap(num, den);
    return std::pair{num, den};
  };
  assign_ranks(out, &FeatureDiff::rank_rel, [&](const FeatureDiff& a, const FeatureDiff& b) {
    const auto [num_a, den_a] = ratio(a);
    const auto [num_b, den_b] = ratio(b);
    const Wide l = num_a * den_b, r = num_b * den_a;
    return l != r ? l > r : a.feature < b.feature;
  });
  // p-values as printed (6 significant digits): equal p-values computed along different roundings tie, and
  // ties go by feature id.
  std::vector<double> printed(counts_baseline.size(), 1.0);
  for (const FeatureDiff& d : out) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", d.p_value);
    printed[static_cast<size_t>(d.feature)] = std::strtod(buf, nullptr);
  }
  assign_ranks(out, &FeatureDiff::rank_sig, [&](const FeatureDiff& a, const FeatureDiff& b) {
    const double pa = printed[static_cast<size_t>(a.feature)], pb = printed[static_cast<size_t>(b.feature)];
    return pa != pb ? pa < pb : a.feature < b.feature;
  });
  return out;
}

LengthStrata length_strata(const std::vector<int64_t>& n_pooled_baseline, const std::vector<int64_t>& n_pooled_candidate,
                           int n_bins) {
  SAEDIFF_CHECK(n_bins >= 1, "--length-bins must be >= 1, got ", n_bins);
  std::vector<int64_t> all(n_pooled_baseline);
  all.insert(all.end(), n_pooled_candidate.begin(), n_pooled_candidate.end());
  std::sort(all.begin(), all.end());
  LengthStrata s;
  const auto n = static_cast<int64_t>(all.size());
  for (int64_t b = 1; b <= n_bins && n > 0; ++b) {
    const int64_t idx = (b * n + n_bins - 1) / n_bins - 1;  // ceil(b n / bins) - 1: the b-th quantile's order statistic
    const int64_t edge = all[static_cast<size_t>(idx)];
    if (s.edges.empty() || edge > s.edges.back()) s.edges.push_back(edge);
  }
  const auto stratum = [&](int64_t v) {
    return static_cast<int32_t>(std::lower_bound(s.edges.begin(), s.edges.end(), v) - s.edges.begin());
  };
  for (int64_t v : n_pooled_baseline) s.baseline.push_back(stratum(v));
  for (int64_t v : n_pooled_candidate) s.candidate.push_back(stratum(v));
  return s;
}

namespace {

// [stratum * d_sae + feature]: documents of `set` in the stratum whose max > threshold.
std::vector<int64_t> stratum_counts(const EncodedSet& set, const std::vector<int32_t>& stratum_of, int32_t n_strata,
                                    size_t d_sae, double threshold) {
  std::vector<int64_t> counts(static_cast<size_t>(n_strata) * d_sae, 0);
  for (size_t r = 0; r + 1 < set.max.indptr.size(); ++r) {
    const size_t base = static_cast<size_t>(stratum_of[r]) * d_sae;
    for (auto k = static_cast<size_t>(set.max.indptr[r]); k < static_cast<size_t>(set.max.indptr[r + 1]); ++k) {
      if (set.max.values[k] > threshold) ++counts[base + static_cast<size_t>(set.max.indices[k])];
    }
  }
  return counts;
}

}  // namespace

void apply_length_control(std::vector<FeatureDiff>& rows, const EncodedSet& baseline, const EncodedSet& candidate,
                          const LengthStrata& strata, double threshold, double alpha) {
  SAEDIFF_CHECK(strata.baseline.size() == baseline.doc_ids.size() && strata.candidate.size() == candidate.doc_ids.size(),
                "length strata do not match the sets");
  const int32_t n_strata = strata.n_strata();
  std::vector<int64_t> docs_b(static_cast<size_t>(n_strata), 0), docs_c(static_cast<size_t>(n_strata), 0);
  for (int32_t s : strata.baseline) ++docs_b[static_cast<size_t>(s)];
  for (int32_t s : strata.candidate) ++docs_c[static_cast<size_t>(s)];
  size_t d_sae = 0;
  for (const FeatureDiff& d : rows) d_sae = std::max(d_sae, static_cast<size_t>(d.feature) + 1);
  const std::vector<int64_t> cb = stratum_counts(baseline, strata.baseline, n_strata, d_sae, threshold);
  const std::vector<int64_t> cc = stratum_counts(candidate, strata.candidate, n_strata, d_sae, threshold);
  std::vector<double> p(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    FeatureDiff& d = rows[i];
    std::vector<Stratum> tables(static_cast<size_t>(n_strata));
    for (int32_t s = 0; s < n_strata; ++s) {
      const size_t at = static_cast<size_t>(s) * d_sae + static_cast<size_t>(d.feature);
      tables[static_cast<size_t>(s)] = {cc[at], docs_c[static_cast<size_t>(s)], cb[at], docs_b[static_cast<size_t>(s)]};
    }
    d.diff_length_adjusted = standardized_diff(tables);
    d.p_cmh = p[i] = cmh_p_value(tables);
  }
  const std::vector<double> q = benjamini_hochberg(p);
  // The control is asked of the differences the report would state, so its multiplicity family is those:
  // corrected over every active feature, a difference that keeps its size among answers of similar length
  // is still called confounded, only because fewer documents are comparable (docs/report.md).
  std::vector<size_t> significant;
  std::vector<double> p_significant;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].q_value < alpha) {
      significant.push_back(i);
      p_significant.push_back(p[i]);
    }
  }
  const std::vector<double> q_significant = benjamini_hochberg(p_significant);
  for (size_t k = 0; k < significant.size(); ++k) rows[significant[k]].q_cmh_significant = q_significant[k];
  for (size_t i = 0; i < rows.size(); ++i) {
    FeatureDiff& d = rows[i];
    d.q_cmh = q[i];
    const double adj = d.diff_length_adjusted;
    const bool shrinks = !std::isfinite(adj) || adj * d.diff <= 0 || std::abs(adj) < 0.5 * std::abs(d.diff);
    d.length_confounded = d.q_value < alpha && (!(d.q_cmh_significant < alpha) || shrinks);
  }
}

void apply_pairing(std::vector<FeatureDiff>& rows, const EncodedSet& baseline, const EncodedSet& candidate,
                   double threshold) {
  size_t d_sae = 0;
  for (const FeatureDiff& d : rows) d_sae = std::max(d_sae, static_cast<size_t>(d.feature) + 1);
  std::map<std::string, size_t> candidate_row;
  for (size_t r = 0; r < candidate.doc_ids.size(); ++r) candidate_row.emplace(candidate.doc_ids[r], r);
  std::vector<int64_t> only_b(d_sae, 0), only_c(d_sae, 0);
  int64_t n_pairs = 0;
  const auto active = [threshold](const EncodedSet& s, size_t r) {
    std::vector<int32_t> out;
    for (auto k = static_cast<size_t>(s.max.indptr[r]); k < static_cast<size_t>(s.max.indptr[r + 1]); ++k)
      if (s.max.values[k] > threshold) out.push_back(s.max.indices[k]);
    return out;  // ascending
  };
  for (size_t rb = 0; rb < baseline.doc_ids.size(); ++rb) {
    const auto it = candidate_row.find(baseline.doc_ids[rb]);
    if (it == candidate_row.end()) continue;
    ++n_pairs;
    const std::vector<int32_t> a = active(baseline, rb), b = active(candidate, it->second);
    size_t i = 0, j = 0;
    while (i < a.size() || j < b.size()) {
      if (j == b.size() || (i < a.size() && a[i] < b[j])) {
        if (static_cast<size_t>(a[i]) < d_sae) ++only_b[static_cast<size_t>(a[i])];
        ++i;
      } else if (i == a.size() || b[j] < a[i]) {
        if (static_cast<size_t>(b[j]) < d_sae) ++only_c[static_cast<size_t>(b[j])];
        ++j;
      } else {
        ++i;
        ++j;
      }
    }
  }
  std::vector<double> p(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    FeatureDiff& d = rows[i];
    d.n_pairs = n_pairs;
    d.only_baseline = only_b[static_cast<size_t>(d.feature)];
    d.only_candidate = only_c[static_cast<size_t>(d.feature)];
    d.p_paired = p[i] = mcnemar_exact(d.only_baseline, d.only_candidate);
  }
  const std::vector<double> q = benjamini_hochberg(p);
  for (size_t i = 0; i < rows.size(); ++i) rows[i].q_paired = q[i];
}

}  // namespace saediff
