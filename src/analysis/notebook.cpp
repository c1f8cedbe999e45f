#include "analysis/notebook.h"

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "core/error.h"

namespace saediff {
namespace {

// nbformat 4 JSON. Its parameters cell holds @ENCODED@, @FEATURES@, @BASELINE@, @CANDIDATE@ and @THRESHOLD@,
// each inside a Python string literal (THRESHOLD = float("@THRESHOLD@")) inside a JSON string.
constexpr std::string_view kTemplate =
#include "saediff/analysis_notebook.inc"
    ;

// The contents of the JSON string literal of `value`, without the quotes.
std::string json_contents(const std::string& value) {
  const std::string quoted = nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

// JSON's escapes (\" \\ \n \t \uXXXX ...) mean the same in a Python string literal, so one pass escapes the
// value for Python and a second escapes that for the JSON string holding the Python source.
std::string python_in_json(const std::string& value) { return json_contents(json_contents(value)); }

// Shortest text that reads back as the same double ("0.5", "1e-05", "nan"); Python's float() parses all of them.
std::string shortest(double v) {
  std::array<char, 64> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  SAEDIFF_CHECK(ec == std::errc(), "cannot format threshold ", v);
  return std::string(buf.data(), end);
}

}  // namespace

std::string analysis_notebook(const std::string& encoded_path, const std::string& features_path,
                              const std::string& baseline, const std::string& candidate, double threshold) {
  const std::array<std::pair<std::string_view, std::string>, 5> fills = {{
      {"@ENCODED@", python_in_json(encoded_path)},
      {"@FEATURES@", python_in_json(features_path)},
      {"@BASELINE@", python_in_json(baseline)},
      {"@CANDIDATE@", python_in_json(candidate)},
      {"@THRESHOLD@", python_in_json(shortest(threshold))},
  }};
  // One pass over the template, so a value that happens to contain a placeholder is never substituted again.
  std::string out;
  out.reserve(kTemplate.size() + 1024);
  std::array<int, fills.size()> n_filled{};
  for (size_t i = 0; i < kTemplate.size();) {
    bool matched = false;
    if (kTemplate[i] == '@') {
      for (size_t k = 0; k < fills.size(); ++k) {
        if (kTemplate.substr(i, fills[k].first.size()) == fills[k].first) {
          out += fills[k].second;
          i += fills[k].first.size();
          ++n_filled[k];
          matched = true;
          break;
        }
      }
    }
    if (!matched) out += kTemplate[i++];
  }
  for (size_t k = 0; k < fills.size(); ++k) {
    SAEDIFF_CHECK(n_filled[k] > 0, "share/analysis.ipynb.in has no ", fills[k].first, " placeholder");
  }
  return out;
}

}  // namespace saediff
