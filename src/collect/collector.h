#pragma once
// Response collection: every (prompt, model) pair through an OpenAI-compatible chat-completions API,
// concurrently with the libcurl multi interface, appending each outcome to DIR/responses.jsonl.
// Resumable: a pair with a successful record is never requested again; a torn last line is repaired.
#include <cstdint>
#include <string>
#include <vector>

namespace saediff {

struct ModelSpec {
  std::string set;  // NAME: the set label used in responses and reports
  std::string id;   // ID: the provider's model id, e.g. google/gemini-2.5-flash
};

ModelSpec parse_model_spec(const std::string& text);  // "NAME=ID"; throws on anything else

struct CollectConfig {
  std::string prompts;                                  // prompt CSV: id,category,prompt[,...]
  std::vector<ModelSpec> models;                        // one or more NAME=ID
  std::string out;                                      // output folder (created)
  std::string base_url = "https://openrouter.ai/api/v1";  // POST {base_url}/chat/completions
  int concurrency = 8;                                  // requests in flight
  int max_tokens = 1024;                                // per response
  double temperature = 0.0;
  int max_attempts = 4;                                 // per pair, per run (429/5xx/network retried)
  double timeout_s = 120.0;                             // per request
  double retry_base_s = 1.0;                            // backoff: base * 2^(attempt-1), jittered, or Retry-After
  std::string api_key_env = "OPENROUTER_API_KEY";       // the key is read from this variable, never logged
};

struct CollectSummary {
  int64_t n_pairs = 0;      // prompts x models
  int64_t n_skipped = 0;    // already collected before this run
  int64_t n_ok = 0;         // collected in this run
  int64_t n_failed = 0;     // still failing after max_attempts
};

// Runs on one process (rank 0). Also writes DIR/responses.csv. Throws saediff::Error on bad input.
CollectSummary collect_responses(const CollectConfig& config);

}  // namespace saediff
