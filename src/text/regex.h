#pragma once
// A PCRE2 regex (JIT-compiled, UTF + UCP) with the semantics of HF tokenizers' Oniguruma patterns, used by
// the Split and ByteLevel pre-tokenizers. Immutable after construction; matching is thread-safe (each
// thread has its own match data and JIT stack).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

struct pcre2_real_code_8;

namespace saediff {

// A half-open byte range of a subject, and whether the pattern matched it.
struct Span {
  size_t begin;
  size_t end;
  bool is_match;
};

// Oniguruma's \s is Unicode White_Space; PCRE2's (with UCP) also matches U+180E. Rewrites \s and \S to
// the explicit White_Space set, inside and outside character classes.
std::string rewrite_whitespace_classes(const std::string& pattern);

class Regex {
 public:
  // `literal`: the pattern is a plain string (HF's {"String": ...} split pattern), not a regex.
  Regex(const std::string& pattern, bool literal);
  Regex(Regex&& other) noexcept;
  Regex& operator=(Regex&&) = delete;
  Regex(const Regex&) = delete;
  ~Regex();

  // Appends the spans of `text` in order, matches and the gaps between them, covering it whole; empty
  // spans are left out. An empty match steps over one character, as Oniguruma's find_iter does.
  void spans(std::string_view text, std::vector<Span>& out) const;

 private:
  pcre2_real_code_8* code_ = nullptr;
  std::string pattern_;  // for error messages
};

}  // namespace saediff
