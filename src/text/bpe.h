#pragma once
// The byte-level BPE model of a tokenizer.json ("model": {"type": "BPE", ...}), as HF tokenizers runs it:
// a pre-token's bytes go through GPT-2's byte->char map, then merges apply lowest rank first (leftmost on
// ties); with `ignore_merges` a pre-token that is whole in the vocabulary is one token.
// Immutable after loading; encode_piece is thread-safe (each thread keeps its own cache of pieces).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace saediff {

// Hashing std::string keys that can be looked up by string_view without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>()(s); }
};
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// GPT-2's ByteLevel alphabet: byte b stands for the character byte_char(b) (UTF-8).
const std::array<std::string, 256>& byte_level_chars();
// The bytes a token string stands for under the ByteLevel decoder, or false when one of its characters is
// outside the alphabet (HF then decodes the token as its own UTF-8).
bool byte_level_bytes(std::string_view token, std::string& bytes);

// (left id, right id) -> (rank, merged id), open addressing with linear probing: the merge loop's only
// look-up, so it is kept flat (one cache line per probe) rather than a node-based map.
class MergeTable {
 public:
  void reserve(size_t n);
  void insert_or_assign(uint64_t key, uint64_t value);
  const uint64_t* find(uint64_t key) const {  // nullptr when absent
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are < 2^31, so no pair key is all ones
  size_t slot(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_) & mask_; }
  std::vector<uint64_t> keys_ = std::vector<uint64_t>(1, kEmpty), values_ = std::vector<uint64_t>(1, 0);
  size_t mask_ = 0;
  int shift_ = 63;
  size_t size_ = 0;
};

class BpeModel {
 public:
  // `model` is tokenizer.json's "model" object; `source` names the file in errors.
  static BpeModel from_json(const nlohmann::json& model, const std::string& source);

  // Appends the ids of one pre-token (raw bytes, before the byte->char map).
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;

  const StringIdMap& vocab() const { return vocab_; }  // token string (byte-level chars) -> id
  int64_t max_id() const { return max_id_; }

 private:
  void merge(std::string_view piece, std::vector<int32_t>& out) const;

  StringIdMap vocab_;                   // token string -> id, as in the file
  StringIdMap vocab_bytes_;             // raw bytes -> id, for every token inside the ByteLevel alphabet
  std::array<int32_t, 256> byte_id_{};  // id of the single-byte token of each byte
  MergeTable merges_;  // (left id << 32 | right id) -> (rank << 32 | merged id)
  bool ignore_merges_ = false;
  int64_t max_id_ = -1;
  uint64_t serial_ = 0;  // tells the per-thread caches of different models apart
};

}  // namespace saediff
