// encoded.h5 written with parallel HDF5 (one rank here; mpirun tests cover several) and read back.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "io/encoded_h5.h"

namespace saediff {
namespace {

TEST(EncodedH5, WriteReadRoundTrip) {
  const int64_t d_sae = 10;
  std::vector<SetLayout> sets(2);
  sets[0].name = "base";
  sets[0].first_doc = 0;
  sets[0].doc_ids = {"p1", "p2-ünïcode"};
  sets[0].n_docs = 2;
  sets[0].active_docs.assign(d_sae, 0);
  sets[0].active_docs[3] = 2;
  sets[1].name = "cand";
  sets[1].first_doc = 2;
  sets[1].doc_ids = {"p1"};
  sets[1].n_docs = 1;
  sets[1].failed_doc_ids = {"p2"};
  sets[1].active_docs.assign(d_sae, 1);

  std::vector<PooledDoc> docs(3);
  const auto doc = [](int64_t index, int64_t n_token, int64_t n_pooled, std::vector<int32_t> feature, std::vector<float> max,
                      std::vector<float> sum, std::vector<float> count) {
    PooledDoc d;
    d.doc_index = index;
    d.n_token = n_token;
    d.n_pooled = n_pooled;
    d.feature = std::move(feature);
    d.max = std::move(max);
    d.sum = std::move(sum);
    d.count = std::move(count);
    return d;
  };
  docs[0] = doc(1, 40, 9, {3, 7}, {0.9f, 0.1f}, {2.0f, 0.1f}, {3, 1});
  docs[1] = doc(0, 35, 4, {3}, {1.5f}, {1.5f}, {1});
  docs[2] = doc(2, 31, 0, {}, {}, {}, {});
  // Per-token rows: k = 2 strongest features per pooled token; evidence for feature 3 in base's two rows.
  for (PooledDoc* d : {&docs[0], &docs[1], &docs[2]}) {
    for (int64_t t = 0; t < d->n_pooled; ++t) {
      d->topk_feature.insert(d->topk_feature.end(), {3, t % 2 == 0 ? 7 : -1});
      d->topk_value.insert(d->topk_value.end(), {1.0f + static_cast<float>(t), t % 2 == 0 ? 0.5f : 0.0f});
    }
  }
  for (int64_t t = 0; t < 9; ++t) docs[0].evidence_values.push_back(0.1f * static_cast<float>(t));
  for (int64_t t = 0; t < 4; ++t) docs[1].evidence_values.push_back(1.0f + static_cast<float>(t));
  sets[0].evidence_row = {0, 1};
  sets[0].evidence_feature = {3, 3};
  sets[0].categories = {"math", "code"};
  sets[1].categories = {"math"};
  sets[0].model_id = "vendor/model-a";
  sets[0].collected_first = sets[0].collected_last = "2026-11-20T10:00:00Z";
  sets[0].prompts.push_back("What is 2+2?");
  sets[0].prompts.push_back("Write «code»");
  sets[1].prompts.push_back("What is 2+2?");
  docs[1].text = "four";          // 4 tokens: f, o, u, r
  docs[0].text = "déjà vu ok";    // 9 tokens, one ending inside "é"
  docs[1].token_id = {1, 2, 3, 4};
  docs[1].token_end = {1, 2, 3, 4};
  docs[0].token_id = {10, 11, 12, 13, 14, 15, 16, 17, 18};
  docs[0].token_end = {2, 3, 4, 5, 6, 7, 8, 10, 11};
  EncodedAttrs attrs;
  attrs.text = {{"model", "m"}, {"sae", "s"}, {"pooling", "content"}, {"dtype", "float32"}, {"config", "a = 1\n"}};
  attrs.integer = {{"layer", 19}, {"d_model", 64}, {"token_topk", 2}};
  attrs.threshold = 0.5;
  const auto path = (std::filesystem::temp_directory_path() / "saediff_roundtrip.h5").string();
  write_encoded_h5(path, MPI_COMM_WORLD, sets, docs, attrs, d_sae);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  const EncodedFile f = read_encoded_h5(path);
  EXPECT_EQ(f.d_sae, d_sae);
  EXPECT_EQ(f.attrs.text.at("config"), "a = 1\n");
  EXPECT_EQ(f.attrs.integer.at("layer"), 19);
  ASSERT_EQ(f.sets.size(), 2u);
  const EncodedSet& b = f.set("base");
  EXPECT_EQ(b.doc_ids, sets[0].doc_ids);
  EXPECT_EQ(b.n_tokens, (std::vector<int64_t>{35, 40}));
  EXPECT_EQ(b.n_pooled, (std::vector<int64_t>{4, 9}));
  EXPECT_EQ(b.max.indptr, (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(b.max.indices, (std::vector<int32_t>{3, 3, 7}));
  EXPECT_EQ(b.max.values, (std::vector<float>{1.5f, 0.9f, 0.1f}));
  EXPECT_EQ(b.sum.values, (std::vector<float>{1.5f, 2.0f, 0.1f}));
  EXPECT_EQ(b.count.values, (std::vector<float>{1, 3, 1}));
  EXPECT_EQ(b.active_docs, sets[0].active_docs);
  EXPECT_DOUBLE_EQ(b.active_threshold, 0.5);
  EXPECT_EQ(b.categories, sets[0].categories);
  EXPECT_EQ(b.model_id, "vendor/model-a");
  EXPECT_EQ(b.prompts.row(1), "Write «code»");
  EXPECT_EQ(b.texts.row(1), "déjà vu ok");
  EXPECT_EQ(b.tokens.k, 2);
  EXPECT_EQ(b.tokens.indptr, (std::vector<int64_t>{0, 4, 13}));
  EXPECT_EQ(b.tokens.id, (std::vector<int32_t>{1, 2, 3, 4, 10, 11, 12, 13, 14, 15, 16, 17, 18}));
  EXPECT_EQ(b.tokens.end, (std::vector<int64_t>{1, 2, 3, 4, 2, 3, 4, 5, 6, 7, 8, 10, 11}));
  EXPECT_EQ(b.tokens.topk_feature.size(), 26u);
  EXPECT_EQ(b.tokens.topk_feature[0], 3);    // row 0 (doc 0), token 0
  EXPECT_EQ(b.tokens.topk_value[8], 1.0f);   // row 1 (doc 1), token 0
  EXPECT_EQ(b.tokens.topk_feature[11], -1);  // row 1, token 1, second slot
  int64_t n = 0;
  const float* ev = b.evidence.find(1, 3, n);
  ASSERT_NE(ev, nullptr);
  EXPECT_EQ(n, 9);
  EXPECT_FLOAT_EQ(ev[8], 0.8f);
  ev = b.evidence.find(0, 3, n);
  ASSERT_NE(ev, nullptr);
  EXPECT_EQ(n, 4);
  EXPECT_EQ(ev[3], 4.0f);
  EXPECT_EQ(b.evidence.find(0, 7, n), nullptr);
  const EncodedSet& c = f.set("cand");
  EXPECT_TRUE(c.evidence.row.empty());
  EXPECT_EQ(c.texts.row(0), "");
  EXPECT_EQ(c.failed_doc_ids, std::vector<std::string>{"p2"});
  EXPECT_EQ(c.max.indptr, (std::vector<int64_t>{0, 0}));
  EXPECT_TRUE(c.max.indices.empty());
  EXPECT_THROW(f.set("nope"), Error);
}

TEST(EncodedH5, MissingDocumentIsAnError) {
  std::vector<SetLayout> sets(1);
  sets[0].name = "a";
  sets[0].doc_ids = {"x", "y"};
  sets[0].n_docs = 2;
  sets[0].categories = {"c", "c"};
  sets[0].prompts.push_back("p");
  sets[0].prompts.push_back("q");
  sets[0].active_docs.assign(4, 0);
  std::vector<PooledDoc> docs(1);
  docs[0].doc_index = 0;
  const auto path = (std::filesystem::temp_directory_path() / "saediff_missing.h5").string();
  EXPECT_THROW(write_encoded_h5(path, MPI_COMM_WORLD, sets, docs, EncodedAttrs{}, 4), Error);
}

TEST(EncodedH5, NotHdf5IsAClearError) {
  const auto path = (std::filesystem::temp_directory_path() / "saediff_not.h5").string();
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs("hello", f);
  std::fclose(f);
  EXPECT_THROW(read_encoded_h5(path), Error);
}

}  // namespace
}  // namespace saediff
