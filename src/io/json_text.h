#pragma once
// JSON text from outside (responses.jsonl, tokenize/forward input, HTTP bodies) as HF's Python side would
// accept it. JSON producers emit two things a strict parser refuses: raw bytes that are not UTF-8, and
// \u escapes of lone UTF-16 surrogates (Python's json.dumps writes "\ud800" for a lone surrogate). Both
// become U+FFFD, are counted, and the caller warns once; a document is never lost or crashed on for them.
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace saediff {

struct JsonRepairCounts {
  int64_t invalid_utf8 = 0;     // maximal ill-formed UTF-8 subparts replaced
  int64_t lone_surrogates = 0;  // \uD800-\uDFFF escapes without their pair, replaced
  int64_t total() const { return invalid_utf8 + lone_surrogates; }
};

// `text` with invalid UTF-8 and lone-surrogate escapes replaced by U+FFFD (raw, or as \uFFFD).
std::string repair_json_text(std::string_view text, JsonRepairCounts& counts);

// Parses after repair_json_text; returns a discarded value (is_discarded()) on a syntax error.
nlohmann::json parse_json_lossy(std::string_view text, JsonRepairCounts& counts);

// "3 invalid UTF-8 sequences and 1 lone surrogate replaced by U+FFFD": for the one warning per input.
std::string describe_repairs(const JsonRepairCounts& counts);

// The JSON object in an LLM's answer: inside a ``` fence when there is one, else the outermost {...};
// repaired like parse_json_lossy. A discarded value when there is no object.
nlohmann::json extract_json_object(const std::string& answer);

}  // namespace saediff
