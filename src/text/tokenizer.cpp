#include "text/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/utf8.h"

namespace saediff {
namespace {

// Unicode White_Space, which is what HF's regex engine (Oniguruma) means by \s. PCRE2's \s with UCP
// also matches U+180E, so the pattern's \s and \S are rewritten to this explicit set.
constexpr const char* kWhiteSpace =
    "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

std::string rewrite_whitespace_classes(const std::string& pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char n = pattern[i + 1];
      if (n == 's') {
        out += in_class ? std::string(kWhiteSpace) : "[" + std::string(kWhiteSpace) + "]";
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

// GPT-2's ByteLevel map: printable bytes stand for themselves, the rest shift to U+0100 upwards.
std::array<std::string, 256> byte_to_unicode() {
  std::array<std::string, 256> map;
  int shift = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    const uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + shift++);
    map[static_cast<size_t>(b)] = encode_utf8(cp);
  }
  return map;
}

struct PairHash {
  size_t operator()(const std::pair<int32_t, int32_t>& p) const {
    return std::hash<uint64_t>()((static_cast<uint64_t>(static_cast<uint32_t>(p.first)) << 32) |
                                 static_cast<uint32_t>(p.second));
  }
};

}  // namespace

struct Tokenizer::Impl {
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::string> id_to_token;  // [vocab_size]; "" for unused ids
  std::vector<bool> is_added;            // [vocab_size]
  // Merge (left id, right id) -> (rank, merged id).
  std::unordered_map<std::pair<int32_t, int32_t>, std::pair<int32_t, int32_t>, PairHash> merges;
  bool ignore_merges = false;
  std::vector<std::pair<std::string, int32_t>> added;  // sorted by content length, longest first
  std::array<std::string, 256> byte_map;
  std::unordered_map<uint32_t, uint8_t> unicode_to_byte;
  pcre2_code* regex = nullptr;
  ~Impl() {
    if (regex != nullptr) pcre2_code_free(regex);
  }

  void bpe(const std::string& piece, std::vector<int32_t>& out) const;
  void encode_segment(std::string_view text, std::vector<int32_t>& out) const;
};

void Tokenizer::Impl::bpe(const std::string& piece, std::vector<int32_t>& out) const {
  std::string mapped;
  for (unsigned char b : piece) mapped += byte_map[b];
  if (ignore_merges) {
    auto it = vocab.find(mapped);
    if (it != vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // One symbol per mapped character, then merge the lowest-ranked adjacent pair until none applies.
  std::vector<int32_t> symbols;
  for (unsigned char b : piece) {
    auto it = vocab.find(byte_map[b]);
    SAEDIFF_CHECK(it != vocab.end(), "tokenizer vocabulary lacks the byte symbol for 0x", std::hex, int(b));
    symbols.push_back(it->second);
  }
  while (symbols.size() > 1) {
    int32_t best_rank = std::numeric_limits<int32_t>::max(), best_id = -1;
    size_t best_at = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = merges.find({symbols[i], symbols[i + 1]});
      if (it != merges.end() && it->second.first < best_rank) {
        best_rank = it->second.first;
        best_id = it->second.second;
        best_at = i;
      }
    }
    if (best_id < 0) break;
    // Merge every non-overlapping occurrence of the best pair, left to right, as HF's word merge does.
    const int32_t left = symbols[best_at], right = symbols[best_at + 1];
    std::vector<int32_t> next;
    next.reserve(symbols.size());
    for (size_t i = 0; i < symbols.size(); ++i) {
      if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
        next.push_back(best_id);
        ++i;
      } else {
        next.push_back(symbols[i]);
      }
    }
    symbols.swap(next);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
}

void Tokenizer::Impl::encode_segment(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(regex, nullptr);
  SAEDIFF_CHECK(md != nullptr, "pcre2_match_data_create_from_pattern failed");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  try {
    while (pos < text.size()) {
      const int rc = pcre2_match(regex, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) {
        bpe(std::string(text.substr(pos)), out);  // an unmatched tail is its own piece (Isolated)
        break;
      }
      SAEDIFF_CHECK(rc > 0, "pcre2_match failed with code ", rc);
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      const size_t begin = ov[0], end = ov[1];
      if (begin > pos) bpe(std::string(text.substr(pos, begin - pos)), out);
      if (end == begin) {  // an empty match: step over one character
        pos = begin + utf8_length(static_cast<unsigned char>(text[begin]));
        continue;
      }
      bpe(std::string(text.substr(begin, end - begin)), out);
      pos = end;
    }
  } catch (...) {
    pcre2_match_data_free(md);
    throw;
  }
  pcre2_match_data_free(md);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot open tokenizer file '", path, "'");
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  SAEDIFF_CHECK(!j.is_discarded() && j.is_object(), path, ": not a JSON object");
  auto impl = std::make_unique<Impl>();
  impl->byte_map = byte_to_unicode();
  for (int b = 0; b < 256; ++b) impl->unicode_to_byte[decode_utf8_first(impl->byte_map[static_cast<size_t>(b)])] = static_cast<uint8_t>(b);
  try {
    const auto& model = j.at("model");
    SAEDIFF_CHECK(model.value("type", std::string("BPE")) == "BPE", path, ": only BPE models are supported");
    impl->ignore_merges = model.value("ignore_merges", false);
    int32_t max_id = -1;
    for (const auto& [token, id] : model.at("vocab").items()) {
      const auto v = id.get<int32_t>();
      SAEDIFF_CHECK(v >= 0, path, ": negative id for '", token, "'");
      impl->vocab[token] = v;
      max_id = std::max(max_id, v);
    }
    if (j.contains("added_tokens")) {
      for (const auto& t : j["added_tokens"]) {
        const auto id = t.at("id").get<int32_t>();
        const auto content = t.at("content").get<std::string>();
        SAEDIFF_CHECK(!content.empty(), path, ": empty added token");
        impl->vocab[content] = id;
        impl->added.emplace_back(content, id);
        max_id = std::max(max_id, id);
      }
    }
    impl->id_to_token.assign(static_cast<size_t>(max_id + 1), "");
    impl->is_added.assign(static_cast<size_t>(max_id + 1), false);
    for (const auto& [token, id] : impl->vocab) impl->id_to_token[static_cast<size_t>(id)] = token;
    for (const auto& [content, id] : impl->added) impl->is_added[static_cast<size_t>(id)] = true;
    std::stable_sort(impl->added.begin(), impl->added.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });

    int32_t rank = 0;
    for (const auto& m : model.at("merges")) {
      std::string left, right;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ', 1);
        SAEDIFF_CHECK(sp != std::string::npos, path, ": merge '", s, "' is not 'a b'");
        left = s.substr(0, sp);
        right = s.substr(sp + 1);
      } else {
        SAEDIFF_CHECK(m.is_array() && m.size() == 2, path, ": a merge must be 'a b' or [a, b]");
        left = m[0].get<std::string>();
        right = m[1].get<std::string>();
      }
      const auto l = impl->vocab.find(left), r = impl->vocab.find(right), merged = impl->vocab.find(left + right);
      SAEDIFF_CHECK(l != impl->vocab.end() && r != impl->vocab.end() && merged != impl->vocab.end(), path, ": merge '",
                    left, " ", right, "' uses tokens outside the vocabulary");
      impl->merges.emplace(std::make_pair(l->second, r->second), std::make_pair(rank++, merged->second));
    }

    // The Split pre-tokenizer's regex: top level, or inside a Sequence.
    std::string pattern;
    const auto find_split = [&](const nlohmann::json& p) {
      if (p.is_object() && p.value("type", "") == "Split" && p.contains("pattern") && p["pattern"].contains("Regex"))
        pattern = p["pattern"]["Regex"].get<std::string>();
    };
    const auto& pre = j.at("pre_tokenizer");
    find_split(pre);
    if (pre.is_object() && pre.contains("pretokenizers"))
      for (const auto& p : pre["pretokenizers"]) find_split(p);
    SAEDIFF_CHECK(!pattern.empty(), path, ": no Split pre-tokenizer with a regex (a Llama 3 tokenizer.json has one)");
    const std::string rewritten = rewrite_whitespace_classes(pattern);
    int err = 0;
    PCRE2_SIZE err_at = 0;
    impl->regex = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.c_str()), rewritten.size(),
                                PCRE2_UTF | PCRE2_UCP, &err, &err_at, nullptr);
    if (impl->regex == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      SAEDIFF_FAIL(path, ": cannot compile the pre-tokenizer regex at offset ", err_at, ": ", reinterpret_cast<char*>(msg));
    }
    pcre2_jit_compile(impl->regex, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
  } catch (const nlohmann::json::exception& e) {
    SAEDIFF_FAIL(path, ": malformed tokenizer.json: ", e.what());
  }
  return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  const size_t bad = find_invalid_utf8(text);
  SAEDIFF_CHECK(bad == std::string_view::npos, "text is not valid UTF-8 (byte offset ", bad, ")");
  std::vector<int32_t> out;
  size_t start = 0, pos = 0;
  // Added tokens first, leftmost-longest; the text between them goes through regex + BPE.
  while (pos < text.size()) {
    const std::pair<std::string, int32_t>* hit = nullptr;
    for (const auto& a : impl_->added) {
      if (text.compare(pos, a.first.size(), a.first) == 0) {
        hit = &a;
        break;
      }
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    impl_->encode_segment(text.substr(start, pos - start), out);
    out.push_back(hit->second);
    pos += hit->first.size();
    start = pos;
  }
  impl_->encode_segment(text.substr(start), out);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) {
    SAEDIFF_CHECK(id >= 0 && static_cast<size_t>(id) < impl_->id_to_token.size(), "token id ", id, " out of range");
    const std::string& token = impl_->id_to_token[static_cast<size_t>(id)];
    if (impl_->is_added[static_cast<size_t>(id)]) {
      out += token;
      continue;
    }
    size_t i = 0;
    while (i < token.size()) {
      const size_t n = utf8_length(static_cast<unsigned char>(token[i]));
      auto it = impl_->unicode_to_byte.find(decode_utf8_first(token.substr(i, n)));
      SAEDIFF_CHECK(it != impl_->unicode_to_byte.end(), "token ", id, " is not byte-level");
      out += static_cast<char>(it->second);
      i += n;
    }
  }
  return out;
}

int32_t Tokenizer::token_id(std::string_view token) const {
  auto it = impl_->vocab.find(std::string(token));
  SAEDIFF_CHECK(it != impl_->vocab.end(), "token '", token, "' is not in the vocabulary");
  return it->second;
}

std::string Tokenizer::token_text(int32_t id) const {
  SAEDIFF_CHECK(id >= 0 && static_cast<size_t>(id) < impl_->id_to_token.size(), "token id ", id, " out of range");
  return impl_->id_to_token[static_cast<size_t>(id)];
}

int64_t Tokenizer::vocab_size() const { return static_cast<int64_t>(impl_->id_to_token.size()); }

}  // namespace saediff
