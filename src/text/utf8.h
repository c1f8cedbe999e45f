#pragma once
// UTF-8 helpers for the tokenizer, the chat template and every text input boundary.
// Invalid input is repaired the way Rust's String::from_utf8_lossy (and so HF tokenizers' decoder) does:
// each maximal ill-formed subpart (Unicode 15, section 3.9, "U+FFFD substitution of maximal subparts")
// becomes one U+FFFD.
#include <cstdint>
#include <string>
#include <string_view>

namespace saediff {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

std::string encode_utf8(uint32_t cp);
// Length of the sequence a lead byte starts (1 for a stray continuation byte, so loops always advance).
size_t utf8_length(unsigned char lead);
// The first code point of a valid UTF-8 string.
uint32_t decode_utf8_first(std::string_view s);
// Byte offset of the first invalid sequence (overlong, surrogate, > U+10FFFF, truncated), or npos.
size_t find_invalid_utf8(std::string_view s);
// True for Unicode White_Space code points (Python's str.strip() set, minus the ASCII separators 1C-1F).
bool is_unicode_space(uint32_t cp);

// What the bytes at the start of `s` are: a whole valid character, an ill-formed maximal subpart, or a
// valid prefix cut short by the end of `s` (which more bytes could complete). `length` >= 1 always.
struct Utf8Unit {
  enum class Kind { valid, invalid, incomplete } kind;
  size_t length;  // bytes
};
Utf8Unit next_utf8_unit(std::string_view s);

// `s` with every maximal ill-formed subpart replaced by U+FFFD; adds the number replaced to *n_replaced.
std::string to_valid_utf8(std::string_view s, int64_t* n_replaced = nullptr);

// `s` cut to at most `max_bytes` on a character boundary, with " …" appended when anything was cut.
std::string utf8_head(std::string_view s, size_t max_bytes);

}  // namespace saediff
