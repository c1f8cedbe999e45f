#pragma once
// Matching a tokenizer's added tokens (<|eot_id|> and the like) in raw text, as HF's added vocabulary does
// before pre-tokenization: leftmost match first, the longest token where several start at the same byte.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace saediff {

class AddedTokenMatcher {
 public:
  void add(const std::string& content, int32_t id);  // content non-empty

  bool empty() const { return n_token_ == 0; }

  struct Match {
    size_t at = 0;      // byte offset in the text
    size_t length = 0;  // bytes
    int32_t id = -1;
  };
  // The leftmost match at or after byte `from`, if any.
  bool find(std::string_view text, size_t from, Match& match) const;

 private:
  // Tokens by first byte, longest first; a byte that starts no token is skipped with one table look-up.
  std::array<std::vector<std::pair<std::string, int32_t>>, 256> by_first_;
  std::array<bool, 256> starts_{};
  size_t n_token_ = 0;
};

}  // namespace saediff
