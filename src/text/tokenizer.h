#pragma once
// Byte-level BPE tokenizer read from a Hugging Face tokenizer.json (Llama 3 family).
// Matches HF tokenizers' ids exactly: added/special tokens are split out first (their strings inside
// text are read as special tokens), then the Split pre-tokenizer regex, the ByteLevel byte->char map,
// and BPE merges by rank (with `ignore_merges`: a pre-token found whole in the vocab is one token).
// No special tokens are added: callers that want <|begin_of_text|> put it in the text.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace saediff {

class Tokenizer {
 public:
  static Tokenizer from_file(const std::string& path);  // throws saediff::Error with the reason
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<int32_t> encode(std::string_view text) const;  // text must be valid UTF-8 (else throws)
  std::string decode(std::span<const int32_t> ids) const;    // inverse byte map; special tokens verbatim
  int32_t token_id(std::string_view token) const;            // throws if the token is not in the vocab
  std::string token_text(int32_t id) const;                  // the vocab string, e.g. "Ġthe"
  int64_t vocab_size() const;                                // max id + 1, added tokens included

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace saediff
