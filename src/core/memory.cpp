#include "core/memory.h"

#include <sys/resource.h>

#include <unistd.h>

#include <cstdio>

#ifdef SAEDIFF_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace saediff {

int64_t peak_host_bytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // ru_maxrss is in KiB on Linux
}

int64_t current_host_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<int64_t>(resident) * static_cast<int64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

std::optional<GpuMemory> gpu_memory(int device) {
#ifdef SAEDIFF_HAVE_CUDA
  int previous = 0;
  if (cudaGetDevice(&previous) != cudaSuccess || cudaSetDevice(device) != cudaSuccess) return std::nullopt;
  size_t free = 0, total = 0;
  const bool ok = cudaMemGetInfo(&free, &total) == cudaSuccess;
  cudaSetDevice(previous);
  if (!ok) return std::nullopt;
  return GpuMemory{static_cast<int64_t>(total - free), static_cast<int64_t>(total)};
#else
  (void)device;
  return std::nullopt;
#endif
}

std::string memory_report(int cuda_device) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "peak host memory %.2f GiB", gib(peak_host_bytes()));
  std::string out = buf;
  if (cuda_device >= 0) {
    if (const auto m = gpu_memory(cuda_device)) {
      std::snprintf(buf, sizeof buf, ", GPU %d memory in use %.2f of %.2f GiB", cuda_device, gib(m->used),
                    gib(m->total));
      out += buf;
    } else {
      out += ", GPU memory unknown (built without the CUDA toolkit)";
    }
  }
  return out;
}

}  // namespace saediff
