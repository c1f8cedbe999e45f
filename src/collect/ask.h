#pragma once
// One model asked a list of prompts through the collector (collector.h): retries, resume, --rpm, key handling
// and usage come with it. `label` and `interpret` ask their LLM questions this way.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "collect/collector.h"

namespace saediff {

struct AskResult {
  std::map<std::string, std::string> answers;  // prompt id -> the latest successful answer (absent: it failed)
  CollectSummary summary;                      // this run's counts and usage (resumed answers are not requested)
};

// Writes `prompts` (id, text) as FOLDER/prompts.csv and collects them from `model_id` into FOLDER, resuming what
// an earlier run recorded there. Throws when a signal stopped it (run again to resume).
AskResult ask_model(const CollectConfig& client, const std::string& model_id, const std::string& folder,
                    const std::vector<std::pair<std::string, std::string>>& prompts, const std::string& what);

// Usage summed over several AskResults, as JSON: requests made now, failed, tokens and cost.
struct AskTotals {
  int64_t n_requested = 0, n_resumed = 0, n_failed = 0, n_retries = 0;
  ModelUsage usage;
  void add(const CollectSummary& s);
};

}  // namespace saediff
