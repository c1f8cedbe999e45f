#include "io/json_text.h"

#include "core/error.h"
#include "text/utf8.h"

namespace saediff {
namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// The code unit of a "\uXXXX" escape starting at text[i], or -1 when there is none there.
int32_t escape_at(std::string_view text, size_t i) {
  if (i + 6 > text.size() || text[i] != '\\' || text[i + 1] != 'u') return -1;
  for (size_t k = i + 2; k < i + 6; ++k)
    if (!is_hex(text[k])) return -1;
  return static_cast<int32_t>(std::stoul(std::string(text.substr(i + 2, 4)), nullptr, 16));
}

}  // namespace

std::string repair_json_text(std::string_view text, JsonRepairCounts& counts) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\' && i + 1 < text.size()) {
      const int32_t unit = escape_at(text, i);
      if (unit >= 0xD800 && unit <= 0xDBFF) {
        const int32_t low = escape_at(text, i + 6);
        if (low >= 0xDC00 && low <= 0xDFFF) {  // a proper pair: keep both escapes
          out.append(text.substr(i, 12));
          i += 12;
          continue;
        }
      }
      if (unit >= 0xD800 && unit <= 0xDFFF) {  // high without its low, or a stray low
        out += "\\uFFFD";
        ++counts.lone_surrogates;
        i += 6;
        continue;
      }
      if (static_cast<unsigned char>(text[i + 1]) < 0x80) {  // any other escape, \" and \\ included, stays
        out.append(text.substr(i, 2));
        i += 2;
      } else {  // a backslash before a non-ASCII byte: that byte is checked as UTF-8 next
        out += '\\';
        ++i;
      }
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    const Utf8Unit u = next_utf8_unit(text.substr(i));
    if (u.kind == Utf8Unit::Kind::valid) {
      out.append(text.substr(i, u.length));
    } else {
      out += kReplacementChar;
      ++counts.invalid_utf8;
    }
    i += u.length;
  }
  return out;
}

nlohmann::json parse_json_lossy(std::string_view text, JsonRepairCounts& counts) {
  JsonRepairCounts local;
  const std::string repaired = repair_json_text(text, local);
  nlohmann::json j = nlohmann::json::parse(repaired, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    counts.invalid_utf8 += local.invalid_utf8;
    counts.lone_surrogates += local.lone_surrogates;
  }
  return j;
}

std::string describe_repairs(const JsonRepairCounts& counts) {
  return cat(counts.invalid_utf8, " invalid UTF-8 sequence", counts.invalid_utf8 == 1 ? "" : "s", " and ",
             counts.lone_surrogates, " lone UTF-16 surrogate escape", counts.lone_surrogates == 1 ? "" : "s",
             " replaced by U+FFFD");
}

namespace {

nlohmann::json outermost_object(std::string_view text) {
  const size_t open = text.find('{'), close = text.rfind('}');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return nlohmann::json::value_t::discarded;
  JsonRepairCounts repairs;
  nlohmann::json j = parse_json_lossy(text.substr(open, close - open + 1), repairs);
  if (j.is_discarded() || !j.is_object()) return nlohmann::json::value_t::discarded;
  return j;
}

}  // namespace

nlohmann::json extract_json_object(const std::string& answer) {
  const std::string_view text = answer;
  const size_t fence = text.find("```");
  if (fence != std::string_view::npos) {  // ```json ... ```
    const size_t start = text.find('\n', fence);
    const size_t end = start == std::string_view::npos ? std::string_view::npos : text.find("```", start);
    if (end != std::string_view::npos) {
      nlohmann::json j = outermost_object(text.substr(start + 1, end - start - 1));
      if (!j.is_discarded()) return j;
    }
  }
  // No fence, or one the object does not fit in (its strings may hold ``` themselves): the outermost {...}.
  return outermost_object(text);
}

}  // namespace saediff
