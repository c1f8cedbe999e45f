#include "text/utf8.h"

namespace saediff {

std::string encode_utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

uint32_t decode_utf8_first(std::string_view s) {
  if (s.empty()) return 0;
  const auto b0 = static_cast<unsigned char>(s[0]);
  const size_t n = utf8_length(b0);
  if (n == 1 || s.size() < n) return b0;
  uint32_t cp = b0 & (0xFF >> (n + 1));
  for (size_t i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
  return cp;
}

size_t find_invalid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Utf8Unit u = next_utf8_unit(s.substr(i));
    if (u.kind != Utf8Unit::Kind::valid) return i;
    i += u.length;
  }
  return std::string_view::npos;
}

bool is_unicode_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000 || (cp >= 0x1C && cp <= 0x1F);
}

Utf8Unit next_utf8_unit(std::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) return {Utf8Unit::Kind::valid, 1};
  // Table 3-7 of the Unicode standard: the lead byte fixes the length and the range of the 2nd byte.
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) n = 2;
  else if (b0 == 0xE0) n = 3, lo = 0xA0;
  else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) n = 3;
  else if (b0 == 0xED) n = 3, hi = 0x9F;  // no surrogates
  else if (b0 == 0xF0) n = 4, lo = 0x90;
  else if (b0 >= 0xF1 && b0 <= 0xF3) n = 4;
  else if (b0 == 0xF4) n = 4, hi = 0x8F;  // nothing above U+10FFFF
  else return {Utf8Unit::Kind::invalid, 1};  // 80..C1, F5..FF never start a character
  for (size_t k = 1; k < n; ++k) {
    if (k >= s.size()) return {Utf8Unit::Kind::incomplete, k};
    const auto b = static_cast<unsigned char>(s[k]);
    const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return {Utf8Unit::Kind::invalid, k};
  }
  return {Utf8Unit::Kind::valid, n};
}

std::string to_valid_utf8(std::string_view s, int64_t* n_replaced) {
  std::string out;
  out.reserve(s.size());
  int64_t n = 0;
  size_t i = 0;
  while (i < s.size()) {
    const Utf8Unit u = next_utf8_unit(s.substr(i));
    if (u.kind == Utf8Unit::Kind::valid) {
      out.append(s.data() + i, u.length);
    } else {
      out += kReplacementChar;
      ++n;
    }
    i += u.length;
  }
  if (n_replaced != nullptr) *n_replaced += n;
  return out;
}

std::string utf8_head(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return std::string(s.substr(0, end)) + " …";
}

}  // namespace saediff
