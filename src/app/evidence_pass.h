#pragma once
// The encode stage's evidence pass: after the counts are reduced, every rank agrees on the features that
// differ most between the sets and on each one's strongest documents; the ranks that own those documents
// run them again and keep the exact per-token activations of those features (/sets/<set>/evidence).
#include <mpi.h>

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "io/encoded_h5.h"

namespace saediff {
class SpoolSource;
class LlamaModel;
class Sae;
}  // namespace saediff

namespace saediff {

// For every pair of sets (a, b), the n_features features with the largest c_b n_a - c_a n_b and the
// n_features with the smallest (below zero) - the ranking `saediff diff` uses, per direction - unioned and
// sorted. counts: [n_set * d_sae] documents with pooled max > threshold.
std::vector<int32_t> evidence_features(const std::vector<int64_t>& counts, const std::vector<SetLayout>& sets,
                                       int64_t d_sae, int n_features);

// Each rank's candidates for the evidence documents: for every (evidence feature, set), the n_docs documents with
// the strongest pooled max (ties: lower index) among those this rank has seen. Memory stays bounded by
// features x sets x n_docs however many documents pass through.
class EvidenceCandidates {
 public:
  EvidenceCandidates(std::vector<int32_t> features, int n_docs);
  void add(const PooledDoc& doc, int64_t set);
  // Collective over `comm`. Per document (global index): the evidence features whose n_docs strongest
  // documents in that set include it, ascending. The same on every rank, for any number of ranks.
  std::map<int64_t, std::vector<int32_t>> plan(MPI_Comm comm);

 private:
  using Candidate = std::tuple<int64_t, int64_t, int64_t, int64_t>;  // (feature, set, -max bits, doc): best first
  void prune();
  std::vector<int32_t> features_;
  int n_docs_;
  std::vector<Candidate> kept_;
  size_t limit_;
};

// The evidence stage's read: every planned document in this rank's run of documents, read again alone by the
// reader and the SAE, gives the exact per-token activations of its planned features ([features, n_pooled]).
// Adds each planned (document, feature) to its set's evidence rows, in plan order, on every rank.
std::vector<EvidenceValues> read_evidence(const std::map<int64_t, std::vector<int32_t>>& plan, SpoolSource& source,
                                          const LlamaModel& model, const Sae& sae, std::vector<SetLayout>& sets);

}  // namespace saediff
