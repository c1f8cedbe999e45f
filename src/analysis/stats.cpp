#include "analysis/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace saediff {
namespace {

double log_choose(int64_t n, int64_t k) {
  return std::lgamma(static_cast<double>(n + 1)) - std::lgamma(static_cast<double>(k + 1)) -
         std::lgamma(static_cast<double>(n - k + 1));
}

}  // namespace

double fisher_exact_two_sided(int64_t a, int64_t n_a, int64_t b, int64_t n_b) {
  SAEDIFF_CHECK(0 <= a && a <= n_a && 0 <= b && b <= n_b, "bad 2x2 table: ", a, "/", n_a, " vs ", b, "/", n_b);
  const int64_t n = n_a + n_b, k = a + b;  // documents, and documents with the feature
  const int64_t lo = std::max<int64_t>(0, k - n_b), hi = std::min<int64_t>(k, n_a);
  const double log_total = log_choose(n, n_a);
  auto log_p = [&](int64_t x) { return log_choose(k, x) + log_choose(n - k, n_a - x) - log_total; };
  const double observed = log_p(a);
  double p = 0.0;
  for (int64_t x = lo; x <= hi; ++x) {
    const double lx = log_p(x);
    if (lx <= observed + 1e-7) p += std::exp(lx);
  }
  return std::min(1.0, p);
}

std::vector<double> benjamini_hochberg(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) { return p[i] < p[j]; });
  std::vector<double> q(m);
  double running = 1.0;
  for (size_t r = m; r-- > 0;) {  // from the largest p down: q_(r) = min_{s >= r} p_(s) m / s
    running = std::min(running, p[order[r]] * static_cast<double>(m) / static_cast<double>(r + 1));
    q[order[r]] = std::min(1.0, running);
  }
  return q;
}

}  // namespace saediff
