// Pooling against a plain loop over tokens and features.
#include <gtest/gtest.h>

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
