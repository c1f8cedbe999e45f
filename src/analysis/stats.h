#pragma once
// Statistics of frequency differences between two sets of documents: intervals, exact and stratified
// tests, multiple-testing correction and effect sizes. Each function states the reference it matches;
// tests/integration/diff_stats.py checks them against SciPy and statsmodels.
#include <cstdint>
#include <utility>
#include <vector>

namespace saediff {

// Two-sided Fisher exact test of the 2x2 table [[a, n_a - a], [b, n_b - b]]: the probability, under the
// hypergeometric null with both margins fixed, of a table no more likely than the observed one
// (tables within a relative 1e-7 of its probability count as equally likely, as R does; SciPy uses 1e-14).
double fisher_exact_two_sided(int64_t a, int64_t n_a, int64_t b, int64_t n_b);

// Benjamini-Hochberg adjusted p-values (q-values), in the input order, capped at 1.
std::vector<double> benjamini_hochberg(const std::vector<double>& p);

// Wilson score interval for k successes in n trials at normal quantile z (1.959964 for 95%); SciPy's
// binomtest(k, n).proportion_ci(method="wilson"). n = 0 gives [0, 1].
std::pair<double, double> wilson_interval(int64_t k, int64_t n, double z = 1.959963984540054);

// Newcombe's hybrid score interval (method 10 of Newcombe 1998) for p_a - p_b, from the two Wilson intervals.
std::pair<double, double> newcombe_interval(int64_t k_a, int64_t n_a, int64_t k_b, int64_t n_b,
                                            double z = 1.959963984540054);

// Cohen's h = 2 asin(sqrt(p_a)) - 2 asin(sqrt(p_b)): the effect size of two proportions (0.2 small, 0.5
// medium, 0.8 large).
double cohens_h(double p_a, double p_b);

struct LogOddsRatio {
  double value = 0.0;    // ln OR of a over b, Haldane-Anscombe corrected (+0.5 to every cell)
  double ci_low = 0.0;   // Woolf 95% interval on the same corrected cells
  double ci_high = 0.0;
};
LogOddsRatio log_odds_ratio(int64_t k_a, int64_t n_a, int64_t k_b, int64_t n_b, double z = 1.959963984540054);

// One stratum of a stratified 2x2 analysis.
struct Stratum {
  int64_t k_a = 0, n_a = 0;  // set a: documents with the feature, documents
  int64_t k_b = 0, n_b = 0;  // set b
};

// Cochran-Mantel-Haenszel test of no association across strata, with continuity correction:
// (|sum a - sum E[a]| - c)^2 / sum Var[a] against chi-square(1), where c = min(0.5, |sum a - sum E[a]|) as in
// R's mantelhaen.test (statsmodels' StratifiedTable.test_null_odds(correction=True) always takes c = 0.5, and
// so gives p < 1 when the observed count is within 0.5 of its expectation). Strata with fewer than 2 documents
// carry no information and are skipped; 1 when none remain or the variance is 0.
double cmh_p_value(const std::vector<Stratum>& strata);

// Directly standardised difference sum_s w_s (p_a,s - p_b,s), w_s = (n_a,s + n_b,s) / sum over the strata
// where both sets have documents. NaN when no stratum has both.
double standardized_diff(const std::vector<Stratum>& strata);

// Exact two-sided McNemar test for paired binary outcomes: b pairs have the outcome only in the first
// member, c only in the second; 2 P(X <= min(b, c)) for X ~ Binomial(b + c, 1/2), capped at 1 (1 when
// b + c = 0). statsmodels' mcnemar(table, exact=True).
double mcnemar_exact(int64_t b, int64_t c);

// Upper tail of the chi-square distribution with 1 degree of freedom.
double chi2_sf_1df(double x);

}  // namespace saediff
