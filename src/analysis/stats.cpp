#include "analysis/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
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

std::pair<double, double> wilson_interval(int64_t k, int64_t n, double z) {
  SAEDIFF_CHECK(0 <= k && k <= n, "bad proportion ", k, "/", n);
  if (n == 0) return {0.0, 1.0};
  const double nn = static_cast<double>(n), p = static_cast<double>(k) / nn, z2 = z * z;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  // Exact ends at k = 0 and k = n (the formula gives them up to rounding).
  return {k == 0 ? 0.0 : std::max(0.0, centre - half), k == n ? 1.0 : std::min(1.0, centre + half)};
}

std::pair<double, double> newcombe_interval(int64_t k_a, int64_t n_a, int64_t k_b, int64_t n_b, double z) {
  SAEDIFF_CHECK(n_a > 0 && n_b > 0, "newcombe_interval needs documents in both sets");
  const double p_a = static_cast<double>(k_a) / static_cast<double>(n_a);
  const double p_b = static_cast<double>(k_b) / static_cast<double>(n_b);
  const auto [l_a, u_a] = wilson_interval(k_a, n_a, z);
  const auto [l_b, u_b] = wilson_interval(k_b, n_b, z);
  const double d = p_a - p_b;
  return {d - std::sqrt((p_a - l_a) * (p_a - l_a) + (u_b - p_b) * (u_b - p_b)),
          d + std::sqrt((u_a - p_a) * (u_a - p_a) + (p_b - l_b) * (p_b - l_b))};
}

double cohens_h(double p_a, double p_b) { return 2 * std::asin(std::sqrt(p_a)) - 2 * std::asin(std::sqrt(p_b)); }

LogOddsRatio log_odds_ratio(int64_t k_a, int64_t n_a, int64_t k_b, int64_t n_b, double z) {
  const double a = static_cast<double>(k_a) + 0.5, b = static_cast<double>(n_a - k_a) + 0.5;
  const double c = static_cast<double>(k_b) + 0.5, d = static_cast<double>(n_b - k_b) + 0.5;
  LogOddsRatio r;
  r.value = std::log(a * d / (b * c));
  const double se = std::sqrt(1 / a + 1 / b + 1 / c + 1 / d);
  r.ci_low = r.value - z * se;
  r.ci_high = r.value + z * se;
  return r;
}

double mcnemar_exact(int64_t b, int64_t c) {
  SAEDIFF_CHECK(b >= 0 && c >= 0, "bad McNemar counts ", b, ", ", c);
  const int64_t n = b + c, m = std::min(b, c);
  if (n == 0) return 1.0;
  double p = 0.0;
  for (int64_t k = 0; k <= m; ++k) p += std::exp(log_choose(n, k) - static_cast<double>(n) * std::log(2.0));
  return std::min(1.0, 2 * p);
}

double chi2_sf_1df(double x) { return x <= 0 ? 1.0 : std::erfc(std::sqrt(x / 2)); }

double cmh_p_value(const std::vector<Stratum>& strata) {
  // Per stratum, with a = k_a, row sums n_a, n_b and column sum m = k_a + k_b of N = n_a + n_b:
  // E[a] = n_a m / N, Var[a] = n_a n_b m (N - m) / (N^2 (N - 1)).
  double sum_a = 0, sum_e = 0, sum_v = 0;
  for (const Stratum& s : strata) {
    const double na = static_cast<double>(s.n_a), nb = static_cast<double>(s.n_b), n = na + nb;
    if (n < 2) continue;
    const double m = static_cast<double>(s.k_a + s.k_b);
    sum_a += static_cast<double>(s.k_a);
    sum_e += na * m / n;
    sum_v += na * nb * m * (n - m) / (n * n * (n - 1));
  }
  if (sum_v <= 0) return 1.0;
  const double dev = std::max(0.0, std::abs(sum_a - sum_e) - 0.5);
  return chi2_sf_1df(dev * dev / sum_v);
}

double standardized_diff(const std::vector<Stratum>& strata) {
  double weighted = 0, total = 0;
  for (const Stratum& s : strata) {
    if (s.n_a == 0 || s.n_b == 0) continue;
    const double w = static_cast<double>(s.n_a + s.n_b);
    weighted += w * (static_cast<double>(s.k_a) / static_cast<double>(s.n_a) -
                     static_cast<double>(s.k_b) / static_cast<double>(s.n_b));
    total += w;
  }
  return total > 0 ? weighted / total : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace saediff
