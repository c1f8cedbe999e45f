#pragma once
// Features that agree: top features grouped by how they co-occur across documents (NPMI).
#include <cstdint>
#include <vector>

namespace saediff {

// Normalised pointwise mutual information of two features from document counts: n_a and n_b documents
// have each, n_ab both, of n in all. In [-1, 1]: 1 when they always occur together, 0 when independent,
// -1 when they never co-occur.
double npmi(int64_t n_a, int64_t n_b, int64_t n_ab, int64_t n);

struct FeatureCluster {
  std::vector<int32_t> features;  // in the order given to cluster_features
  double mean_npmi = 0.0;         // average pairwise NPMI inside the cluster
};

// Average-linkage agglomerative clustering of `features`: docs[i] lists (ascending) the documents where
// feature i is active, out of n_docs. Two clusters merge while their average pairwise NPMI is >= `min_npmi`;
// a pair seen together in fewer than `min_together` documents counts as NPMI 0 (too little evidence).
// Returns clusters of two or more features, largest first (ties: earliest first member).
// O(m^2) time: the pairs at or above min_npmi split the features into components that no cluster crosses, and
// each component is clustered by nearest-neighbour chain in O(k^2) time and k(k-1)/2 doubles for its k features
// (the largest component sets the memory: all m, 400 MB at 10,000, only if one pair chain links them all).
std::vector<FeatureCluster> cluster_features(const std::vector<int32_t>& features,
                                             const std::vector<std::vector<int64_t>>& docs, int64_t n_docs,
                                             double min_npmi, int64_t min_together = 3);

}  // namespace saediff
