// CUDA runtime calls of saediff's own (dist/gpu.h). Built only with CUDA and NCCL (SAEDIFF_HAVE_CUDA).
#include <cuda_runtime.h>
#include <nccl.h>

#include "core/error.h"
#include "dist/gpu.h"

namespace saediff {

namespace {
std::string cuda_version_text(int v) { return cat(v / 1000, ".", (v % 1000) / 10); }
}  // namespace

void bind_cuda_device(int index) {
  static int bound = -1;
  if (bound == index) return;
  SAEDIFF_CHECK(bound < 0, "this rank is already bound to GPU ", bound, "; it cannot move to GPU ", index);
  const cudaError_t rc = cudaSetDevice(index);
  SAEDIFF_CHECK(rc == cudaSuccess, "cudaSetDevice(", index, ") failed: ", cudaGetErrorString(rc));
  bound = index;
}

std::string cuda_versions() {
  int runtime = 0, driver = 0;
  std::string text = "CUDA toolkit " + cuda_version_text(CUDART_VERSION);
  if (cudaRuntimeGetVersion(&runtime) == cudaSuccess) text += " (runtime " + cuda_version_text(runtime);
  else text += " (runtime unknown";
  if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0) text += ", driver " + cuda_version_text(driver) + ")";
  else text += ", no CUDA driver)";
  return text;
}

std::string nccl_versions() {
  int v = 0;
  const std::string built = cat(NCCL_MAJOR, ".", NCCL_MINOR, ".", NCCL_PATCH);
  if (ncclGetVersion(&v) != ncclSuccess) return "NCCL (built with " + built + ", library version unknown)";
  // NCCL_VERSION_CODE: X*10000 + Y*100 + Z since 2.9 (X*1000 + Y*100 + Z before).
  const int major = v >= 10000 ? v / 10000 : v / 1000;
  const int minor = v >= 10000 ? (v / 100) % 100 : (v / 100) % 10;
  return cat("NCCL ", major, ".", minor, ".", v % 100, " (built with ", built, ")");
}

}  // namespace saediff
