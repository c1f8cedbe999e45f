#include "text/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "text/utf8.h"

namespace saediff {
namespace {

// Unicode White_Space, which is what Oniguruma means by \s.
constexpr std::string_view kWhiteSpace =
    "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

struct CodePointRange {
  uint32_t first, last;
};
#include "text/unicode_delta.inc"

// "\x{a}-\x{b}..." for a table, to go inside a character class.
template <size_t N>
std::string class_items(const CodePointRange (&table)[N]) {
  std::string out;
  for (const CodePointRange& r : table) out += cat("\\x{", std::hex, r.first, "}-\\x{", r.last, "}");
  return out;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR msg[256];
  pcre2_get_error_message(code, msg, sizeof(msg));
  return reinterpret_cast<const char*>(msg);
}

// Per thread: match data and a JIT stack that grows past PCRE2's 32 KiB default, so that long inputs
// (a megabyte of one letter class) never fail with a stack limit.
struct MatchScratch {
  pcre2_match_data* data = pcre2_match_data_create(32, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  MatchScratch() {
    SAEDIFF_CHECK(data != nullptr && stack != nullptr && context != nullptr, "PCRE2: out of memory");
    pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchScratch() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;
};

MatchScratch& scratch() {
  thread_local MatchScratch s;
  return s;
}

}  // namespace

bool has_newer_unicode(std::string_view text) {
  // The Basic Multilingual Plane as a bitmap (8 KiB), the other planes by binary search over the ranges.
  struct Tables {
    std::vector<CodePointRange> ranges;
    std::vector<bool> bmp = std::vector<bool>(0x10000, false);
  };
  static const Tables t = [] {
    Tables made;
    made.ranges.assign(std::begin(kExtraLetters), std::end(kExtraLetters));
    made.ranges.insert(made.ranges.end(), std::begin(kExtraNumbers), std::end(kExtraNumbers));
    std::sort(made.ranges.begin(), made.ranges.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const CodePointRange& r : made.ranges)
      for (uint32_t cp = r.first; cp <= r.last && cp < 0x10000; ++cp) made.bmp[cp] = true;
    return made;
  }();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    const unsigned char b = p[i];
    if (b < 0xE1) {  // below U+1000: nothing new there
      i += b < 0x80 ? 1 : (b < 0xE0 ? 2 : 3);
      continue;
    }
    if (b < 0xF0) {  // the rest of the BMP
      if (i + 2 < size && t.bmp[((b & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu)]) return true;
      i += 3;
      continue;
    }
    uint32_t cp = b & 0x07u;
    for (size_t k = 1; k < 4 && i + k < size; ++k) cp = (cp << 6) | (p[i + k] & 0x3Fu);
    i += 4;
    const auto it = std::upper_bound(t.ranges.begin(), t.ranges.end(), cp,
                                     [](uint32_t c, const CodePointRange& r) { return c < r.first; });
    if (it != t.ranges.begin() && cp <= std::prev(it)->last) return true;
  }
  return false;
}

std::string rewrite_unicode_classes(const std::string& pattern, bool with_newer_unicode) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char n = pattern[i + 1];
      if (n == 's') {
        out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
      } else if (with_newer_unicode && n == 'p' &&
                 (pattern.compare(i, 5, "\\p{L}") == 0 || pattern.compare(i, 5, "\\p{N}") == 0)) {
        // PCRE2 knows Unicode 14.0; HF's Oniguruma counts later letters and numbers too.
        static const std::string letters = class_items(kExtraLetters), numbers = class_items(kExtraNumbers);
        const std::string items = pattern.substr(i, 5) + (pattern[i + 3] == 'L' ? letters : numbers);
        out += in_class ? items : "[" + items + "]";
        i += 3;
      } else if (n == 'S') {
        SAEDIFF_CHECK(!in_class, "tokenizer regex: \\S inside a character class is not supported");
        out += "[^" + std::string(kWhiteSpace) + "]";
      } else {
        out += c;
        out += n;
      }
      ++i;
      continue;
    }
    if (c == '[' && !in_class) in_class = true;
    else if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

namespace {

pcre2_code* compile(const std::string& pattern, const std::string& compiled, bool literal) {
  int err = 0;
  PCRE2_SIZE err_at = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(),
                                   PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP), &err, &err_at, nullptr);
  SAEDIFF_CHECK(code != nullptr, "cannot compile the pre-tokenizer regex '", pattern, "' at offset ", err_at, ": ",
                pcre2_message(err));
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // where JIT is unavailable, pcre2_match interprets
  return code;
}

}  // namespace

Regex::Regex(const std::string& pattern, bool literal) : pattern_(pattern) {
  const std::string full = literal ? pattern : rewrite_unicode_classes(pattern, true);
  code_ = compile(pattern, full, literal);
  if (!literal) {
    const std::string plain = rewrite_unicode_classes(pattern, false);
    if (plain != full) fast_code_ = compile(pattern, plain, literal);
  }
}

Regex::Regex(Regex&& other) noexcept
    : code_(other.code_), fast_code_(other.fast_code_), pattern_(std::move(other.pattern_)) {
  other.code_ = other.fast_code_ = nullptr;
}

Regex::~Regex() {
  if (code_ != nullptr) pcre2_code_free(code_);
  if (fast_code_ != nullptr) pcre2_code_free(fast_code_);
}

void Regex::spans(std::string_view text, std::vector<Span>& out) const {
  MatchScratch& s = scratch();
  pcre2_code* code = fast_code_ != nullptr && !has_newer_unicode(text) ? fast_code_ : code_;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0, gap = 0;  // next search start; start of the unmatched text before it
  while (pos < text.size()) {
    // The text was validated as UTF-8 once, on the way in.
    const int rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, s.data, s.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    SAEDIFF_CHECK(rc >= 0, "pre-tokenizer regex '", pattern_, "' failed: ", pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
    const size_t begin = ov[0], end = ov[1];
    if (end == begin) {  // an empty match is no split; go on after the character there
      if (begin >= text.size()) break;
      pos = begin + utf8_length(static_cast<unsigned char>(text[begin]));
      continue;
    }
    if (begin > gap) out.push_back({gap, begin, false});
    out.push_back({begin, end, true});
    pos = gap = end;
  }
  if (gap < text.size()) out.push_back({gap, text.size(), false});
}

}  // namespace saediff
