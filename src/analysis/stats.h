#pragma once
// Significance of frequency differences: Fisher's exact test per feature and Benjamini-Hochberg q-values.
#include <cstdint>
#include <vector>

namespace saediff {

// Two-sided Fisher exact test of the 2x2 table [[a, n_a - a], [b, n_b - b]]: the probability, under the
// hypergeometric null with both margins fixed, of a table no more likely than the observed one
// (tables within a relative 1e-7 of its probability count as equally likely, as R and SciPy do).
double fisher_exact_two_sided(int64_t a, int64_t n_a, int64_t b, int64_t n_b);

// Benjamini-Hochberg adjusted p-values (q-values), in the input order, capped at 1.
std::vector<double> benjamini_hochberg(const std::vector<double>& p);

}  // namespace saediff
