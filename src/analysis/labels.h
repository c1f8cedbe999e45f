#pragma once
// Feature labels: Goodfire's (the JSON interp_embed uses), a CSV, or none; and labels written by
// `saediff label`.
#include <cstdint>
#include <string>
#include <vector>

namespace saediff {

// Where interp_embed finds Goodfire's labels for the Llama-3.1-8B-Instruct SAE.
inline constexpr const char* kGoodfireLabelsRepo = "nickjiang/feature_labels";
inline constexpr const char* kGoodfireLabelsFile = "goodfire/meta-llama/Llama-3.1-8B-Instruct.json";

struct FeatureLabels {
  std::vector<std::string> labels;  // [d_sae], "" where the source has none
  std::string source;               // the file read, or "" when none was
  int64_t n_labelled = 0;           // features with a non-empty label
  std::string missing_reason;       // why there are no labels, when there are none
};

// spec: a path to a JSON object {"<feature id>": "label", ...} (interp_embed's layout) or a CSV with
// columns feature,label; "hf" for Goodfire's labels from the local HF cache; "none", or "" (then
// missing_reason says how to add them). A given file that is missing, unreadable or malformed, or
// holds a feature id outside [0, d_sae), is an error; "hf" that is not in the cache is an error listing
// the paths searched.
FeatureLabels load_feature_labels(const std::string& spec, int64_t d_sae);

// `saediff label`'s answers, per feature: written to llm_labels.json, shown beside the original labels.
struct LlmLabel {
  int32_t feature = -1;
  std::string label;            // the LLM's short label
  std::string explanation;      // its one-sentence explanation
  std::string original;         // the label it was shown beside (may be empty)
  double score = -1.0;          // held-out detection accuracy in [0, 1]; -1 when not scored
  int64_t n_scored = 0;         // held-out examples behind the score
};

struct LlmLabels {
  std::string model;               // the labelling model id
  std::vector<LlmLabel> features;  // in the order written
};

LlmLabels read_llm_labels(const std::string& path);
void write_llm_labels(const std::string& path, const LlmLabels& labels);

}  // namespace saediff
