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

// Sums `n` int64 counts in this rank's GPU memory over the ranks of `comm` in place, with NCCL: the counts
// never leave the device. Needs a build with NCCL (throws otherwise).
void allreduce_counts_device(int64_t* device_counts, size_t n, MPI_Comm comm);

// The NCCL implementation (dist/reduce_nccl.cpp, built only with NCCL). One communicator per process and
// communicator: made on first use (its unique id sent over MPI), each rank on GPU local_rank % n_gpu.
void nccl_allreduce_counts(std::vector<int64_t>& counts, MPI_Comm comm);
void nccl_allreduce_device(int64_t* device_counts, size_t n, MPI_Comm comm);
bool nccl_device_present();

}  // namespace saediff
