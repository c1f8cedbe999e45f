#pragma once
// Frequency diff between two sets of encoded documents.
#include <cstdint>
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
  int top_k = 25;               // features per direction in report.md
  int top_docs = 3;             // evidence documents per feature and set in report.md
  std::string labels;           // optional CSV with columns feature,label (e.g. Goodfire's feature labels)
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
};

// Documents per feature with pooled max > threshold. threshold must be >= 0 (only max > 0 is stored).
std::vector<int64_t> active_counts(const EncodedSet& set, int64_t d_sae, double threshold);

// Every feature active in either set, ranked by |diff| descending, ties by feature id ascending, with
// Fisher p-values and BH q-values (the family is the features returned).
// The ranking compares |c_c * n_b - c_b * n_c| exactly in integers, so it never depends on rounding.
std::vector<FeatureDiff> diff_sets(const std::vector<int64_t>& counts_baseline, int64_t n_baseline,
                                   const std::vector<int64_t>& counts_candidate, int64_t n_candidate);

}  // namespace saediff
