#include "analysis/diff.h"

#include <algorithm>
#include <cstdlib>

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

std::vector<FeatureDiff> diff_sets(const std::vector<int64_t>& counts_baseline, int64_t n_baseline,
                                   const std::vector<int64_t>& counts_candidate, int64_t n_candidate) {
  SAEDIFF_CHECK(counts_baseline.size() == counts_candidate.size(), "the sets have different SAE widths");
  SAEDIFF_CHECK(n_baseline > 0 && n_candidate > 0, "both sets need at least one encoded document (baseline has ",
                n_baseline, ", candidate has ", n_candidate, ")");
  std::vector<FeatureDiff> out;
  for (size_t f = 0; f < counts_baseline.size(); ++f) {
    const int64_t cb = counts_baseline[f], cc = counts_candidate[f];
    if (cb == 0 && cc == 0) continue;
    FeatureDiff d;
    d.feature = static_cast<int32_t>(f);
    d.count_baseline = cb;
    d.count_candidate = cc;
    d.freq_baseline = static_cast<double>(cb) / static_cast<double>(n_baseline);
    d.freq_candidate = static_cast<double>(cc) / static_cast<double>(n_candidate);
    d.diff = d.freq_candidate - d.freq_baseline;
    d.p_value = fisher_exact_two_sided(cc, n_candidate, cb, n_baseline);
    out.push_back(d);
  }
  std::vector<double> p(out.size());
  for (size_t i = 0; i < out.size(); ++i) p[i] = out[i].p_value;
  const std::vector<double> q = benjamini_hochberg(p);
  for (size_t i = 0; i < out.size(); ++i) out[i].q_value = q[i];
  // |diff| * n_b * n_c = |c_c * n_b - c_b * n_c|: exact integer ranking.
  auto key = [&](const FeatureDiff& d) { return std::llabs(d.count_candidate * n_baseline - d.count_baseline * n_candidate); };
  std::sort(out.begin(), out.end(), [&](const FeatureDiff& a, const FeatureDiff& b) {
    const int64_t ka = key(a), kb = key(b);
    return ka != kb ? ka > kb : a.feature < b.feature;
  });
  return out;
}

}  // namespace saediff
