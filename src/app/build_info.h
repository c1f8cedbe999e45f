#pragma once
// What `saediff --version` prints: saediff's version and commit, the libtorch it was built against (and whether
// that libtorch has CUDA), CUDA and NCCL (or "CPU only"), and the MPI library. Needs no MPI_Init.
#include <string>

namespace saediff {

std::string build_info();

}  // namespace saediff
