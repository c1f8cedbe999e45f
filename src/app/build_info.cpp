#include "app/build_info.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <mpi.h>
#include <torch/version.h>

#include "core/error.h"
#include "dist/gpu.h"
#include "saediff/version.h"

namespace saediff {

namespace {

// libtorch's own CUDA runtime version, from the hooks that libtorch_cuda registers when it is linked in;
// a CPU-only libtorch's hooks throw instead.
std::string torch_cuda() {
  try {
    const long v = at::detail::getCUDAHooks().versionCUDART();
    return cat("with CUDA ", v / 1000, ".", (v % 1000) / 10);
  } catch (const std::exception&) {
    return "CPU only";
  }
}

// MPI_Get_library_version may be called before MPI_Init (MPI 3.0); its first line names the library.
std::string mpi_library() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int len = 0;
  if (MPI_Get_library_version(text, &len) != MPI_SUCCESS) return "unknown";
  std::string s(text, static_cast<size_t>(len));
  const size_t end = s.find_first_of(",\n");
  return end == std::string::npos ? s : s.substr(0, end);
}

}  // namespace

std::string build_info() {
  return cat("saediff ", kVersion, " (commit ", kGitCommit, ")\n",
             "libtorch ", TORCH_VERSION_MAJOR, ".", TORCH_VERSION_MINOR, ".", TORCH_VERSION_PATCH, " (", torch_cuda(), ")\n",
             "CUDA: ", cuda_versions(), "\n",
             "NCCL: ", nccl_versions(), "\n",
             "MPI: ", mpi_library(), " (MPI ", MPI_VERSION, ".", MPI_SUBVERSION, ")");
}

}  // namespace saediff
