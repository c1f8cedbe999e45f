// NCCL reduction of feature counts. Built only when CMake finds CUDA and NCCL (SAEDIFF_HAVE_NCCL).
#include <cuda_runtime.h>
#include <nccl.h>

#include "dist/gpu.h"
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

namespace {

ncclComm_t nccl = nullptr;
MPI_Comm made_for = MPI_COMM_NULL;

// Before MPI_Finalize (mpi::at_finalize): NCCL's communicator holds proxy threads and sockets of its own.
void destroy_communicator() {
  if (nccl != nullptr) ncclCommDestroy(nccl);
  nccl = nullptr;
  made_for = MPI_COMM_NULL;
}

// The process's NCCL communicator over `comm` (MPI_COMM_WORLD in practice), made once (again after an abort).
ncclComm_t& communicator(MPI_Comm comm) {
  static bool hook_registered = false;
  if (nccl != nullptr) {
    int same = MPI_UNEQUAL;
    MPI_CHECK(MPI_Comm_compare(comm, made_for, &same));
    SAEDIFF_CHECK(same == MPI_IDENT || same == MPI_CONGRUENT, "one NCCL communicator per process: already made for another MPI communicator");
    return nccl;
  }
  int n_device = 0;
  CUDA_CHECK(cudaGetDeviceCount(&n_device));
  SAEDIFF_CHECK(n_device > 0, "the NCCL reduction needs a CUDA device, and this rank sees none");
  bind_cuda_device(mpi::local_rank() % n_device);  // the same GPU encode's select_device bound, if it ran
  ncclUniqueId id;
  if (mpi::comm_rank(comm) == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  MPI_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, comm));
  NCCL_CHECK(ncclCommInitRank(&nccl, mpi::comm_size(comm), id, mpi::comm_rank(comm)));
  made_for = comm;
  if (!hook_registered) mpi::at_finalize(&destroy_communicator);
  hook_registered = true;
  return nccl;
}

}  // namespace

void nccl_allreduce_device(int64_t* device_counts, size_t n, MPI_Comm comm) {
  ncclComm_t& nccl = communicator(comm);
  CUDA_CHECK(cudaDeviceSynchronize());  // the counts are written by libtorch's streams
  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreate(&stream));
  try {
    NCCL_CHECK(ncclAllReduce(device_counts, device_counts, n, ncclInt64, ncclSum, nccl, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
  } catch (...) {
    ncclCommAbort(nccl);  // never leave the other ranks waiting in the collective
    nccl = nullptr;       // and never use the aborted communicator again
    cudaStreamDestroy(stream);
    throw;
  }
  cudaStreamDestroy(stream);
}

void nccl_allreduce_counts(std::vector<int64_t>& counts, MPI_Comm comm) {
  communicator(comm);  // binds this rank's GPU before the allocation
  int64_t* device_counts = nullptr;
  const size_t bytes = counts.size() * sizeof(int64_t);
  CUDA_CHECK(cudaMalloc(&device_counts, std::max<size_t>(bytes, 8)));
  try {
    CUDA_CHECK(cudaMemcpy(device_counts, counts.data(), bytes, cudaMemcpyHostToDevice));
    nccl_allreduce_device(device_counts, counts.size(), comm);
    CUDA_CHECK(cudaMemcpy(counts.data(), device_counts, bytes, cudaMemcpyDeviceToHost));
  } catch (...) {
    cudaFree(device_counts);
    throw;
  }
  cudaFree(device_counts);
}

}  // namespace saediff
