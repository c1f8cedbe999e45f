#include "text/tokenizer.h"

#include <deque>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/parallel.h"
#include "text/added_tokens.h"
#include "text/bpe.h"
#include "text/pretokenizer.h"
#include "text/utf8.h"

namespace saediff {
namespace {

void check_supported_parts(const nlohmann::json& j, const std::string& source) {
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    SAEDIFF_FAIL(source, ": normalizer type '", j["normalizer"].value("type", "?"),
                 "' is not supported (Llama 3 tokenizers have none)");
  }
  SAEDIFF_CHECK(j.contains("decoder") && j["decoder"].is_object() && j["decoder"].value("type", "") == "ByteLevel",
                source, ": decoder type '",
                j.contains("decoder") && j["decoder"].is_object() ? j["decoder"].value("type", "?") : std::string("null"),
                "' is not supported (saediff decodes byte-level BPE with the ByteLevel decoder)");
}

// Per thread: the pre-tokens of the segment being encoded.
thread_local std::vector<std::string_view> t_pieces;
thread_local std::deque<std::string> t_arena;

}  // namespace

struct Tokenizer::Impl {
  BpeModel bpe;
  PreTokenizer pre;
  AddedTokenMatcher added_raw;         // added tokens with normalized=false: matched first
  AddedTokenMatcher added_normalized;  // normalized=true: matched in what is left
  std::vector<std::string> id_to_token;  // [vocab_size]; "" for unused ids
  std::vector<std::string> id_to_bytes;  // [vocab_size]; what the ByteLevel decoder makes of each token
  std::vector<uint8_t> is_added;         // [vocab_size]
  StringIdMap added_ids;                 // added token content -> id (wins over the vocab, as in HF)

  void encode_plain(std::string_view text, std::vector<int32_t>& out) const;
  void encode_between_raw(std::string_view text, std::vector<int32_t>& out) const;
};

void Tokenizer::Impl::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<std::string_view>& pieces = t_pieces;
  std::deque<std::string>& arena = t_arena;
  pieces.clear();
  arena.clear();
  pre.split(text, pieces, arena);
  for (std::string_view p : pieces) bpe.encode_piece(p, out);
}

// Text with no raw-matched added token in it: split on the normalized added tokens, encode the rest.
void Tokenizer::Impl::encode_between_raw(std::string_view text, std::vector<int32_t>& out) const {
  size_t pos = 0;
  AddedTokenMatcher::Match m;
  while (added_normalized.find(text, pos, m)) {
    encode_plain(text.substr(pos, m.at - pos), out);
    out.push_back(m.id);
    pos = m.at + m.length;
  }
  encode_plain(text.substr(pos), out);
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot open tokenizer file '", path, "'");
  std::ostringstream text;
  text << in.rdbuf();
  return from_json_text(text.str(), path);
}

Tokenizer Tokenizer::from_json_text(std::string_view json, const std::string& source) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  SAEDIFF_CHECK(!j.is_discarded() && j.is_object(), source, ": not a JSON object");
  auto impl = std::make_unique<Impl>();
  try {
    check_supported_parts(j, source);
    impl->bpe = BpeModel::from_json(j.at("model"), source);
    impl->pre = PreTokenizer::from_json(j.contains("pre_tokenizer") ? j["pre_tokenizer"] : nlohmann::json(), source);
    int64_t max_id = impl->bpe.max_id();
    std::vector<std::pair<std::string, int32_t>> added;
    if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
      SAEDIFF_CHECK(j["added_tokens"].is_array(), source, ": added_tokens must be an array");
      for (const auto& t : j["added_tokens"]) {
        const auto id = t.at("id").get<int64_t>();
        const auto content = t.at("content").get<std::string>();
        SAEDIFF_CHECK(!content.empty(), source, ": an added token (id ", id, ") is empty");
        SAEDIFF_CHECK(id >= 0 && id < (int64_t{1} << 31) - 1, source, ": added token '", content, "' has id ", id,
                      " out of range");
        SAEDIFF_CHECK(find_invalid_utf8(content) == std::string::npos, source, ": added token ", id, " is not UTF-8");
        for (const char* flag : {"lstrip", "rstrip", "single_word"}) {
          SAEDIFF_CHECK(!t.value(flag, false), source, ": added token '", content, "' sets ", flag,
                        ", which is not supported");
        }
        (t.value("normalized", false) ? impl->added_normalized : impl->added_raw).add(content, static_cast<int32_t>(id));
        added.emplace_back(content, static_cast<int32_t>(id));
        max_id = std::max(max_id, id);
      }
    }
    // Ids index dense tables: a vocabulary with far larger ids than tokens is refused, not allocated.
    const int64_t n_entries = static_cast<int64_t>(impl->bpe.vocab().size() + added.size());
    SAEDIFF_CHECK(max_id < 2 * n_entries + 1024, source, ": token ids are not dense (max id ", max_id, " for ",
                  n_entries, " tokens)");
    const auto n = static_cast<size_t>(max_id + 1);
    impl->id_to_token.assign(n, "");
    impl->is_added.assign(n, 0);
    for (const auto& [token, id] : impl->bpe.vocab()) {
      impl->id_to_token[static_cast<size_t>(id)] = token;
    }
    for (const auto& [content, id] : added) {  // an added token wins over a vocab entry with its id
      impl->id_to_token[static_cast<size_t>(id)] = content;
      impl->is_added[static_cast<size_t>(id)] = 1;
      impl->added_ids[content] = id;
    }
    impl->id_to_bytes.resize(n);
    for (size_t id = 0; id < n; ++id) {
      // HF's ByteLevel decoder: a token outside the byte alphabet (e.g. with a literal space) is its own UTF-8.
      if (!byte_level_bytes(impl->id_to_token[id], impl->id_to_bytes[id])) impl->id_to_bytes[id] = impl->id_to_token[id];
    }
  } catch (const nlohmann::json::exception& e) {
    SAEDIFF_FAIL(source, ": malformed tokenizer.json: ", e.what());
  }
  return Tokenizer(std::move(impl));
}

void Tokenizer::encode_into(std::string_view text, std::vector<int32_t>& out) const {
  const size_t bad = find_invalid_utf8(text);
  SAEDIFF_CHECK(bad == std::string_view::npos, "text is not valid UTF-8 (byte offset ", bad, ")");
  size_t pos = 0;
  AddedTokenMatcher::Match m;
  while (impl_->added_raw.find(text, pos, m)) {
    impl_->encode_between_raw(text.substr(pos, m.at - pos), out);
    out.push_back(m.id);
    pos = m.at + m.length;
  }
  impl_->encode_between_raw(text.substr(pos), out);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  encode_into(text, out);
  return out;
}

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(std::span<const std::string_view> texts,
                                                          int n_threads) const {
  std::vector<std::vector<int32_t>> out(texts.size());
  parallel_for(texts.size(), n_threads, [&](size_t i) { out[i] = encode(texts[i]); });
  return out;
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  SAEDIFF_CHECK(id >= 0 && static_cast<size_t>(id) < impl_->id_to_bytes.size(), "token id ", id, " out of range [0, ",
                impl_->id_to_bytes.size(), ")");
  return impl_->id_to_bytes[static_cast<size_t>(id)];
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string bytes;
  for (int32_t id : ids) bytes += token_bytes(id);
  return to_valid_utf8(bytes);
}

std::vector<std::string> Tokenizer::decode_pieces(std::span<const int32_t> ids) const {
  std::vector<std::string> pieces(ids.size());
  std::string pending;  // bytes of a character not complete yet: they go to the token that completes it
  for (size_t t = 0; t < ids.size(); ++t) {
    pending += token_bytes(ids[t]);
    size_t i = 0;
    while (i < pending.size()) {
      const Utf8Unit u = next_utf8_unit(std::string_view(pending).substr(i));
      if (u.kind == Utf8Unit::Kind::incomplete) break;  // wait for the next token
      if (u.kind == Utf8Unit::Kind::valid) pieces[t].append(pending, i, u.length);
      else pieces[t] += kReplacementChar;
      i += u.length;
    }
    pending.erase(0, i);
  }
  if (!pending.empty()) pieces.back() += kReplacementChar;  // cut short by the end: one U+FFFD, as decode()
  return pieces;
}

int32_t Tokenizer::token_id(std::string_view token) const {
  if (const auto it = impl_->added_ids.find(token); it != impl_->added_ids.end()) return it->second;
  const auto it = impl_->bpe.vocab().find(token);
  SAEDIFF_CHECK(it != impl_->bpe.vocab().end(), "token '", token, "' is not in the vocabulary");
  return it->second;
}

std::string Tokenizer::token_text(int32_t id) const {
  SAEDIFF_CHECK(id >= 0 && static_cast<size_t>(id) < impl_->id_to_token.size(), "token id ", id, " out of range");
  return impl_->id_to_token[static_cast<size_t>(id)];
}

bool Tokenizer::is_added(int32_t id) const {
  SAEDIFF_CHECK(id >= 0 && static_cast<size_t>(id) < impl_->is_added.size(), "token id ", id, " out of range");
  return impl_->is_added[static_cast<size_t>(id)] != 0;
}

int64_t Tokenizer::vocab_size() const { return static_cast<int64_t>(impl_->id_to_token.size()); }

}  // namespace saediff
