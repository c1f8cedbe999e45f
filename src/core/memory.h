#pragma once
// Memory accounting for logs and benchmarks: peak host memory (getrusage) and GPU memory in use
// (cudaMemGetInfo, when built with the CUDA toolkit).
#include <cstdint>
#include <optional>
#include <string>

namespace saediff {

int64_t peak_host_bytes();     // peak resident set of this process, bytes
int64_t current_host_bytes();  // resident set of this process now, bytes (/proc/self/statm; 0 if unknown)

struct GpuMemory {
  int64_t used = 0;   // bytes in use on the device (all processes; libtorch's caching allocator keeps its peak)
  int64_t total = 0;  // bytes on the device
};
// std::nullopt when the build has no CUDA toolkit or the query fails.
std::optional<GpuMemory> gpu_memory(int device);

inline double gib(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

// "peak host memory 1.23 GiB" plus ", GPU 0 memory in use 9.87 of 139.8 GiB" when cuda_device >= 0.
std::string memory_report(int cuda_device);

}  // namespace saediff
