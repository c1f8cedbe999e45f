// Randomised robustness of the hand-written parsers (safetensors, CSV, tokenizer input): every input
// either parses or throws saediff::Error; nothing crashes (these also run under ASan+UBSan).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.h"
#include "analysis/findings.h"
#include "io/json_text.h"
#include "io/prompts.h"
#include "model/safetensors.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace saediff {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(Fuzz, SafetensorsMutations) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string good = (dir / "saediff_fuzz_good.safetensors").string();
  write_safetensors(good, {{"a", torch::arange(12, torch::kFloat32).reshape({3, 4})},
                           {"b", torch::ones({5}, torch::kBFloat16)},
                           {"c", torch::arange(3, torch::kInt64)}},
                    {{"k", "v"}});
  const std::string bytes = read_all(good);
  {
    const SafetensorsFile f = SafetensorsFile::open(good);
    EXPECT_TRUE(torch::equal(f.tensor("a", torch::kFloat32), torch::arange(12, torch::kFloat32).reshape({3, 4})));
    EXPECT_TRUE(torch::equal(f.tensor("b", torch::kFloat32), torch::ones({5})));
    EXPECT_EQ(f.metadata().at("k"), "v");
    EXPECT_EQ(f.names(), (std::vector<std::string>{"a", "b", "c"}));
  }
  std::mt19937 rng(42);
  const std::string path = (dir / "saediff_fuzz_mut.safetensors").string();
  int n_ok = 0, n_error = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string m = bytes;
    const int kind = static_cast<int>(rng() % 4);
    if (kind == 0) {
      m.resize(rng() % m.size());  // truncation
    } else if (kind == 1) {
      for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) m[rng() % m.size()] = static_cast<char>(rng());
    } else if (kind == 2) {  // flip a byte inside the JSON header, where the structure lives
      m[8 + rng() % std::min<size_t>(m.size() - 8, 200)] = static_cast<char>(rng() % 128);
    } else {  // corrupt the header length
      m[rng() % 8] = static_cast<char>(rng());
    }
    std::ofstream(path, std::ios::binary) << m;
    try {
      const SafetensorsFile f = SafetensorsFile::open(path);
      for (const auto& name : f.names()) f.tensor(name, torch::kFloat32);
      ++n_ok;
    } catch (const Error&) {
      ++n_error;
    }
  }
  EXPECT_GT(n_error, 1000);
  EXPECT_EQ(n_ok + n_error, 3000);
}

TEST(Fuzz, CsvRandomInputAndRoundTrip) {
  std::mt19937 rng(7);
  const std::string alphabet = "ab,\"\r\n xé";
  for (int i = 0; i < 5000; ++i) {
    std::string s;
    for (int k = static_cast<int>(rng() % 40); k > 0; --k) s += alphabet[rng() % alphabet.size()];
    try {
      parse_csv(s);
    } catch (const Error&) {
    }
  }
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::string> row;
    for (int c = 1 + static_cast<int>(rng() % 4); c > 0; --c) {
      std::string f;
      for (int k = static_cast<int>(rng() % 12); k > 0; --k) f += alphabet[rng() % alphabet.size()];
      row.push_back(f);
    }
    if (row.size() == 1 && row[0].empty()) continue;  // a blank line is skipped, by design
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) line += (c ? "," : "") + csv_escape(row[c]);
    const auto parsed = parse_csv(line + "\r\n");
    ASSERT_EQ(parsed.size(), 1u) << line;
    EXPECT_EQ(parsed[0], row) << line;
  }
  EXPECT_THROW(parse_csv("a,\"unterminated\n"), Error);
  EXPECT_THROW(parse_csv("a,b\"c\n"), Error);
}

TEST(Fuzz, TokenizerRandomText) {
  if (!std::filesystem::exists(SAEDIFF_TOKENIZER_JSON)) GTEST_SKIP() << "run scripts/setup.sh for tokenizer.json";
  const Tokenizer tok = Tokenizer::from_file(SAEDIFF_TOKENIZER_JSON);
  std::mt19937 rng(11);
  int n_invalid = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string s;
    if (i % 2 == 0) {  // random bytes: mostly invalid UTF-8
      for (int k = static_cast<int>(rng() % 24); k > 0; --k) s += static_cast<char>(rng());
    } else {  // random valid code points
      for (int k = static_cast<int>(rng() % 16); k > 0; --k) {
        uint32_t cp = rng() % 0x110000;
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0x41;
        s += encode_utf8(cp);
      }
    }
    try {
      const std::vector<int32_t> ids = tok.encode(s);
      EXPECT_EQ(tok.decode(ids), s);  // byte-level BPE is lossless
      const TemplatedDoc doc = tokenize_document(tok, s, ChatTemplate::llama3);
      EXPECT_EQ(doc.content_begin, 30);
      EXPECT_EQ(doc.content_end, static_cast<int32_t>(doc.ids.size()) - 1);
    } catch (const Error&) {
      ++n_invalid;
      EXPECT_NE(find_invalid_utf8(s), std::string_view::npos) << "only invalid UTF-8 may be refused";
    }
  }
  EXPECT_GT(n_invalid, 100);
}

}  // namespace
}  // namespace saediff

namespace saediff {
namespace {

// findings.json (diff --findings reads what interpret wrote, or a file a user edited): every mutation parses
// or throws saediff::Error naming the file. LLM answers: extract_json_object never throws, whatever it gets.
TEST(Fuzz, FindingsJsonAndLlmAnswers) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string path = (dir / "saediff_fuzz_findings.json").string();
  Findings f;
  f.baseline = "a";
  f.candidate = "b";
  f.proposer = "p";
  f.judge = "j";
  f.discovery = {"x"};
  f.held_out = {"y"};
  f.held_out_pairs = {"y"};
  f.by_category = {{"c", {1, 1}}};
  Finding h;
  h.id = "sae-1";
  h.text = "uses \"```\" more";
  h.source = "sae";
  h.features = {1};
  h.outcomes = {PairOutcome::candidate};
  h.stats = hypothesis_stats(h.outcomes);
  h.examples = {{"y", "p", "c", "b", "candidate"}};
  f.hypotheses = {h};
  write_findings(path, f);
  const std::string bytes = read_all(path);
  std::mt19937 rng(7);
  int n_ok = 0, n_error = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string m = bytes;
    if (rng() % 3 == 0) {
      m.resize(rng() % m.size());
    } else {
      const std::string bytes_json = "{}[]\",:0123456789aetn \\";  // JSON's structure, digits, true/null letters
      for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) m[rng() % m.size()] = bytes_json[rng() % bytes_json.size()];
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << m;
    try {
      read_findings(path);
      ++n_ok;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      ++n_error;
    }
  }
  EXPECT_GT(n_error, 0);
  EXPECT_GT(n_ok, 0);
  const std::string alphabet = "{}[]\":,`\n abc123\\json";
  for (int i = 0; i < 5000; ++i) {
    std::string s;
    for (size_t n = rng() % 64; n > 0; --n) s += alphabet[rng() % alphabet.size()];
    const nlohmann::json j = extract_json_object(s);
    EXPECT_TRUE(j.is_discarded() || j.is_object()) << s;
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace saediff
