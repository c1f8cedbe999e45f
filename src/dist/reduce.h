#pragma once
// Reduction of per-rank feature counts into global counts.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace saediff {

enum class ReduceBackend {
  mpi,   // MPI_Allreduce on host memory
  nccl,  // ncclAllReduce on device buffers (ranks with GPUs; needs a build with NCCL)
};

// True when this build has NCCL and this process sees at least one CUDA device.
bool nccl_usable();

// Sums `counts` element-wise over the ranks of `comm`; every rank ends with the total. Integer sums
// are exact, so the result does not depend on the rank count or the order of reduction.
void allreduce_counts(std::vector<int64_t>& counts, MPI_Comm comm, ReduceBackend backend);

// The NCCL implementation (dist/reduce_nccl.cpp, built only with NCCL).
void nccl_allreduce_counts(std::vector<int64_t>& counts, MPI_Comm comm);
bool nccl_device_present();

}  // namespace saediff
