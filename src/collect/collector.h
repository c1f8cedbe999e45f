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
  int concurrency = 16;                                 // requests in flight, at most
  int max_tokens = 1024;                                // per response
  double temperature = 0.0;
  int max_attempts = 4;                                 // per pair, per run (429/5xx/network/bad bodies retried)
  double timeout_s = 120.0;                             // per request, whole transfer
  int64_t max_response_bytes = int64_t{4} << 20;        // a larger reply body fails its pair
  double connect_timeout_s = 15.0;                      // per connection attempt
  double retry_base_s = 1.0;                            // backoff: base * 2^(attempt-1), jittered, or Retry-After
  double rpm = 0.0;                                     // requests started per minute, at most (0: no limit)
  std::string api_key_env = "OPENROUTER_API_KEY";       // the key is read from this variable, never logged
  std::string api_key_file;                             // or from this file (first line), when given
  bool no_key = false;                                  // send none (a loopback --base-url only: a test server)
  std::string reasoning;  // JSON object sent as "reasoning" (OpenRouter: {"max_tokens": N} / {"effort": ...} /
                          // {"enabled": false}, "exclude"); empty: not sent, the provider's default applies
  std::string extra_body;  // JSON object merged into every request body (e.g. {"usage": {"include": true}})
  double progress_interval_s = 10.0;  // seconds between progress lines when stderr is not a terminal
};

// Per set (model) totals of this run, from the API's usage objects.
struct ModelUsage {
  int64_t n_ok = 0, n_failed = 0, n_truncated = 0;  // truncated: finish_reason "length"
  int64_t prompt_tokens = 0, completion_tokens = 0, reasoning_tokens = 0;
  double cost = 0.0;        // in the API's currency (OpenRouter: USD credits), where it reports one
  bool has_cost = false;
};

struct CollectSummary {
  int64_t n_pairs = 0;      // prompts x models
  int64_t n_skipped = 0;    // already collected before this run
  int64_t n_ok = 0;         // collected in this run
  int64_t n_failed = 0;     // still failing after max_attempts
  int64_t n_retries = 0;    // requests repeated after a retryable failure
  int interrupted_by = 0;   // SIGINT/SIGTERM number when the run stopped early (resume to finish), else 0
  std::vector<std::pair<std::string, ModelUsage>> usage;  // per set, in --model order
};

// Runs on one process (rank 0). Also writes DIR/responses.csv and DIR/collect_summary.json. Throws
// saediff::Error on bad input, and at once when the API refuses the key (401). SIGINT/SIGTERM stop it
// cleanly: nothing more is started, transfers in flight are dropped (they are requested again on resume),
// and everything recorded stays.
CollectSummary collect_responses(const CollectConfig& config);

// The API key: the first line of config.api_key_file when given, else the variable config.api_key_env.
std::string read_api_key(const CollectConfig& config);

// `text` with every occurrence of `key`, and with `bearer_values` every "Bearer <token>" value (any case), replaced
// by "[redacted]": what a server sends back passes through it before it is stored or logged, since some proxies
// echo the request's key (an answer loses only the key itself; an error body, Bearer values too). A key shorter
// than 8 characters is not searched for (it would match words).
std::string scrub_secrets(std::string text, const std::string& key, bool bearer_values = true);

}  // namespace saediff
