#pragma once
// A Hugging Face tokenizer.json with a byte-level BPE model (the Llama 3 family), giving the ids HF
// tokenizers gives for any Unicode text:
//   1. added tokens (<|eot_id|>, ...) are cut out of the raw text first: tokens marked normalized=false,
//      then normalized=true ones in what is left, leftmost-longest, so their strings inside text are read
//      as those tokens;
//   2. each stretch between them goes through the pre-tokenizer (Split regex, ByteLevel; pretokenizer.h);
//   3. each pre-token through byte-level BPE (bpe.h).
// No special tokens are added (the post-processor is not applied): callers that want <|begin_of_text|>
// put it in the text, as the chat template does. Loading refuses, by name, any normalizer, pre-tokenizer,
// model, decoder or added-token option it does not implement.
// Immutable after loading; encode and decode may run on many threads at once.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace saediff {

class Tokenizer {
 public:
  static Tokenizer from_file(const std::string& path);  // throws saediff::Error naming the file and the reason
  // The same from tokenizer.json's text; `source` names it in errors.
  static Tokenizer from_json_text(std::string_view json, const std::string& source);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<int32_t> encode(std::string_view text) const;  // text must be valid UTF-8 (else throws)
  void encode_into(std::string_view text, std::vector<int32_t>& out) const;  // appends to `out`
  // out[i] = encode(texts[i]), on up to n_threads threads (0: every core).
  std::vector<std::vector<int32_t>> encode_batch(std::span<const std::string_view> texts, int n_threads = 0) const;

  // HF's ByteLevel decoder: the tokens' bytes joined, each ill-formed UTF-8 subpart made U+FFFD. Special
  // tokens are kept as their text.
  std::string decode(std::span<const int32_t> ids) const;
  // The text of each token in context, for token-level displays: a character split across several tokens
  // belongs to the token that completes it. The pieces joined equal decode(ids).
  std::vector<std::string> decode_pieces(std::span<const int32_t> ids) const;
  const std::string& token_bytes(int32_t id) const;  // raw bytes of one token (may be part of a character)

  int32_t token_id(std::string_view token) const;  // throws if the token is not in the vocab
  std::string token_text(int32_t id) const;        // the vocab string, e.g. "Ġthe"
  bool is_added(int32_t id) const;                  // an added (special) token
  int64_t vocab_size() const;                       // max id + 1, added tokens included

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace saediff
