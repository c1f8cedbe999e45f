#pragma once
// Rank 0 hands out documents: it plans a length-balanced assignment and sends each rank its token ids.
#include <mpi.h>

#include <cstdint>
#include <vector>

namespace saediff {

struct DocWork {
  int64_t doc_index = 0;      // global document index
  int32_t pool_begin = 0;     // pooled token range [pool_begin, pool_end)
  int32_t pool_end = 0;
  std::vector<int32_t> ids;   // [n_token]
};

// Longest-processing-time assignment: documents in descending token count (ties: lower index first)
// each go to the least-loaded rank (ties: lower rank). Returns, per rank, its document positions in
// the order it should run them (longest first). Deterministic.
std::vector<std::vector<size_t>> plan_shards(const std::vector<int64_t>& n_tokens, int n_rank);

// Collective. On rank 0 `all` holds every document (ignored elsewhere); every rank returns its share.
std::vector<DocWork> distribute_documents(const std::vector<DocWork>& all, MPI_Comm comm);

}  // namespace saediff
