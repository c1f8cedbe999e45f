#pragma once
// Small UTF-8 helpers for the tokenizer and the chat template.
#include <cstdint>
#include <string>
#include <string_view>

namespace saediff {

std::string encode_utf8(uint32_t cp);
// Length of the sequence a lead byte starts (1 for a stray continuation byte, so loops always advance).
size_t utf8_length(unsigned char lead);
// The first code point of a valid UTF-8 string.
uint32_t decode_utf8_first(std::string_view s);
// Byte offset of the first invalid sequence (overlong, surrogate, > U+10FFFF, truncated), or npos.
size_t find_invalid_utf8(std::string_view s);
// True for Unicode White_Space code points (Python's str.strip() set, minus the ASCII separators 1C-1F).
bool is_unicode_space(uint32_t cp);

}  // namespace saediff
