#include "app/encode_reduce.h"

#include "dist/mpi.h"

namespace saediff {

std::vector<int64_t> reduce_counts(const torch::Tensor& device_counts, SpoolSource& source, int64_t n_old_files,
                                   double threshold, ReduceBackend backend, std::vector<SetLayout>& sets) {
  const int64_t n_set = device_counts.size(0), d_sae = device_counts.size(1);
  // Counts of the documents an earlier run encoded (this run's are already on the device), then the reduction.
  std::vector<int64_t> host_counts(static_cast<size_t>(n_set * d_sae), 0);
  for (size_t i = 0; i < source.entries().size(); ++i) {
    if (source.entries()[i].file >= n_old_files) continue;
    const PooledDoc d = source.load(i);
    const size_t s = set_of(sets, d.doc_index);
    for (size_t k = 0; k < d.feature.size(); ++k) {
      if (d.max[k] > threshold) ++host_counts[s * static_cast<size_t>(d_sae) + static_cast<size_t>(d.feature[k])];
    }
  }
  const torch::Tensor counts = device_counts + torch::from_blob(host_counts.data(), {n_set, d_sae}, torch::kLong).to(device_counts.device());
  if (backend == ReduceBackend::nccl && counts.is_cuda()) {
    allreduce_counts_device(counts.data_ptr<int64_t>(), static_cast<size_t>(counts.numel()), MPI_COMM_WORLD);
    const torch::Tensor host = counts.to(torch::kCPU).contiguous();
    host_counts.assign(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + host.numel());
  } else {
    const torch::Tensor host = counts.to(torch::kCPU).contiguous();
    host_counts.assign(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + host.numel());
    allreduce_counts(host_counts, MPI_COMM_WORLD, backend);
  }
  for (size_t s = 0; s < sets.size(); ++s) {
    sets[s].active_docs.assign(host_counts.begin() + static_cast<ptrdiff_t>(s * static_cast<size_t>(d_sae)),
                               host_counts.begin() + static_cast<ptrdiff_t>((s + 1) * static_cast<size_t>(d_sae)));
  }
  return host_counts;
}

}  // namespace saediff
