#include "io/responses.h"

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "core/error.h"
#include "core/log.h"

namespace saediff {
namespace {

std::optional<std::string> optional_string(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  SAEDIFF_CHECK(it->is_string(), "field '", key, "' must be a string or null");
  return it->get<std::string>();
}

std::string required_string(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  SAEDIFF_CHECK(it != j.end() && !it->is_null(), "missing field '", key, "'");
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());  // numeric prompt ids
  SAEDIFF_CHECK(it->is_string(), "field '", key, "' must be a string");
  return it->get<std::string>();
}

template <typename T>
T value_or(const nlohmann::json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->get<T>();
}

}  // namespace

nlohmann::json ResponseRecord::to_json() const {
  nlohmann::json j;
  j["prompt_id"] = prompt_id;
  j["category"] = category;
  j["prompt"] = prompt;
  j["set"] = set;
  j["model"] = model;
  j["response"] = response ? nlohmann::json(*response) : nlohmann::json(nullptr);
  j["error"] = error ? nlohmann::json(*error) : nlohmann::json(nullptr);
  j["finish_reason"] = finish_reason ? nlohmann::json(*finish_reason) : nlohmann::json(nullptr);
  j["usage"] = usage;
  j["latency_ms"] = latency_ms;
  j["attempts"] = attempts;
  j["collected_at"] = collected_at;
  return j;
}

std::string set_name_problem(const std::string& name) {
  constexpr size_t kMaxLength = 64;
  if (name.empty()) return "it is empty";
  if (name.size() > kMaxLength) return cat("it is ", name.size(), " characters long (at most ", kMaxLength, ")");
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) != 0 && u < 0x80) && c != '.' && c != '_' && c != '-') {
      return u < 0x20 || u == 0x7f ? cat("it holds a control character (byte ", static_cast<int>(u), ")")
                                   : cat("it holds '", c, "'; a set name is letters, digits, '.', '_' and '-'");
    }
  }
  if (name.find_first_not_of('.') == std::string::npos) return "it is only dots ('.' and '..' name folders in HDF5)";
  return "";
}

ResponseRecord ResponseRecord::from_json(const nlohmann::json& j) {
  SAEDIFF_CHECK(j.is_object(), "a response record must be a JSON object");
  ResponseRecord r;
  r.prompt_id = required_string(j, "prompt_id");
  r.set = required_string(j, "set");
  r.category = value_or<std::string>(j, "category", "");
  r.prompt = value_or<std::string>(j, "prompt", "");
  r.model = value_or<std::string>(j, "model", "");
  r.response = optional_string(j, "response");
  r.error = optional_string(j, "error");
  r.finish_reason = optional_string(j, "finish_reason");
  r.usage = j.contains("usage") ? j["usage"] : nlohmann::json(nullptr);
  r.latency_ms = value_or<double>(j, "latency_ms", 0.0);
  r.attempts = value_or<int>(j, "attempts", 0);
  r.collected_at = value_or<std::string>(j, "collected_at", "");
  SAEDIFF_CHECK(r.response || r.error, "record for prompt '", r.prompt_id, "' has neither response nor error");
  return r;
}

ReadResponsesResult read_responses(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot open responses file '", path, "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string data = buffer.str();

  ReadResponsesResult result;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < data.size()) {
    const size_t nl = data.find('\n', pos);
    const bool complete = nl != std::string::npos;
    const std::string line = data.substr(pos, complete ? nl - pos : std::string::npos);
    ++line_no;
    const size_t next = complete ? nl + 1 : data.size();
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      pos = next;
      if (complete) result.valid_bytes = pos;
      continue;
    }
    nlohmann::json j = parse_json_lossy(line, result.repaired);
    if (j.is_discarded()) {
      if (!complete) {  // a crash mid-append leaves exactly this: repairable
        result.torn_tail = true;
        break;
      }
      SAEDIFF_FAIL(path, ":", line_no, ": not valid JSON");
    }
    try {
      result.records.push_back(ResponseRecord::from_json(j));
    } catch (const Error& e) {
      SAEDIFF_FAIL(path, ":", line_no, ": ", e.what());
    }
    pos = next;
    result.valid_bytes = pos;
  }
  if (result.repaired.total() > 0) log_warn(path, ": ", describe_repairs(result.repaired));
  return result;
}

std::vector<ResponseRecord> latest_outcomes(const std::vector<ResponseRecord>& records) {
  std::map<std::pair<std::string, std::string>, size_t> slot;  // (set, prompt_id) -> index in `out`
  std::vector<ResponseRecord> out;
  for (const ResponseRecord& r : records) {
    auto key = std::make_pair(r.set, r.prompt_id);
    auto it = slot.find(key);
    if (it == slot.end()) {
      slot.emplace(key, out.size());
      out.push_back(r);
    } else if (r.ok() || !out[it->second].ok()) {
      out[it->second] = r;
    }
  }
  return out;
}

}  // namespace saediff
