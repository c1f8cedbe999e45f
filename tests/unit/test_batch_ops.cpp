// A batch's work does not grow with the documents in it: the reader's grouped attention and the batched SAE and
// pooling give each document what it gets alone (against the one-document forward and the two-step pooling), and
// a batch of 64 short documents runs as many ATen operations as one of 8 long ones with the same tokens.
#include <gtest/gtest.h>

#include "core/error.h"
#include "model/llama.h"
#include "model/op_counter.h"
#include "model/pooling.h"
#include "model/sae.h"
#include "tiny_llama.h"

namespace saediff {
namespace {

using test::random_ids;
using test::tiny_config;

struct Packed {
  std::vector<int32_t> ids;
  std::vector<int64_t> lengths;
  std::vector<std::vector<int32_t>> docs;
};
Packed pack(const std::vector<int64_t>& lengths, unsigned seed) {
  Packed p;
  p.lengths = lengths;
  for (size_t i = 0; i < lengths.size(); ++i) {
    p.docs.push_back(random_ids(lengths[i], seed + static_cast<unsigned>(i)));
    p.ids.insert(p.ids.end(), p.docs.back().begin(), p.docs.back().end());
  }
  return p;
}

double rel_err(const torch::Tensor& got, const torch::Tensor& want) {
  return (got - want).abs().max().item<double>() / (1 + want.abs().max().item<double>());
}

// Groups of every kind: equal lengths back to back (one causal call over [B, H, L, hd]), equal lengths apart,
// mixed lengths (padded with a key mask), one token, and many small groups when the score budget is small.
// Float32 on the CPU, 1e-5 relative against each document read alone; each fusion off gives the same rows.
TEST(BatchOps, GroupedAttentionMatchesOneDocumentAtATime) {
  torch::NoGradGuard no_grad;
  LlamaModel m = LlamaModel::random(tiny_config(), 1, torch::kFloat32, torch::kCPU, 21);
  for (const std::vector<int64_t>& lengths :
       {std::vector<int64_t>{16, 16, 16, 16}, {16, 9, 16, 30, 16}, {40, 38, 37, 1, 2, 35}, {5}, {64, 3, 3, 3, 64}}) {
    const Packed p = pack(lengths, 7);
    for (const int64_t max_scores : {LlamaModel::kMaxScoreElements, int64_t{4 * 40 * 40}, int64_t{4 * 64 * 3}}) {
      const torch::Tensor all = m.forward_packed(p.ids, p.lengths, max_scores);
      int64_t row = 0;
      for (size_t i = 0; i < p.docs.size(); ++i) {
        const torch::Tensor alone = m.forward(p.docs[i]);
        EXPECT_LE(rel_err(all.narrow(0, row, lengths[i]), alone), 1e-5)
            << "doc " << i << " of " << lengths.size() << ", max_scores " << max_scores;
        row += lengths[i];
      }
    }
  }
  const Packed p = pack({16, 9, 16, 30, 16}, 8);
  const torch::Tensor fused = m.forward_packed(p.ids, p.lengths);
  for (int off = 0; off < 3; ++off) {
    LlamaModel::Fusion f;
    (off == 0 ? f.residual_addmm : off == 1 ? f.inplace_mlp : f.rms_norm_op) = false;
    m.set_fusion(f);
    EXPECT_LE(rel_err(m.forward_packed(p.ids, p.lengths), fused), 1e-5) << "fusion " << off << " off";
  }
}

// pool_batch over documents with template rows outside the pooled range, an empty range, and one document longer
// than a block, at block sizes that split documents, pad blocks, or hold everything: against the two-step form on
// each document alone (sae.encode, pool_features, token_topk): the same features, counts and top-k ids; max, sum
// and top-k values within 1e-5 relative (GEMM blocking and summation order).
TEST(BatchOps, PoolBatchMatchesEachDocumentAlone) {
  torch::manual_seed(9);
  const Sae sae = Sae::random(16, 300, torch::kFloat32, torch::kCPU, 5, -0.15);
  const std::vector<PoolRange> shape = {{0, 20, 3, 19, 100}, {20, 7, 2, 2, 101}, {27, 61, 0, 61, 102},
                                        {88, 12, 4, 12, 103}, {100, 12, 4, 12, 104}, {112, 5, 1, 4, 105}};
  const torch::Tensor x = torch::randn({117, 16}) * 3;
  const int64_t k = 4;
  const auto near = [](const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5 * (1 + std::abs(b[i]))) << what << " " << i;
  };
  for (const int64_t rows : {int64_t{1}, int64_t{7}, int64_t{24}, int64_t{50}, kSaeBlockRows}) {
    const PendingBatch pending = pool_batch(sae, x, shape, k, rows);
    ASSERT_TRUE(pending.max.defined());
    EXPECT_EQ(pending.max.size(0), 5);  // one document pools nothing
    const std::vector<PooledDoc> got = finish_batch(pending);
    ASSERT_EQ(got.size(), shape.size());
    for (size_t i = 0; i < shape.size(); ++i) {
      const PoolRange& r = shape[i];
      const torch::Tensor f = sae.encode(x.narrow(0, r.first, r.n_token));
      PooledDoc want = pool_features(f, r.begin, r.end, r.doc_index);
      token_topk(f, r.begin, r.end, k, want);
      const std::string what = "rows " + std::to_string(rows) + " doc " + std::to_string(i);
      EXPECT_EQ(got[i].doc_index, r.doc_index) << what;
      EXPECT_EQ(got[i].n_token, r.n_token) << what;
      EXPECT_EQ(got[i].n_pooled, r.end - r.begin) << what;
      EXPECT_EQ(got[i].feature, want.feature) << what;
      EXPECT_EQ(got[i].count, want.count) << what;
      near(got[i].max, want.max, what + " max");
      near(got[i].sum, want.sum, what + " sum");
      EXPECT_EQ(got[i].topk_feature, want.topk_feature) << what;
      near(got[i].topk_value, want.topk_value, what + " topk");
      if (pending.pooled_row[i] >= 0) {
        torch::Tensor dense;
        pool_features(f, r.begin, r.end, r.doc_index, &dense);
        EXPECT_LE((pending.max[pending.pooled_row[i]] - dense).abs().max().item<double>(), 1e-5) << what;
      }
    }
  }
  EXPECT_FALSE(pool_batch(sae, x, {{0, 5, 2, 2, 0}}, k).max.defined());
  EXPECT_THROW(pool_batch(sae, x, {{110, 10, 0, 10, 0}}, k), Error);  // past the batch's rows
  EXPECT_THROW(pool_batch(sae, x, {{0, 10, 4, 11, 0}}, k), Error);    // past the document
}

// The measure: 64 documents of 64 tokens against 8 of 512, 4,096 tokens each way, through the reader,
// the SAE, pooling and the copy to the host. Per-document work would make the first several times the second.
TEST(BatchOps, SixtyFourDocumentsRunTheOperationsOfEight) {
  torch::NoGradGuard no_grad;
  const LlamaModel m = LlamaModel::random(tiny_config(), 1, torch::kFloat32, torch::kCPU, 22);
  const Sae sae = Sae::random(32, 512, torch::kFloat32, torch::kCPU, 6, -0.1);
  std::string names;
  const auto ops = [&](int64_t n_doc, int64_t n_token, int64_t block_rows = 0) {
    const Packed p = pack(std::vector<int64_t>(static_cast<size_t>(n_doc), n_token), 3);
    std::vector<PoolRange> ranges;
    for (int64_t i = 0; i < n_doc; ++i) ranges.push_back({i * n_token, n_token, 5, n_token - 1, i});  // a template's rows left out
    const OpCounter counter(/*by_name=*/true);
    const torch::Tensor x = m.forward_packed(p.ids, p.lengths);
    const int64_t reader = counter.count();
    const std::vector<PooledDoc> docs = finish_batch(pool_batch(sae, x, ranges, 8, block_rows));
    EXPECT_EQ(docs.size(), static_cast<size_t>(n_doc));
    names += "\n" + std::to_string(n_doc) + " x " + std::to_string(n_token) + ", block rows " +
             std::to_string(block_rows) + ": reader " + std::to_string(reader) +
             ", SAE and pooling " + std::to_string(counter.count() - reader) + "; " + counter.most_frequent(8);
    return counter.count();
  };
  const int64_t many = ops(64, 64), few = ops(8, 512);
  EXPECT_GT(few, 50);  // the counter sees the operations
  EXPECT_LE(std::abs(many - few), few / 10) << names;
  // Blocks smaller than the long documents (a CPU's blocks at a wide SAE): the long documents' pieces are
  // combined, all of them at once, and the short ones share gathered, padded blocks, which cost a few operations
  // more than slices (a narrow of the batch's index and of its mask, and the mask's multiply): 32 blocks either
  // way. Twice the documents in the same blocks cost nothing more.
  const int64_t many_blocks = ops(64, 64, 128), few_blocks = ops(8, 512, 128), most_blocks = ops(128, 32, 128);
  EXPECT_LE(std::abs(many_blocks - few_blocks), few_blocks / 5) << names;
  EXPECT_LE(std::abs(most_blocks - many_blocks), many_blocks / 10) << names;
  // Mixed lengths pad and gather, a constant number of operations more.
  std::vector<int64_t> mixed;
  for (int i = 0; i < 64; ++i) mixed.push_back(48 + (i * 37) % 33);
  const Packed p = pack(mixed, 4);
  std::vector<PoolRange> ranges;
  int64_t row = 0;
  for (size_t i = 0; i < mixed.size(); ++i) {
    ranges.push_back({row, mixed[i], 3, mixed[i], static_cast<int64_t>(i)});
    row += mixed[i];
  }
  const OpCounter counter;
  finish_batch(pool_batch(sae, m.forward_packed(p.ids, p.lengths), ranges, 8));
  EXPECT_LE(counter.count(), 2 * few) << "64 mixed-length documents";
}

}  // namespace
}  // namespace saediff
