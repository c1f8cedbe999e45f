#pragma once
// DIR/responses.jsonl: append-only, one JSON object per attempt outcome (see README "Files").
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/json_text.h"

namespace saediff {

struct ResponseRecord {
  std::string prompt_id;
  std::string category;
  std::string prompt;
  std::string set;                       // the NAME in --model NAME=ID
  std::string model;                     // the provider's model ID
  std::optional<std::string> response;   // null on failure
  std::optional<std::string> error;      // null on success
  std::optional<std::string> finish_reason;
  nlohmann::json usage;                  // provider's usage object, or null
  double latency_ms = 0.0;
  int attempts = 0;
  std::string collected_at;              // ISO 8601 UTC

  bool ok() const { return response.has_value(); }
  nlohmann::json to_json() const;
  static ResponseRecord from_json(const nlohmann::json& j);  // throws saediff::Error on a bad record
};

// Why `name` cannot name a set ("" when it can). One rule for collect's --model NAME=ID and encode's responses:
// 1 to 64 letters, digits, '.', '_' or '-', and not only dots. A set becomes an HDF5 group (/sets/NAME), a
// CSV column (response_NAME) and a command-line value (--baseline NAME): '/', '.', '..', spaces and control
// characters break one of those.
std::string set_name_problem(const std::string& name);

struct ReadResponsesResult {
  std::vector<ResponseRecord> records;  // in file order
  bool torn_tail = false;               // the last line had no newline and did not parse (a crash mid-write)
  uint64_t valid_bytes = 0;             // bytes up to the end of the last complete line
  JsonRepairCounts repaired;            // invalid UTF-8 / lone surrogates replaced by U+FFFD
};

// Reads every record. A torn last line is reported, not an error; any other bad line throws with its
// line number.
ReadResponsesResult read_responses(const std::string& path);

// One outcome per (set, prompt_id), in first-appearance order: the last successful record if any,
// else the last failure.
std::vector<ResponseRecord> latest_outcomes(const std::vector<ResponseRecord>& records);

}  // namespace saediff
