#pragma once
// `saediff label`: relabels the report's top features with an LLM through the collector's
// OpenAI-compatible client, from positive and negative examples, and optionally scores each label by
// how well the LLM, given only the label, tells held-out positives from negatives.
#include <cstdint>
#include <string>

#include "collect/collector.h"

namespace saediff {

struct LabelConfig {
  std::string encoded;        // encoded.h5 (with text and token rows)
  std::string features;       // features.csv from diff (its order picks the features; its labels are the originals)
  std::string out;            // folder: llm_labels.json, requests/ (resumable), score-requests/
  std::string labeler;        // the labelling model's provider id, e.g. openai/gpt-4o-mini
  int top = 20;               // features labelled: the first rows of features.csv
  int positives = 6;          // top-activating documents shown per feature (from both sets)
  int negatives = 6;          // documents where the feature never fires, sampled with `seed`
  int held_out = 4;           // positives and negatives kept back for scoring, each
  int window = 24;            // tokens either side of the strongest token
  uint64_t seed = 1;
  bool score = false;         // ask a second round: which held-out examples fit the label?
  CollectConfig client;       // base_url, concurrency, timeouts, rpm, key, temperature, max_tokens
};

struct LabelSummary {
  int64_t n_features = 0;
  int64_t n_labelled = 0;     // with a parsed label
  int64_t n_unparsed = 0;     // answers that held no usable JSON
  int64_t n_failed = 0;       // requests that failed after retries
};

LabelSummary run_label(const LabelConfig& config);

}  // namespace saediff
