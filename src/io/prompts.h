#pragma once
// The prompt CSV: header `id,category,prompt` plus optional extra columns, RFC 4180 quoting,
// prompts may span lines.
#include <map>
#include <string>
#include <vector>

namespace saediff {

struct Prompt {
  std::string id;
  std::string category;
  std::string text;
  std::map<std::string, std::string> extra;  // any further columns, e.g. rationale
};

std::vector<std::vector<std::string>> parse_csv(const std::string& data);  // RFC 4180; throws on bad quoting
std::string csv_escape(const std::string& field);                          // quotes when needed
std::vector<Prompt> read_prompts(const std::string& path);  // checks header, unique non-empty ids
}  // namespace saediff
