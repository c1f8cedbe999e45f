// The encode spool: records round-trip exactly; a torn or damaged tail is found and cut off; a folder made with
// other settings is refused without touching it; the chunk plan covers every document once, longest first.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "core/error.h"
#include "dist/dispatch.h"
#include "io/spool.h"

namespace saediff {
namespace {

namespace fs = std::filesystem;

spool::Record sample(int seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  spool::Record r;
  r.key = spool::doc_key("set-" + std::to_string(seed % 3), "p" + std::to_string(seed));
  r.hash = spool::key_hash(r.key, "response text " + std::to_string(seed));
  const int n = 5 + seed % 7;
  for (int i = 0; i < n; ++i) r.ids.push_back(static_cast<int32_t>(rng() % 128256));
  r.pool_begin = 1;
  r.pool_end = n - 1;
  PooledDoc& d = r.doc;
  for (int f = 0; f < 4 + seed % 5; ++f) {
    d.feature.push_back(f * 3 + seed % 2);
    d.max.push_back(0.25f * static_cast<float>(f + 1));
    d.sum.push_back(1.5f * static_cast<float>(f));
    d.count.push_back(static_cast<float>(f % 3));
  }
  for (int t = r.pool_begin; t < r.pool_end; ++t) {
    d.token_id.push_back(r.ids[static_cast<size_t>(t)]);
    d.text += "é" + std::to_string(t);
    d.token_end.push_back(static_cast<int64_t>(d.text.size()));
    d.topk_feature.insert(d.topk_feature.end(), {t, -1});
    d.topk_value.insert(d.topk_value.end(), {0.5f, 0.0f});
  }
  return r;
}

void expect_same(const spool::Record& a, const spool::Record& b) {
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.pool_begin, b.pool_begin);
  EXPECT_EQ(a.pool_end, b.pool_end);
  EXPECT_EQ(a.doc.feature, b.doc.feature);
  EXPECT_EQ(a.doc.max, b.doc.max);
  EXPECT_EQ(a.doc.sum, b.doc.sum);
  EXPECT_EQ(a.doc.count, b.doc.count);
  EXPECT_EQ(a.doc.token_id, b.doc.token_id);
  EXPECT_EQ(a.doc.token_end, b.doc.token_end);
  EXPECT_EQ(a.doc.text, b.doc.text);
  EXPECT_EQ(a.doc.topk_feature, b.doc.topk_feature);
  EXPECT_EQ(a.doc.topk_value, b.doc.topk_value);
  EXPECT_EQ(b.doc.n_token, static_cast<int64_t>(a.ids.size()));
  EXPECT_EQ(b.doc.n_pooled, a.pool_end - a.pool_begin);
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("saediff_spool_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(Spool, RecordsRoundTripAndScanFindsThemAll) {
  const fs::path dir = fresh_dir("roundtrip");
  const std::string path = (dir / "a.spool").string();
  std::vector<std::pair<int64_t, int64_t>> where;
  {
    spool::Writer w(path);
    for (int i = 0; i < 20; ++i) where.push_back(w.append(sample(i)));
    w.sync();
  }
  std::string problem;
  const auto scanned = spool::scan_file(path, problem);
  EXPECT_EQ(problem, "");
  ASSERT_EQ(scanned.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    const spool::Record want = sample(i);
    EXPECT_EQ(scanned[static_cast<size_t>(i)].hash, want.hash);
    EXPECT_EQ(scanned[static_cast<size_t>(i)].key, want.key);
    EXPECT_EQ(scanned[static_cast<size_t>(i)].offset, where[static_cast<size_t>(i)].first);
    EXPECT_EQ(scanned[static_cast<size_t>(i)].sizes.nnz, static_cast<int64_t>(want.doc.feature.size()));
    expect_same(want, spool::read_record(path, where[static_cast<size_t>(i)].first, where[static_cast<size_t>(i)].second));
  }
  fs::remove_all(dir);
}

TEST(Spool, TornOrDamagedTailIsCutOff) {
  const fs::path dir = fresh_dir("torn");
  const std::string path = (dir / "a.spool").string();
  {
    spool::Writer w(path);
    for (int i = 0; i < 5; ++i) w.append(sample(i));
    w.sync();
  }
  const auto full = fs::file_size(path);
  std::string problem;
  // Cut inside the last record: four survive.
  fs::resize_file(path, full - 3);
  EXPECT_EQ(spool::scan_file(path, problem).size(), 4u);
  EXPECT_NE(problem.find("torn"), std::string::npos) << problem;
  // A flipped byte inside the third record's payload: two survive, and reading it directly throws.
  fs::resize_file(path, full);  // the tail is zeros now: also damage
  std::string problem2;
  const auto before = spool::scan_file(path, problem2);
  ASSERT_GE(before.size(), 3u);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(before[2].offset + 40);
    f.put('\x7f');
  }
  EXPECT_EQ(spool::scan_file(path, problem).size(), 2u);
  EXPECT_NE(problem.find("damaged"), std::string::npos) << problem;
  EXPECT_THROW(spool::read_record(path, before[2].offset, before[2].bytes), Error);
  // Garbage after intact records.
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << spool::encode_record(sample(1)) << "not a record at all, just some bytes";
  }
  EXPECT_EQ(spool::scan_file(path, problem).size(), 1u);
  EXPECT_FALSE(problem.empty());
  fs::remove_all(dir);
}

TEST(Spool, DecodeRefusesLies) {
  const std::string good = spool::encode_record(sample(3));
  EXPECT_NO_THROW(spool::decode_record(good, "good"));
  EXPECT_THROW(spool::decode_record(good.substr(0, good.size() - 1), "short"), Error);
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  EXPECT_THROW(spool::decode_record(bad_magic, "magic"), Error);
  std::string bad_reserved = good;  // found by fuzz_spool: a record that decodes must encode back to its bytes
  bad_reserved[29] = '\x01';
  EXPECT_THROW(spool::decode_record(bad_reserved, "reserved"), Error);
  std::string bad_len = good;
  bad_len[8] = static_cast<char>(bad_len[8] + 1);
  EXPECT_THROW(spool::decode_record(bad_len, "length"), Error);
  // An inconsistent record with a valid CRC (pool range past the ids) is still refused.
  spool::Record r = sample(4);
  r.doc.token_id.clear();
  EXPECT_THROW(spool::encode_record(r), Error);
}

TEST(Spool, ManifestMustMatch) {
  const fs::path dir = fresh_dir("manifest") / "out.h5.parts";
  spool::open_dir(dir.string(), R"({"layer": 2, "pool": "content"})");
  EXPECT_TRUE(fs::exists(dir / "manifest.json"));
  EXPECT_NO_THROW(spool::open_dir(dir.string(), R"({"layer": 2, "pool": "content"})"));
  {
    spool::Writer w((dir / "r0.spool").string());
    w.append(sample(0));
    w.sync();
  }
  try {
    spool::open_dir(dir.string(), R"({"layer": 3, "pool": "content"})");
    FAIL() << "a different layer was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer was 2, now 3"), std::string::npos) << e.what();
  }
  EXPECT_EQ(spool::list_files(dir.string()).size(), 1u) << "the records are untouched";
  // Records whose manifest is gone: what made them is unknown, so they are refused too.
  fs::remove(dir / "manifest.json");
  EXPECT_THROW(spool::open_dir(dir.string(), R"({"layer": 2, "pool": "content"})"), Error);
  EXPECT_FALSE(fs::exists(dir / "manifest.json"));
  EXPECT_EQ(spool::dir_for("x/encoded.h5"), "x/encoded.h5.parts");
  fs::remove_all(dir.parent_path());
}

TEST(Spool, ReadsARecordWrittenFromTheFormatDescription) {
  // fuzz/make_seeds.py writes this record in Python from the documented layout, not through saediff.
  std::ifstream in(std::string(SAEDIFF_SOURCE_DIR) + "/fuzz/corpus/spool/record", std::ios::binary);
  ASSERT_TRUE(in);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const spool::Record r = spool::decode_record(bytes, "seed");
  EXPECT_EQ(r.key, spool::doc_key("terse", "p1"));
  EXPECT_EQ(r.hash, 0x1234u);
  EXPECT_EQ(r.ids, (std::vector<int32_t>{128000, 9906, 1917, 128009}));
  EXPECT_EQ(r.pool_begin, 1);
  EXPECT_EQ(r.pool_end, 3);
  EXPECT_EQ(r.doc.feature, (std::vector<int32_t>{3, 17}));
  EXPECT_EQ(r.doc.sum, (std::vector<float>{2.0f, 2.0f}));
  EXPECT_EQ(r.doc.text, "Hello world");
  EXPECT_EQ(r.doc.token_end, (std::vector<int64_t>{5, 11}));
  EXPECT_EQ(r.doc.topk_feature, (std::vector<int32_t>{3, -1, 3, -1}));
  EXPECT_EQ(spool::encode_record(r), bytes) << "saediff writes the same bytes back";
}

TEST(Spool, KeyHashSeesEveryPart) {
  const uint64_t h = spool::key_hash(spool::doc_key("a", "p1"), "text");
  EXPECT_NE(h, spool::key_hash(spool::doc_key("b", "p1"), "text"));
  EXPECT_NE(h, spool::key_hash(spool::doc_key("a", "p2"), "text"));
  EXPECT_NE(h, spool::key_hash(spool::doc_key("a", "p1"), "text."));
  EXPECT_EQ(h, spool::key_hash(spool::doc_key("a", "p1"), "text"));
}

TEST(Dispatch, ChunksCoverEveryDocumentOnceLongestFirst) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> len(1, 2000);
  std::vector<int64_t> n_tokens(997);
  for (auto& n : n_tokens) n = len(rng);
  for (int64_t budget : {1, 500, 4096, 1 << 20}) {
    const auto chunks = plan_chunks(n_tokens, budget);
    std::vector<int> seen(n_tokens.size(), 0);
    int64_t previous = INT64_MAX;
    for (const auto& c : chunks) {
      ASSERT_FALSE(c.empty());
      int64_t load = 0;
      for (size_t d : c) {
        ++seen[d];
        load += n_tokens[d];
        EXPECT_LE(n_tokens[d], previous) << "longest first";
        previous = n_tokens[d];
      }
      EXPECT_TRUE(load <= budget || c.size() == 1) << "a chunk over budget holds one long document";
    }
    for (int s : seen) EXPECT_EQ(s, 1);
    EXPECT_EQ(chunks, plan_chunks(n_tokens, budget)) << "deterministic";
  }
  EXPECT_THROW(plan_chunks(n_tokens, 0), Error);
  EXPECT_TRUE(plan_chunks({}, 10).empty());
}

}  // namespace
}  // namespace saediff
