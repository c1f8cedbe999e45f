#pragma once
// Frequency diff between two sets of encoded documents, with intervals, tests, effect sizes and a
// length-controlled diff per feature.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "io/encoded_h5.h"

namespace saediff {

struct DiffConfig {
  std::string encoded;          // encoded.h5
  std::string baseline;         // set name
  std::string candidate;        // set name
  double threshold = 0.5;       // a document has a feature when its pooled max > threshold (0: reference binarisation)
  std::string out;              // report folder
  int top_k = 25;               // features per direction in the report
  int top_docs = 3;             // evidence documents per feature and set
  std::string labels;           // labels: a JSON {feature_id: label} or CSV feature,label file, "hf" (the Goodfire
                                // labels interp_embed uses, from the HF cache), or "none"
  std::string llm_labels;       // optional llm_labels.json from `saediff label`, shown beside the original labels
  int length_bins = 4;          // length strata (quantiles of pooled tokens over both sets) for the controlled diff
  double cluster_npmi = 0.3;    // top features join a cluster while their average-linkage NPMI is >= this
  double alpha = 0.05;          // q-value below which a difference is called significant
  std::string findings;         // optional findings.json from `saediff interpret`: the report leads with them
  bool findings_optional = false;  // findings made from other data are skipped with a warning, not refused (run's
                                   // diff-only jobs pick up OUT/interpret/findings.json by themselves)
};

struct FeatureDiff {
  int32_t feature = 0;
  int64_t count_baseline = 0;    // documents with max > threshold
  int64_t count_candidate = 0;
  double freq_baseline = 0.0;    // count / n_docs
  double freq_candidate = 0.0;
  double diff = 0.0;             // freq_candidate - freq_baseline
  double p_value = 1.0;          // two-sided Fisher exact test of the two proportions
  double q_value = 1.0;          // Benjamini-Hochberg over every feature active in either set
  double ci_low_baseline = 0.0, ci_high_baseline = 1.0;    // Wilson 95%
  double ci_low_candidate = 0.0, ci_high_candidate = 1.0;  // Wilson 95%
  double diff_ci_low = -1.0, diff_ci_high = 1.0;           // Newcombe hybrid score 95% interval of diff
  double log2_ratio = 0.0;       // log2((c_c + 0.5) / (n_c + 1)) - log2((c_b + 0.5) / (n_b + 1)): relative change
  double cohens_h = 0.0;         // 2 asin sqrt(freq_candidate) - 2 asin sqrt(freq_baseline)
  double log_odds_ratio = 0.0, lor_ci_low = 0.0, lor_ci_high = 0.0;  // candidate over baseline, +0.5 corrected
  double diff_length_adjusted = 0.0;  // diff standardised over length strata (NaN without common strata)
  double p_cmh = 1.0;            // Cochran-Mantel-Haenszel over the length strata
  double q_cmh = 1.0;            // Benjamini-Hochberg of p_cmh over the same features
  // Benjamini-Hochberg of p_cmh over the features significant before control (q_value < alpha) only: the
  // family of the question "does this reported difference survive length control?". NaN for the others.
  double q_cmh_significant = std::numeric_limits<double>::quiet_NaN();
  bool length_confounded = false;  // significant, but not after length control (see apply_length_control)
  // Paired by prompt (documents of the two sets with the same doc_id): pairs where only the baseline /
  // only the candidate has the feature, and the exact McNemar test of them, with BH q over the rows.
  int64_t n_pairs = 0, only_baseline = 0, only_candidate = 0;
  double p_paired = 1.0, q_paired = 1.0;
  // 1-based ranks by |diff|, |log2_ratio| (both exact, in integers) and p_value as printed (6 significant
  // digits); ties by feature id.
  int64_t rank_abs = 0, rank_rel = 0, rank_sig = 0;
};

// Documents per feature with pooled max > threshold. threshold must be >= 0 (only max > 0 is stored).
std::vector<int64_t> active_counts(const EncodedSet& set, int64_t d_sae, double threshold);

// Every feature active in either set, ranked by |diff| descending, ties by feature id ascending, with
// Fisher p-values and BH q-values (the family is the features returned), intervals, effect sizes and the
// three ranks. The ranking compares |c_c * n_b - c_b * n_c| exactly in integers, so it never depends on
// rounding. Length-control fields are left at their defaults.
std::vector<FeatureDiff> diff_sets(const std::vector<int64_t>& counts_baseline, int64_t n_baseline,
                                   const std::vector<int64_t>& counts_candidate, int64_t n_candidate);

// Length strata: per document of each set, its stratum in [0, n_bins), from quantile edges of the pooled
// token counts of both sets together (ties kept in one stratum, so there may be fewer strata than asked).
struct LengthStrata {
  std::vector<int64_t> edges;  // upper bounds (inclusive) of each stratum's n_pooled
  std::vector<int32_t> baseline, candidate;  // stratum per document
  int32_t n_strata() const { return static_cast<int32_t>(edges.size()); }
};
LengthStrata length_strata(const std::vector<int64_t>& n_pooled_baseline, const std::vector<int64_t>& n_pooled_candidate,
                           int n_bins);

// Fills diff_length_adjusted, p_cmh, q_cmh, q_cmh_significant and length_confounded in `rows`: the counts per
// stratum come from the documents' max rows. A feature is length-confounded when q_value < alpha and either
// q_cmh_significant >= alpha, or the standardised diff keeps less than half of the raw diff or changes sign.
void apply_length_control(std::vector<FeatureDiff>& rows, const EncodedSet& baseline, const EncodedSet& candidate,
                          const LengthStrata& strata, double threshold, double alpha);

// Fills the paired fields of `rows`: documents of the two sets with the same doc_id are one pair.
void apply_pairing(std::vector<FeatureDiff>& rows, const EncodedSet& baseline, const EncodedSet& candidate,
                   double threshold);

}  // namespace saediff
