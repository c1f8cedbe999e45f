#include "analysis/clusters.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace saediff {

namespace {

// NPMI from counts, ln(p_ab / (p_a p_b)) / -ln p_ab with p = count / n, written with `ln` of the counts: npmi() passes
// std::log, the clustering a table of them.
template <typename Log>
double npmi_of_counts(int64_t n_a, int64_t n_b, int64_t n_ab, int64_t n, const Log& ln) {
  if (n_ab == 0) return -1.0;
  if (n_ab == n) return 1.0;  // both in every document
  return (ln(n_ab) + ln(n) - ln(n_a) - ln(n_b)) / (ln(n) - ln(n_ab));
}

}  // namespace

double npmi(int64_t n_a, int64_t n_b, int64_t n_ab, int64_t n) {
  SAEDIFF_CHECK(n > 0 && 0 <= n_ab && n_ab <= std::min(n_a, n_b) && std::max(n_a, n_b) <= n, "bad co-occurrence counts");
  return npmi_of_counts(n_a, n_b, n_ab, n, [](int64_t k) { return std::log(static_cast<double>(k)); });
}

namespace {

// Each feature's documents as a bitset, and the NPMI of a pair from the popcount of their AND.
class Cooccurrence {
 public:
  Cooccurrence(const std::vector<std::vector<int64_t>>& docs, int64_t n_docs, int64_t min_together)
      : words_(static_cast<size_t>((n_docs + 63) / 64)), n_docs_(n_docs), min_together_(min_together),
        bits_(docs.size() * words_, 0), log_(static_cast<size_t>(n_docs) + 1, 0.0) {
    SAEDIFF_CHECK(n_docs > 0, "cluster_features: no documents");
    for (int64_t k = 1; k <= n_docs; ++k) log_[static_cast<size_t>(k)] = std::log(static_cast<double>(k));
    for (size_t i = 0; i < docs.size(); ++i) {
      for (int64_t d : docs[i]) {
        SAEDIFF_CHECK(d >= 0 && d < n_docs, "cluster_features: document ", d, " outside [0, ", n_docs, ")");
        bits_[i * words_ + static_cast<size_t>(d) / 64] |= uint64_t{1} << (d % 64);
      }
      int64_t n = 0;  // distinct documents (the lists are meant to be, but a repeat must not skew the logs)
      for (size_t w = 0; w < words_; ++w) n += std::popcount(bits_[i * words_ + w]);
      count_.push_back(n);
    }
  }
  double similarity(size_t i, size_t j) const {
    int64_t n_ab = 0;
    const uint64_t* a = &bits_[i * words_];
    const uint64_t* b = &bits_[j * words_];
    for (size_t w = 0; w < words_; ++w) n_ab += std::popcount(a[w] & b[w]);
    if (n_ab < min_together_) return 0.0;
    return npmi_of_counts(count_[i], count_[j], n_ab, n_docs_, [this](int64_t k) { return log_[static_cast<size_t>(k)]; });
  }

 private:
  size_t words_;
  int64_t n_docs_, min_together_;
  std::vector<uint64_t> bits_;
  std::vector<double> log_;  // ln k for k = 0..n_docs (ln 0 unused)
  std::vector<int64_t> count_;
};

// A symmetric matrix without its diagonal, stored as its upper triangle: m(m-1)/2 values.
class Condensed {
 public:
  explicit Condensed(size_t m) : m_(m), v_(m < 2 ? 0 : m * (m - 1) / 2) {}
  double& at(size_t i, size_t j) {
    if (i > j) std::swap(i, j);
    return v_[i * (2 * m_ - i - 1) / 2 + (j - i - 1)];
  }

 private:
  size_t m_;
  std::vector<double> v_;
};

size_t find_root(std::vector<size_t>& parent, size_t i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

// Average linkage by nearest-neighbour chain (Murtagh) over `items`: follow each cluster to its most similar one
// until two are each other's, and merge those. Average linkage is reducible, so this builds the hierarchy that
// merging the most similar pair each time would, in O(k^2) time and k(k-1)/2 linkages for k items. Ties go to the
// chain's previous cluster, then to the lowest index. Merges at or above `min_npmi` join `parent` (union-find).
void chain_merge(const Cooccurrence& co, const std::vector<size_t>& items, double min_npmi, std::vector<size_t>& parent) {
  const size_t k = items.size();
  Condensed link(k);  // average linkage between the live clusters, kept in their lowest member's slot
  for (size_t i = 0; i < k; ++i)
    for (size_t j = i + 1; j < k; ++j) link.at(i, j) = co.similarity(items[i], items[j]);
  std::vector<size_t> size(k, 1), chain;
  std::vector<bool> live(k, true);
  size_t n_live = k;
  while (n_live > 1) {
    if (chain.empty()) chain.push_back(static_cast<size_t>(std::find(live.begin(), live.end(), true) - live.begin()));
    const size_t a = chain.back();
    const size_t prev = chain.size() >= 2 ? chain[chain.size() - 2] : k;
    size_t b = prev;
    double best = prev < k ? link.at(a, prev) : -std::numeric_limits<double>::infinity();
    for (size_t c = 0; c < k; ++c) {
      if (!live[c] || c == a || c == prev) continue;
      const double l = link.at(a, c);
      if (l > best || (l == best && c < b && b != prev)) {
        best = l;
        b = c;
      }
    }
    if (b != prev) {
      chain.push_back(b);
      continue;
    }
    chain.resize(chain.size() - 2);
    // b joins a (into the lower slot); Lance-Williams for average linkage.
    const size_t keep = std::min(a, b), gone = std::max(a, b);
    for (size_t c = 0; c < k; ++c) {
      if (!live[c] || c == keep || c == gone) continue;
      link.at(keep, c) = (static_cast<double>(size[keep]) * link.at(keep, c) + static_cast<double>(size[gone]) * link.at(gone, c)) /
                         static_cast<double>(size[keep] + size[gone]);
    }
    size[keep] += size[gone];
    live[gone] = false;
    --n_live;
    // Linkage never rises along the hierarchy, so the merges at or above the threshold are the clusters that
    // merging while the best linkage is >= min_npmi leaves.
    if (best >= min_npmi) parent[find_root(parent, items[gone])] = find_root(parent, items[keep]);
  }
}

}  // namespace

std::vector<FeatureCluster> cluster_features(const std::vector<int32_t>& features,
                                             const std::vector<std::vector<int64_t>>& docs, int64_t n_docs,
                                             double min_npmi, int64_t min_together) {
  SAEDIFF_CHECK(features.size() == docs.size(), "cluster_features: one document list per feature");
  const size_t m = features.size();
  if (m < 2) return {};
  const Cooccurrence co(docs, n_docs, min_together);
  // Two clusters' average linkage reaches min_npmi only if one of their pairs does: clusters never cross the
  // components of the graph of such pairs, so each component is clustered alone (most are small; memory and time
  // follow the largest, not all m).
  std::vector<size_t> component(m), parent(m);
  for (size_t i = 0; i < m; ++i) component[i] = parent[i] = i;
  for (size_t i = 0; i < m; ++i)
    for (size_t j = i + 1; j < m; ++j)
      if (co.similarity(i, j) >= min_npmi) component[find_root(component, j)] = find_root(component, i);
  std::vector<std::vector<size_t>> groups(m);
  for (size_t i = 0; i < m; ++i) groups[find_root(component, i)].push_back(i);
  for (const std::vector<size_t>& g : groups)
    if (g.size() >= 2) chain_merge(co, g, min_npmi, parent);
  std::vector<std::vector<size_t>> members(m);
  for (size_t i = 0; i < m; ++i) members[find_root(parent, i)].push_back(i);
  std::vector<std::vector<size_t>> clusters;
  for (std::vector<size_t>& c : members)
    if (c.size() >= 2) clusters.push_back(std::move(c));
  std::sort(clusters.begin(), clusters.end(), [](const auto& x, const auto& y) { return x.front() < y.front(); });
  std::vector<FeatureCluster> out;
  for (const auto& c : clusters) {
    FeatureCluster fc;
    double s = 0;
    size_t pairs = 0;
    for (size_t a = 0; a < c.size(); ++a) {
      fc.features.push_back(features[c[a]]);
      for (size_t b = a + 1; b < c.size(); ++b, ++pairs) s += co.similarity(c[a], c[b]);
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
