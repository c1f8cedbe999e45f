#include "core/parallel.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace saediff {

int resolve_threads(int n_threads) {
  if (n_threads > 0) return n_threads;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void parallel_for(size_t n, int n_threads, const std::function<void(size_t)>& fn) {
  const size_t n_worker = std::min(n, static_cast<size_t>(resolve_threads(n_threads)));
  if (n_worker <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  const auto work = [&] {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
      try {
        fn(i);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(n);
      }
    }
  };
  std::vector<std::thread> threads;
  try {
    for (size_t t = 1; t < n_worker; ++t) threads.emplace_back(work);
  } catch (...) {  // no more threads to be had (ulimit -u): stop, join those started, report
    next.store(n);
    for (std::thread& t : threads) t.join();
    throw;
  }
  work();
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace saediff
