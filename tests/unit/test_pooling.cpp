// Pooling against a plain loop over tokens and features.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "model/pooling.h"

namespace saediff {
namespace {

TEST(Pooling, MatchesPlainLoop) {
  torch::manual_seed(3);
  const int64_t n_token = 37, d_sae = 300;
  const torch::Tensor f = torch::relu(torch::randn({n_token, d_sae}) - 1.5).contiguous();  // [T, F] sparse-ish
  const int64_t begin = 5, end = 30;
  const PooledDoc d = pool_features(f, begin, end, 42);
  EXPECT_EQ(d.doc_index, 42);
  EXPECT_EQ(d.n_token, n_token);
  EXPECT_EQ(d.n_pooled, end - begin);
  const auto a = f.accessor<float, 2>();
  size_t k = 0;
  for (int64_t j = 0; j < d_sae; ++j) {
    float mx = 0, sum = 0, count = 0;
    for (int64_t t = begin; t < end; ++t) {
      mx = std::max(mx, a[t][j]);
      sum += a[t][j];
      count += a[t][j] > 0 ? 1.0f : 0.0f;
    }
    if (mx <= 0) continue;
    ASSERT_LT(k, d.feature.size());
    EXPECT_EQ(d.feature[k], j);
    EXPECT_EQ(d.max[k], mx);                 // max is exact
    EXPECT_NEAR(d.sum[k], sum, 1e-5 * (1 + sum));  // float32 summation order may differ
    EXPECT_EQ(d.count[k], count);            // counts are exact
    ++k;
  }
  EXPECT_EQ(k, d.feature.size());
}

// The SAE and pooling in blocks give the two-step form's results: the same features and counts, and max, sum
// and per-token top-k within 1e-5 relative (the CPU GEMM's last bits depend on how many rows it is given, and
// sums add block by block); at block sizes 1, 7 and one block. Fixed seed: the data sit nowhere near a tie.
TEST(Pooling, EncodeAndPoolInBlocksMatchesTwoSteps) {
  torch::manual_seed(4);
  const Sae sae = Sae::random(16, 200, torch::kFloat32, torch::kCPU, 5, -0.15);
  const torch::Tensor x = torch::randn({41, 16}) * 3;
  const int64_t begin = 6, end = 39, k = 5;
  const torch::Tensor f = sae.encode(x);
  torch::Tensor want_max;
  PooledDoc want = pool_features(f, begin, end, 9, &want_max);
  token_topk(f, begin, end, k, want);
  ASSERT_FALSE(want.feature.empty());
  ASSERT_LT(want.feature.size(), 200u);  // some features never fire: the sparse path is exercised
  const auto near = [](const std::vector<float>& a, const std::vector<float>& b, const char* what, int64_t rows) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5 * (1 + std::abs(b[i]))) << what << " " << rows;
  };
  for (const int64_t rows : {int64_t{1}, int64_t{7}, kSaeBlockRows}) {
    torch::Tensor got_max;
    const PooledDoc got = encode_and_pool(sae, x, begin, end, k, 9, &got_max, rows);
    EXPECT_EQ(got.doc_index, 9);
    EXPECT_EQ(got.n_token, 41);
    EXPECT_EQ(got.n_pooled, end - begin);
    EXPECT_EQ(got.feature, want.feature) << rows;
    EXPECT_EQ(got.count, want.count) << rows;
    near(got.max, want.max, "max", rows);
    near(got.sum, want.sum, "sum", rows);
    EXPECT_EQ(got.topk_feature, want.topk_feature) << rows;
    near(got.topk_value, want.topk_value, "topk", rows);
    EXPECT_LE((got_max - want_max).abs().max().item<double>(), 1e-5);
    // The evidence pass's per-token values come from the same blocks: bit for bit the pooled max.
    const torch::Tensor idx = torch::tensor(std::vector<int64_t>{got.feature[0], got.feature.back()}, torch::kLong);
    const torch::Tensor rows_f = encode_feature_rows(sae, x, begin, end, idx, rows);  // [n_pooled, 2]
    ASSERT_EQ(rows_f.sizes(), (std::vector<int64_t>{end - begin, 2}));
    EXPECT_EQ(rows_f.select(1, 0).max().item<float>(), got.max[0]);
    EXPECT_EQ(rows_f.select(1, 1).max().item<float>(), got.max.back());
  }
  EXPECT_TRUE(encode_and_pool(sae, x, 3, 3, k, 0).feature.empty());
  EXPECT_THROW(encode_and_pool(sae, x, 30, 50, k, 0), Error);
}

TEST(Pooling, EmptyRangeAndBadRange) {
  const torch::Tensor f = torch::ones({4, 8});
  const PooledDoc d = pool_features(f, 2, 2, 0);
  EXPECT_TRUE(d.feature.empty());
  EXPECT_EQ(d.n_pooled, 0);
  EXPECT_THROW(pool_features(f, 3, 5, 0), Error);
  EXPECT_THROW(parse_pool_scope("mean"), Error);
}

}  // namespace
}  // namespace saediff
