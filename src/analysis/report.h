#pragma once
// The report folder: report.md, features.csv and summary.json.
#include <string>
#include <vector>

#include "analysis/diff.h"
#include "io/encoded_h5.h"

namespace saediff {

struct DiffSummary {
  int64_t n_baseline = 0;
  int64_t n_candidate = 0;
  int64_t n_failed_baseline = 0;
  int64_t n_failed_candidate = 0;
  int64_t n_features = 0;  // rows of features.csv
};

// Reads the encoded file, diffs the two sets and writes the report. Single process (rank 0).
DiffSummary run_diff(const DiffConfig& config, const std::string& resolved_config);

// Writes features.csv: feature,label,freq_baseline,freq_candidate,diff,count_baseline,count_candidate,
// sorted as diff_sets() returns them. Numbers are printed with fixed precision so that the file is
// byte-identical for identical counts.
void write_features_csv(const std::string& path, const std::vector<FeatureDiff>& rows,
                        const std::vector<std::string>& labels);

// labels.csv (feature,label) -> label per feature id ("" where absent).
std::vector<std::string> read_labels(const std::string& path, int64_t d_sae);

}  // namespace saediff
