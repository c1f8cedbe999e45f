// NCCL reduction of feature counts. Built only when CMake finds CUDA and NCCL (SAEDIFF_HAVE_NCCL).
#include <cuda_runtime.h>
#include <nccl.h>

#include "dist/mpi.h"
#include "dist/reduce.h"

#define CUDA_CHECK(call)                                                                        \
  do {                                                                                          \
    const cudaError_t cuda_check_rc_ = (call);                                                  \
    if (cuda_check_rc_ != cudaSuccess)                                                          \
      ::saediff::throw_error(__FILE__, __LINE__, ::saediff::cat(#call, " failed: ", cudaGetErrorString(cuda_check_rc_))); \
  } while (0)

#define NCCL_CHECK(call)                                                                        \
  do {                                                                                          \
    const ncclResult_t nccl_check_rc_ = (call);                                                 \
    if (nccl_check_rc_ != ncclSuccess)                                                          \
      ::saediff::throw_error(__FILE__, __LINE__, ::saediff::cat(#call, " failed: ", ncclGetErrorString(nccl_check_rc_))); \
  } while (0)

namespace saediff {

bool nccl_device_present() {
  int n_device = 0;
  return cudaGetDeviceCount(&n_device) == cudaSuccess && n_device > 0;
}

void nccl_allreduce_counts(std::vector<int64_t>& counts, MPI_Comm comm) {
  int n_device = 0;
  CUDA_CHECK(cudaGetDeviceCount(&n_device));
  SAEDIFF_CHECK(n_device > 0, "the NCCL reduction needs a CUDA device, and this rank sees none");
  CUDA_CHECK(cudaSetDevice(mpi::local_rank() % n_device));

  ncclUniqueId id;
  if (mpi::comm_rank(comm) == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  MPI_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm));
  ncclComm_t nccl = nullptr;
  NCCL_CHECK(ncclCommInitRank(&nccl, mpi::comm_size(comm), id, mpi::comm_rank(comm)));

  cudaStream_t stream = nullptr;
  int64_t* device_counts = nullptr;  // [n] int64 on this rank's GPU
  const size_t bytes = counts.size() * sizeof(int64_t);
  try {
    CUDA_CHECK(cudaStreamCreate(&stream));
    CUDA_CHECK(cudaMalloc(&device_counts, std::max<size_t>(bytes, 8)));
    CUDA_CHECK(cudaMemcpyAsync(device_counts, counts.data(), bytes, cudaMemcpyHostToDevice, stream));
    NCCL_CHECK(ncclAllReduce(device_counts, device_counts, counts.size(), ncclInt64, ncclSum, nccl, stream));
    CUDA_CHECK(cudaMemcpyAsync(counts.data(), device_counts, bytes, cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
  } catch (...) {
    ncclCommAbort(nccl);  // never leave the other ranks waiting in the collective
    throw;
  }
  cudaFree(device_counts);
  cudaStreamDestroy(stream);
  NCCL_CHECK(ncclCommDestroy(nccl));
}

}  // namespace saediff
