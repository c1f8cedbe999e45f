#include "text/bpe.h"

#include <algorithm>
#include <atomic>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "text/utf8.h"

namespace saediff {
namespace {

std::atomic<uint64_t> g_next_serial{1};

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Per thread: pieces already split, so that frequent words skip the merge loop. Bounded like HF's cache
// (pieces up to kMaxCachedPiece bytes), and cleared when full rather than grown without limit.
constexpr size_t kMaxCachedPiece = 256;
constexpr size_t kMaxCacheEntries = size_t{1} << 17;
struct PieceCache {
  uint64_t owner = 0;  // serial of the model the entries belong to
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> map;
};
thread_local PieceCache t_cache;

// Scratch of the merge loop, reused across calls.
struct Symbol {
  int32_t id;    // token id; -1 once merged into its left neighbour
  int32_t prev;  // index of the previous live symbol, -1 at the start
  int32_t next;  // index of the next live symbol, -1 at the end
};
struct Candidate {
  int32_t rank;
  int32_t pos;  // index of the left symbol
  int32_t new_id;
  // std::push_heap keeps the largest on top; the lowest rank, then the leftmost, must come first.
  bool operator<(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};
thread_local std::vector<Symbol> t_symbols;
thread_local std::vector<Candidate> t_heap;

}  // namespace

void MergeTable::reserve(size_t n) {
  size_t capacity = 2;
  int bits = 1;
  while (capacity < 2 * n + 2) {  // at most half full
    capacity *= 2;
    ++bits;
  }
  keys_.assign(capacity, kEmpty);
  values_.assign(capacity, 0);
  mask_ = capacity - 1;
  shift_ = 64 - bits;
  size_ = 0;
}

void MergeTable::insert_or_assign(uint64_t key, uint64_t value) {
  SAEDIFF_CHECK(2 * (size_ + 1) <= keys_.size(), "MergeTable: reserve() first");
  size_t i = slot(key);
  while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask_;
  if (keys_[i] == kEmpty) ++size_;
  keys_[i] = key;
  values_[i] = value;
}

const std::array<std::string, 256>& byte_level_chars() {
  static const std::array<std::string, 256> chars = [] {
    std::array<std::string, 256> map;
    uint32_t shift = 0;
    for (uint32_t b = 0; b < 256; ++b) {
      // Printable Latin-1 bytes stand for themselves; the others move to U+0100 upwards, in order.
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      map[b] = encode_utf8(printable ? b : 256 + shift++);
    }
    return map;
  }();
  return chars;
}

bool byte_level_bytes(std::string_view token, std::string& bytes) {
  static const std::unordered_map<uint32_t, char> char_to_byte = [] {
    std::unordered_map<uint32_t, char> m;
    const auto& chars = byte_level_chars();
    for (int b = 0; b < 256; ++b) m[decode_utf8_first(chars[static_cast<size_t>(b)])] = static_cast<char>(b);
    return m;
  }();
  bytes.clear();
  size_t i = 0;
  while (i < token.size()) {
    const size_t n = utf8_length(static_cast<unsigned char>(token[i]));
    if (i + n > token.size()) return false;
    const auto it = char_to_byte.find(decode_utf8_first(token.substr(i, n)));
    if (it == char_to_byte.end()) return false;
    bytes += it->second;
    i += n;
  }
  return true;
}

BpeModel BpeModel::from_json(const nlohmann::json& model, const std::string& source) {
  SAEDIFF_CHECK(model.is_object(), source, ": \"model\" must be an object");
  const std::string type = model.value("type", std::string("BPE"));
  SAEDIFF_CHECK(type == "BPE", source, ": tokenizer model type '", type,
                "' is not supported (saediff reads byte-level BPE tokenizers, such as Llama 3's)");
  const auto null_or = [&](const char* key) { return !model.contains(key) || model[key].is_null(); };
  SAEDIFF_CHECK(null_or("dropout") || model["dropout"].get<double>() == 0.0, source,
                ": BPE dropout is not supported (it makes tokenization random)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    SAEDIFF_CHECK(null_or(key) || model[key].get<std::string>().empty(), source, ": BPE option '", key,
                  "' is not supported (byte-level BPE does not use it)");
  }

  BpeModel m;
  m.serial_ = g_next_serial.fetch_add(1);
  m.ignore_merges_ = model.value("ignore_merges", false);
  const auto& vocab = model.at("vocab");
  SAEDIFF_CHECK(vocab.is_object(), source, ": model.vocab must be an object");
  m.vocab_.reserve(vocab.size());
  std::string bytes;
  for (const auto& [token, id] : vocab.items()) {
    SAEDIFF_CHECK(id.is_number_integer(), source, ": vocab id of '", token, "' is not an integer");
    const auto v = id.get<int64_t>();
    SAEDIFF_CHECK(v >= 0 && v < std::numeric_limits<int32_t>::max(), source, ": vocab id ", v, " of '", token,
                  "' is out of range");
    m.vocab_[token] = static_cast<int32_t>(v);
    m.max_id_ = std::max(m.max_id_, v);
    if (byte_level_bytes(token, bytes)) m.vocab_bytes_[bytes] = static_cast<int32_t>(v);
  }
  const auto& chars = byte_level_chars();
  for (int b = 0; b < 256; ++b) {
    const auto it = m.vocab_.find(chars[static_cast<size_t>(b)]);
    SAEDIFF_CHECK(it != m.vocab_.end(), source, ": the vocabulary lacks the byte-level symbol of byte ", b,
                  " ('", chars[static_cast<size_t>(b)], "'): not a byte-level BPE vocabulary");
    m.byte_id_[static_cast<size_t>(b)] = it->second;
  }

  const auto& merges = model.at("merges");
  SAEDIFF_CHECK(merges.is_array(), source, ": model.merges must be an array");
  m.merges_.reserve(merges.size());
  int32_t rank = 0;
  for (const auto& entry : merges) {
    std::string left, right;
    if (entry.is_string()) {  // "a b"
      const std::string s = entry.get<std::string>();
      const size_t sp = s.find(' ', 1);
      SAEDIFF_CHECK(sp != std::string::npos, source, ": merge '", s, "' is not of the form 'a b'");
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else {  // ["a", "b"]
      SAEDIFF_CHECK(entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string(), source,
                    ": merge #", rank, " must be \"a b\" or [\"a\", \"b\"]");
      left = entry[0].get<std::string>();
      right = entry[1].get<std::string>();
    }
    const auto l = m.vocab_.find(left), r = m.vocab_.find(right), merged = m.vocab_.find(left + right);
    SAEDIFF_CHECK(l != m.vocab_.end() && r != m.vocab_.end() && merged != m.vocab_.end(), source, ": merge '", left,
                  " ", right, "' uses a token outside the vocabulary");
    // A pair listed twice keeps its last rank, as HF's merge map does.
    m.merges_.insert_or_assign(pair_key(l->second, r->second),
                               (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(merged->second));
    ++rank;
  }
  return m;
}

void BpeModel::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (piece.size() == 1) {
    out.push_back(byte_id_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  if (ignore_merges_) {
    const auto it = vocab_bytes_.find(piece);
    if (it != vocab_bytes_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (piece.size() > kMaxCachedPiece) {
    merge(piece, out);
    return;
  }
  PieceCache& cache = t_cache;
  if (cache.owner != serial_) {
    cache.map.clear();
    cache.owner = serial_;
  }
  const auto hit = cache.map.find(piece);
  if (hit != cache.map.end()) {
    out.insert(out.end(), hit->second.begin(), hit->second.end());
    return;
  }
  const size_t first = out.size();
  merge(piece, out);
  if (cache.map.size() >= kMaxCacheEntries) cache.map.clear();
  cache.map.emplace(std::string(piece), std::vector<int32_t>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
}

// HF's word merge: a heap of candidate pairs, lowest rank first and leftmost on ties; a popped candidate
// whose symbols have changed since it was pushed is skipped. O(n log n) in the piece's length, so a long
// run of CJK letters (one pre-token) costs no more than its size.
void BpeModel::merge(std::string_view piece, std::vector<int32_t>& out) const {
  std::vector<Symbol>& sym = t_symbols;
  std::vector<Candidate>& heap = t_heap;
  const auto n = static_cast<int32_t>(piece.size());
  sym.resize(static_cast<size_t>(n));
  heap.clear();
  for (int32_t i = 0; i < n; ++i) {
    sym[static_cast<size_t>(i)] = {byte_id_[static_cast<unsigned char>(piece[static_cast<size_t>(i)])], i - 1,
                                   i + 1 < n ? i + 1 : -1};
  }
  const auto push = [&](int32_t pos) {
    const Symbol& s = sym[static_cast<size_t>(pos)];
    if (s.next < 0) return;
    const uint64_t* merge = merges_.find(pair_key(s.id, sym[static_cast<size_t>(s.next)].id));
    if (merge == nullptr) return;
    heap.push_back({static_cast<int32_t>(*merge >> 32), pos, static_cast<int32_t>(*merge & 0xFFFFFFFFu)});
    std::push_heap(heap.begin(), heap.end());
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& s = sym[static_cast<size_t>(c.pos)];
    if (s.id < 0 || s.next < 0) continue;
    Symbol& right = sym[static_cast<size_t>(s.next)];
    const uint64_t* merge = merges_.find(pair_key(s.id, right.id));
    if (merge == nullptr || static_cast<int32_t>(*merge & 0xFFFFFFFFu) != c.new_id) continue;
    s.id = c.new_id;
    right.id = -1;
    s.next = right.next;
    if (s.next >= 0) sym[static_cast<size_t>(s.next)].prev = c.pos;
    if (s.prev >= 0) push(s.prev);
    push(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = sym[static_cast<size_t>(i)].next) out.push_back(sym[static_cast<size_t>(i)].id);
}

}  // namespace saediff
