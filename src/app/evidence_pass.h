#pragma once
// The encode stage's evidence pass: after the counts are reduced, every rank agrees on the features that
// differ most between the sets and on each one's strongest documents; the ranks that own those documents
// run them again and keep the exact per-token activations of those features (/sets/<set>/evidence).
#include <mpi.h>

#include <cstdint>
#include <map>
#include <vector>

#include "io/encoded_h5.h"

namespace saediff {

// For every pair of sets (a, b), the n_features features with the largest c_b n_a - c_a n_b and the
// n_features with the smallest (below zero) - the ranking `saediff diff` uses, per direction - unioned and
// sorted. counts: [n_set * d_sae] documents with pooled max > threshold.
std::vector<int32_t> evidence_features(const std::vector<int64_t>& counts, const std::vector<SetLayout>& sets,
                                       int64_t d_sae, int n_features);

// Per document (global index): the evidence features whose n_docs strongest documents in that set (by pooled
// max, ties by lower index) include it, ascending. Collective over `comm`; the same on every rank, for any
// number of ranks.
std::map<int64_t, std::vector<int32_t>> plan_evidence(const std::vector<int32_t>& features, const std::vector<SetLayout>& sets,
                                                      const std::vector<PooledDoc>& mine, int n_docs, MPI_Comm comm);

}  // namespace saediff
