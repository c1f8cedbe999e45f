// The tokenizer's own contracts, on a tiny byte-level BPE written here and on the real Llama 3.1
// tokenizer.json (ids against HF itself are checked by tests/integration/tokenizer_vs_hf.py):
// the chat template, decode and per-token pieces, UTF-8 and JSON repair, multi-threaded encoding,
// and a clear refusal of every tokenizer.json feature that is not implemented.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/json_text.h"
#include "text/bpe.h"
#include "text/chat_template.h"
#include "text/regex.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace saediff {
namespace {

// 256 byte symbols (ids 0..255), merges "h e" -> "he", "he l" -> "hel", "l l" -> "ll", "hel lo"? no:
// "l o" -> "lo", "hel lo" -> "hello"; two added tokens after them.
nlohmann::json tiny_tokenizer() {
  nlohmann::json vocab = nlohmann::json::object();
  const auto& chars = byte_level_chars();
  for (int b = 0; b < 256; ++b) vocab[chars[static_cast<size_t>(b)]] = b;
  int next = 256;
  nlohmann::json merges = nlohmann::json::array();
  for (auto [a, b] : {std::pair{"h", "e"}, {"he", "l"}, {"l", "l"}, {"l", "o"}, {"hel", "lo"}}) {
    vocab[std::string(a) + b] = next++;
    merges.push_back(std::string(a) + " " + b);
  }
  return {{"added_tokens",
           {{{"id", 261}, {"content", "<|eot_id|>"}, {"special", true}, {"normalized", false}},
            {{"id", 262}, {"content", "<|eot|>"}, {"special", true}, {"normalized", false}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer",
           {{"type", "Split"}, {"pattern", {{"Regex", "\\s+|\\p{L}+|\\p{N}{1,3}|[^\\s\\p{L}\\p{N}]+"}}},
            {"behavior", "Isolated"}, {"invert", false}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"ignore_merges", false}, {"vocab", vocab}, {"merges", merges}}}};
}

Tokenizer load(const nlohmann::json& j) { return Tokenizer::from_json_text(j.dump(), "tiny.json"); }

std::string error_of(const nlohmann::json& j) {
  try {
    load(j);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool has_llama() { return std::filesystem::exists(SAEDIFF_TOKENIZER_JSON); }

TEST(Tokenizer, TinyBpeMergesByRankAndAddedTokensFirst) {
  const Tokenizer tok = load(tiny_tokenizer());
  EXPECT_EQ(tok.vocab_size(), 263);
  EXPECT_EQ(tok.encode("hello"), (std::vector<int32_t>{260}));  // h e -> he, he l -> hel, l o -> lo, hel lo
  EXPECT_EQ(tok.encode("hell"), (std::vector<int32_t>{257, 'l'}));   // "hel" + "l": l l ranks after he l
  EXPECT_EQ(tok.encode("x<|eot_id|>y<|eot|>"), (std::vector<int32_t>{'x', 261, 'y', 262}));
  EXPECT_EQ(tok.encode("<|eot_id|"), (std::vector<int32_t>{'<', '|', 'e', 'o', 't', '_', 'i', 'd', '|'}));
  EXPECT_TRUE(tok.is_added(261));
  EXPECT_FALSE(tok.is_added(260));
  EXPECT_EQ(tok.token_id("hello"), 260);
  // Pair-form merges give the same model.
  nlohmann::json pairs = tiny_tokenizer();
  for (auto& m : pairs["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    m = nlohmann::json::array({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
  }
  EXPECT_EQ(load(pairs).encode("hello hell"), tok.encode("hello hell"));
}

TEST(Tokenizer, RefusesWhatItDoesNotImplementByName) {
  const auto expect = [](const nlohmann::json& j, const std::string& needle) {
    const std::string e = error_of(j);
    EXPECT_NE(e.find(needle), std::string::npos) << "expected '" << needle << "' in: " << e;
    EXPECT_NE(e.find("tiny.json"), std::string::npos) << e;
  };
  nlohmann::json j = tiny_tokenizer();
  j["model"]["type"] = "WordPiece";
  expect(j, "model type 'WordPiece' is not supported");
  j = tiny_tokenizer();
  j["normalizer"] = {{"type", "NFC"}};
  expect(j, "normalizer type 'NFC'");
  j = tiny_tokenizer();
  j["pre_tokenizer"] = {{"type", "Metaspace"}};
  expect(j, "pre-tokenizer type 'Metaspace'");
  j = tiny_tokenizer();
  j["pre_tokenizer"]["behavior"] = "MergedWithNext";
  expect(j, "Split behavior 'MergedWithNext'");
  j = tiny_tokenizer();
  j["pre_tokenizer"]["invert"] = true;
  expect(j, "inverted Split");
  j = tiny_tokenizer();
  j["decoder"] = {{"type", "WordPiece"}};
  expect(j, "decoder type 'WordPiece'");
  j = tiny_tokenizer();
  j["added_tokens"][0]["lstrip"] = true;
  expect(j, "'<|eot_id|>' sets lstrip");
  j = tiny_tokenizer();
  j["model"]["dropout"] = 0.1;
  expect(j, "dropout");
  j = tiny_tokenizer();
  j["model"]["continuing_subword_prefix"] = "##";
  expect(j, "continuing_subword_prefix");
  j = tiny_tokenizer();
  j["model"]["merges"].push_back("q z");
  expect(j, "merge 'q z' uses a token outside the vocabulary");
  j = tiny_tokenizer();
  j["model"]["vocab"].erase(byte_level_chars()[7]);
  expect(j, "lacks the byte-level symbol of byte 7");
  j = tiny_tokenizer();
  j["model"]["vocab"]["far"] = 100000000;
  expect(j, "not dense");
  j = tiny_tokenizer();
  j["pre_tokenizer"]["pattern"]["Regex"] = "(unclosed";
  expect(j, "cannot compile the pre-tokenizer regex");
  EXPECT_NE(error_of(nlohmann::json::array()).find("not a JSON object"), std::string::npos);
  EXPECT_THROW(Tokenizer::from_file("/nonexistent/tokenizer.json"), Error);
}

TEST(Tokenizer, InvalidUtf8IsRefusedNotCrashedOn) {
  const Tokenizer tok = load(tiny_tokenizer());
  for (const std::string bad : {"\xff", "a\xc3\x28", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    EXPECT_THROW(tok.encode(bad), Error);
  }
}

// Unicode's own example of U+FFFD substitution of maximal subparts (Unicode 15, table 3-8), which is what
// Rust's from_utf8_lossy, Python's errors="replace" and HF's decoder do.
TEST(Utf8, MaximalSubpartReplacement) {
  int64_t n = 0;
  EXPECT_EQ(to_valid_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", &n),
            "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd");
  EXPECT_EQ(n, 6);
  EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");          // a surrogate: each byte
  EXPECT_EQ(to_valid_utf8("\xF0\x9F\x98"), "\uFFFD");                      // a cut emoji: one
  EXPECT_EQ(to_valid_utf8("\xC0\xAF"), "\uFFFD\uFFFD");                    // overlong
  EXPECT_EQ(to_valid_utf8("ok \xF0\x9F\x98\x80"), "ok \xF0\x9F\x98\x80");  // valid stays
  EXPECT_EQ(find_invalid_utf8("ab\xF4\x90\x80\x80"), 2u);
}

TEST(Regex, NewerUnicodeIsDetectedAndWidensLetters) {
  EXPECT_FALSE(has_newer_unicode("plain ASCII, 日本語, 한국어, ١٢٣ and 😀"));
  EXPECT_TRUE(has_newer_unicode("x" + encode_utf8(0x31350)));    // CJK Ext. H (Unicode 15.0): a letter to HF
  EXPECT_TRUE(has_newer_unicode(encode_utf8(0x1E4F0) + "1"));    // Nag Mundari digit (15.0)
  EXPECT_FALSE(has_newer_unicode(encode_utf8(0x323B0)));         // CJK Ext. J (17.0): not yet a letter to HF
  EXPECT_EQ(rewrite_unicode_classes("\\p{L}+", false), "\\p{L}+");
  const std::string wide = rewrite_unicode_classes("[^\\s\\p{N}]", true);
  EXPECT_EQ(wide.find("\\s"), std::string::npos);          // \s spelled out
  EXPECT_NE(wide.find("\\p{N}\\x{"), std::string::npos);  // \p{N} plus ranges, still inside the class
}

TEST(JsonText, LoneSurrogatesAndInvalidBytesBecomeReplacementChars) {
  JsonRepairCounts counts;
  nlohmann::json j = parse_json_lossy(R"({"t": "a\ud800b\udc00c\ud83d\ude00d\\ud800"})", counts);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["t"], "a\uFFFDb\uFFFDc\U0001F600d\\ud800");  // the pair is kept; "\\ud800" is literal text
  EXPECT_EQ(counts.lone_surrogates, 2);
  j = parse_json_lossy("{\"t\": \"x\xff\xc3\x28y\"}", counts);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["t"], "x\uFFFD\uFFFD(y");
  EXPECT_EQ(counts.invalid_utf8, 2);
  EXPECT_EQ(find_invalid_utf8(j["t"].get<std::string>()), std::string::npos);
  EXPECT_TRUE(parse_json_lossy("{\"t\": ", counts).is_discarded());
  EXPECT_NE(describe_repairs(counts).find("2 invalid UTF-8 sequences and 2 lone"), std::string::npos);
}

TEST(Tokenizer, DecodeRoundTripsAndPiecesJoinToDecode) {
  if (!has_llama()) GTEST_SKIP() << "run scripts/setup.sh for tokenizer.json";
  const Tokenizer tok = Tokenizer::from_file(SAEDIFF_TOKENIZER_JSON);
  const std::string text = "Hello 世界 👩‍💻 e\u0301 <|eot_id|> 'LL\n\n 12345";
  EXPECT_EQ(tok.decode(tok.encode(text)), text);
  const std::vector<int32_t> emoji = tok.encode("👩‍💻");
  ASSERT_GT(emoji.size(), 1u);  // split across tokens mid-character
  std::string joined;
  for (const std::string& p : tok.decode_pieces(emoji)) {
    EXPECT_EQ(find_invalid_utf8(p), std::string::npos);
    joined += p;
  }
  EXPECT_EQ(joined, "👩‍💻");
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::vector<int32_t> ids;
    for (int k = 1 + static_cast<int>(rng() % 12); k > 0; --k) ids.push_back(static_cast<int32_t>(rng() % (i % 2 ? 256 : 128256)));
    std::string cat_pieces;
    for (const std::string& p : tok.decode_pieces(ids)) cat_pieces += p;
    ASSERT_EQ(cat_pieces, tok.decode(ids));
  }
  EXPECT_THROW(tok.decode(std::vector<int32_t>{128256}), Error);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{-1}), Error);
}

TEST(Tokenizer, BatchOnManyThreadsEqualsOneByOne) {
  if (!has_llama()) GTEST_SKIP() << "run scripts/setup.sh for tokenizer.json";
  const Tokenizer tok = Tokenizer::from_file(SAEDIFF_TOKENIZER_JSON);
  std::vector<std::string> texts;
  std::mt19937 rng(5);
  const std::vector<std::string> words = {"the", " model", " 模型", " réponse", " 123", "\n\n", " 'll", " 🙂", "<|eot_id|>"};
  for (int i = 0; i < 400; ++i) {
    std::string t;
    for (int k = static_cast<int>(rng() % 200); k > 0; --k) t += words[rng() % words.size()];
    texts.push_back(t);
  }
  const std::vector<std::string_view> views(texts.begin(), texts.end());
  const auto batch = tok.encode_batch(views, 4);
  for (size_t i = 0; i < texts.size(); ++i) ASSERT_EQ(batch[i], tok.encode(texts[i])) << i;
  texts[17] = "bad \xff";
  const std::vector<std::string_view> bad(texts.begin(), texts.end());
  EXPECT_THROW(tok.encode_batch(bad, 4), Error);  // a worker's error reaches the caller
}

TEST(Tokenizer, LongRunsNeedNoMoreThanTheirSize) {
  if (!has_llama()) GTEST_SKIP() << "run scripts/setup.sh for tokenizer.json";
  const Tokenizer tok = Tokenizer::from_file(SAEDIFF_TOKENIZER_JSON);
  std::string cjk;
  for (int i = 0; i < 100000; ++i) cjk += encode_utf8(0x4E00 + static_cast<uint32_t>((i * 7919) % 20000));
  for (const std::string& s : {std::string(1 << 20, 'a'), std::string(1 << 20, ' '), cjk}) {
    EXPECT_EQ(tok.decode(tok.encode(s)), s);
  }
}

TEST(ChatTemplate, Llama3AssistantDocument) {
  EXPECT_EQ(render_llama3_assistant(" \n\u3000Hi there.\u0085 "),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHi there.<|eot_id|>");
  EXPECT_EQ(render_llama3_assistant("\u200bkept\u200b"), std::string(render_llama3_assistant("")).insert(
                                                             render_llama3_assistant("").size() - 10, "\u200bkept\u200b"));
  EXPECT_EQ(parse_chat_template("none"), ChatTemplate::none);
  EXPECT_THROW(parse_chat_template("chatml"), Error);
  if (!has_llama()) GTEST_SKIP() << "run scripts/setup.sh for tokenizer.json";
  const Tokenizer tok = Tokenizer::from_file(SAEDIFF_TOKENIZER_JSON);
  const TemplatedDoc doc = tokenize_document(tok, "  The answer is 42.<|eot_id|>  ", ChatTemplate::llama3);
  EXPECT_EQ(doc.content_begin, 30);  // DESIGN.md: the prefix is 30 tokens
  EXPECT_EQ(doc.ids[0], tok.token_id("<|begin_of_text|>"));
  EXPECT_EQ(doc.ids.back(), tok.token_id("<|eot_id|>"));
  EXPECT_EQ(doc.content_end, static_cast<int32_t>(doc.ids.size()) - 1);
  const std::vector<int32_t> content(doc.ids.begin() + doc.content_begin, doc.ids.begin() + doc.content_end);
  EXPECT_EQ(tok.decode(content), "The answer is 42.<|eot_id|>");  // a special string inside is the special token
  EXPECT_EQ(content.back(), tok.token_id("<|eot_id|>"));
  const TemplatedDoc plain = tokenize_document(tok, "  x", ChatTemplate::none);
  EXPECT_EQ(plain.ids, tok.encode("  x"));  // none: no template, no trimming
  const std::vector<std::string_view> contents = {"a", " b ", "ç"};
  const auto docs = tokenize_documents(tok, contents, ChatTemplate::llama3, 2);
  for (size_t i = 0; i < contents.size(); ++i) EXPECT_EQ(docs[i].ids, tokenize_document(tok, contents[i], ChatTemplate::llama3).ids);
}

}  // namespace
}  // namespace saediff
