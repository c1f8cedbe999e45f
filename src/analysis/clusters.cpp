#include "analysis/clusters.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "core/error.h"

namespace saediff {

double npmi(int64_t n_a, int64_t n_b, int64_t n_ab, int64_t n) {
  SAEDIFF_CHECK(n > 0 && 0 <= n_ab && n_ab <= std::min(n_a, n_b) && std::max(n_a, n_b) <= n, "bad co-occurrence counts");
  if (n_ab == 0) return -1.0;
  const double p_a = static_cast<double>(n_a) / static_cast<double>(n);
  const double p_b = static_cast<double>(n_b) / static_cast<double>(n);
  const double p_ab = static_cast<double>(n_ab) / static_cast<double>(n);
  if (p_ab >= 1.0) return 1.0;  // both in every document
  return std::log(p_ab / (p_a * p_b)) / -std::log(p_ab);
}

std::vector<FeatureCluster> cluster_features(const std::vector<int32_t>& features,
                                             const std::vector<std::vector<int64_t>>& docs, int64_t n_docs,
                                             double min_npmi, int64_t min_together) {
  SAEDIFF_CHECK(features.size() == docs.size(), "cluster_features: one document list per feature");
  const size_t m = features.size();
  std::vector<double> sim(m * m, 0.0);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = i + 1; j < m; ++j) {
      std::vector<int64_t> both;
      std::set_intersection(docs[i].begin(), docs[i].end(), docs[j].begin(), docs[j].end(), std::back_inserter(both));
      const auto n_ab = static_cast<int64_t>(both.size());
      const double v = n_ab < min_together ? 0.0
                                           : npmi(static_cast<int64_t>(docs[i].size()), static_cast<int64_t>(docs[j].size()),
                                                  n_ab, n_docs);
      sim[i * m + j] = sim[j * m + i] = v;
    }
  }
  std::vector<std::vector<size_t>> clusters;
  for (size_t i = 0; i < m; ++i) clusters.push_back({i});
  const auto linkage = [&](const std::vector<size_t>& a, const std::vector<size_t>& b) {
    double s = 0;
    for (size_t i : a)
      for (size_t j : b) s += sim[i * m + j];
    return s / static_cast<double>(a.size() * b.size());
  };
  while (clusters.size() > 1) {
    double best = -2;
    size_t bi = 0, bj = 0;
    for (size_t i = 0; i < clusters.size(); ++i) {
      for (size_t j = i + 1; j < clusters.size(); ++j) {
        const double l = linkage(clusters[i], clusters[j]);
        if (l > best) {  // strict: the first best pair wins ties, so the result is deterministic
          best = l;
          bi = i;
          bj = j;
        }
      }
    }
    if (best < min_npmi) break;
    clusters[bi].insert(clusters[bi].end(), clusters[bj].begin(), clusters[bj].end());
    std::sort(clusters[bi].begin(), clusters[bi].end());
    clusters.erase(clusters.begin() + static_cast<std::ptrdiff_t>(bj));
  }
  std::vector<FeatureCluster> out;
  for (const auto& c : clusters) {
    if (c.size() < 2) continue;
    FeatureCluster fc;
    double s = 0;
    size_t pairs = 0;
    for (size_t a = 0; a < c.size(); ++a) {
      fc.features.push_back(features[c[a]]);
      for (size_t b = a + 1; b < c.size(); ++b, ++pairs) s += sim[c[a] * m + c[b]];
    }
    fc.mean_npmi = s / static_cast<double>(pairs);
    out.push_back(std::move(fc));
  }
  std::stable_sort(out.begin(), out.end(), [](const FeatureCluster& a, const FeatureCluster& b) {
    return a.features.size() > b.features.size();
  });
  return out;
}

}  // namespace saediff
