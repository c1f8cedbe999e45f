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
  sets[0].active_docs.assign(d_sae, 0);
  sets[0].active_docs[3] = 2;
  sets[1].name = "cand";
  sets[1].first_doc = 2;
  sets[1].doc_ids = {"p1"};
  sets[1].failed_doc_ids = {"p2"};
  sets[1].active_docs.assign(d_sae, 1);

  std::vector<PooledDoc> docs(3);
  docs[0] = {1, 40, 9, {3, 7}, {0.9f, 0.1f}, {2.0f, 0.1f}, {3, 1}};
  docs[1] = {0, 35, 4, {3}, {1.5f}, {1.5f}, {1}};
  docs[2] = {2, 31, 0, {}, {}, {}, {}};

  EncodedAttrs attrs;
  attrs.text = {{"model", "m"}, {"sae", "s"}, {"pooling", "content"}, {"dtype", "float32"}, {"config", "a = 1\n"}};
  attrs.integer = {{"layer", 19}, {"d_model", 64}};
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
  const EncodedSet& c = f.set("cand");
  EXPECT_EQ(c.failed_doc_ids, std::vector<std::string>{"p2"});
  EXPECT_EQ(c.max.indptr, (std::vector<int64_t>{0, 0}));
  EXPECT_TRUE(c.max.indices.empty());
  EXPECT_THROW(f.set("nope"), Error);
}

TEST(EncodedH5, MissingDocumentIsAnError) {
  std::vector<SetLayout> sets(1);
  sets[0].name = "a";
  sets[0].doc_ids = {"x", "y"};
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
