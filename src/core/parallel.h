#pragma once
// A plain thread pool for coarse, independent work items (documents to tokenize).
#include <cstddef>
#include <functional>

namespace saediff {

// Threads to use for `n_threads`: itself when > 0, else every core this process may run on.
int resolve_threads(int n_threads);

// Runs fn(i) for every i in [0, n) on up to resolve_threads(n_threads) threads, items handed out one at
// a time in order. Returns when all are done; the first exception thrown by any fn(i) is rethrown here
// (the remaining items are skipped).
void parallel_for(size_t n, int n_threads, const std::function<void(size_t)>& fn);

}  // namespace saediff
