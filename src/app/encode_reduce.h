#pragma once
// Encode stage: reduce (run_encode composes plan, dispatch, read, assemble, reduce, evidence). The per-set
// counts of documents whose pooled max > threshold: this run's, kept on the device by the reader, plus those of
// the documents an earlier run encoded (read back from this rank's share of the spool), summed over all ranks
// with NCCL on the device or with MPI. The result is every set's active_docs.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "app/encode_assemble.h"
#include "dist/reduce.h"

namespace saediff {

// Collective. Returns the global counts [n_set * d_sae] and fills sets[s].active_docs.
std::vector<int64_t> reduce_counts(const torch::Tensor& device_counts, SpoolSource& source, int64_t n_old_files,
                                   double threshold, ReduceBackend backend, std::vector<SetLayout>& sets);

}  // namespace saediff
