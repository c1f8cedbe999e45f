#pragma once
// The report folder: report.md, report.html, features.csv, summary.json, SVG figures and
// analysis.ipynb, generated from encoded.h5.
#include <map>
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

// What features.csv shows beside the statistics, per feature id.
struct FeatureAnnotations {
  std::vector<std::string> labels;      // [d_sae] original labels ("" where none)
  std::vector<std::string> llm_labels;  // [d_sae] from `saediff label`, or empty
  std::map<int32_t, int> cluster;       // NPMI cluster number (1-based) of clustered top features
};

// Writes features.csv: feature,label,freq_baseline,freq_candidate,diff,count_baseline,count_candidate,p_value,
// q_value, then intervals, effect sizes, the length control, ranks, cluster and llm_label (README "features.csv"),
// sorted as diff_sets() returns them. Numbers have fixed precision, so identical counts give identical bytes.
void write_features_csv(const std::string& path, const std::vector<FeatureDiff>& rows, const FeatureAnnotations& notes);

}  // namespace saediff
