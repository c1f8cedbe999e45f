#pragma once
// Mean ± sample standard deviation of repeated measurements: every C++ benchmark reports its figures so.
#include <cmath>
#include <vector>

namespace saediff::bench {

struct Stats {
  double mean = 0.0;
  double sd = 0.0;  // sample standard deviation (0 for one value)
};

inline Stats stats(const std::vector<double>& x) {
  Stats s;
  if (x.empty()) return s;
  for (double v : x) s.mean += v / static_cast<double>(x.size());
  for (double v : x) s.sd += (v - s.mean) * (v - s.mean);
  s.sd = x.size() > 1 ? std::sqrt(s.sd / static_cast<double>(x.size() - 1)) : 0.0;
  return s;
}

}  // namespace saediff::bench
