// Rank 0's document plan: every document exactly once, balanced, deterministic.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "dist/shard.h"

namespace saediff {
namespace {

TEST(Shard, EveryDocumentOnceAndBalanced) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> len(1, 2000);
  std::vector<int64_t> n_tokens(997);
  for (auto& n : n_tokens) n = len(rng);
  for (int n_rank : {1, 2, 3, 4, 7}) {
    const auto plan = plan_shards(n_tokens, n_rank);
    ASSERT_EQ(plan.size(), static_cast<size_t>(n_rank));
    std::vector<int> seen(n_tokens.size(), 0);
    int64_t max_load = 0, total = 0, max_doc = 0;
    for (const auto& docs : plan) {
      int64_t load = 0;
      for (size_t i = 1; i < docs.size(); ++i) EXPECT_GE(n_tokens[docs[i - 1]], n_tokens[docs[i]]) << "longest first";
      for (size_t d : docs) {
        ++seen[d];
        load += n_tokens[d];
        max_doc = std::max(max_doc, n_tokens[d]);
      }
      max_load = std::max(max_load, load);
      total += load;
    }
    EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
    // LPT guarantee: the busiest rank carries at most the average plus one document.
    EXPECT_LE(max_load, total / n_rank + max_doc) << n_rank << " ranks";
    EXPECT_EQ(plan, plan_shards(n_tokens, n_rank)) << "deterministic";
  }
}

TEST(Shard, MoreRanksThanDocuments) {
  const auto plan = plan_shards({5, 3}, 4);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0], std::vector<size_t>{0});
  EXPECT_EQ(plan[1], std::vector<size_t>{1});
  EXPECT_TRUE(plan[2].empty());
  EXPECT_TRUE(plan[3].empty());
}

}  // namespace
}  // namespace saediff
