#pragma once
// The CUDA runtime calls saediff makes itself (tensors go through libtorch): binding a rank to its GPU and the
// versions `saediff --version` prints. Implemented in gpu_cuda.cpp, which is built only with CUDA and NCCL
// (SAEDIFF_HAVE_CUDA); without them these are no-ops that say so.
#include <string>

namespace saediff {

// Makes `index` the calling thread's current CUDA device (cudaSetDevice), once per process: libtorch's
// default stream, NCCL's communicator and every allocation then land on the rank's own GPU. Throws on a
// CUDA error. A no-op in a build without CUDA.
void bind_cuda_device(int index);

// "CUDA toolkit 12.4 (runtime 12.4, driver 12.8)", or "CPU only" in a build without CUDA. Never throws.
std::string cuda_versions();
// "NCCL 2.22.3 (built with 2.22.3)", or "no NCCL" in a build without it. Never throws.
std::string nccl_versions();

}  // namespace saediff
