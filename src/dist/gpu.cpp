// dist/gpu.h in a build without CUDA (gpu_cuda.cpp replaces this file's definitions when CUDA is found).
#include "dist/gpu.h"

#ifndef SAEDIFF_HAVE_CUDA
namespace saediff {

void bind_cuda_device(int) {}
std::string cuda_versions() { return "CPU only (built without CUDA)"; }
std::string nccl_versions() { return "no NCCL (built without it)"; }

}  // namespace saediff
#endif
