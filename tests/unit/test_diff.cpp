// Frequency diff: ranking by |diff| with exact ties, thresholds, and CSV formatting.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "analysis/diff.h"
#include "analysis/report.h"
#include "analysis/stats.h"
#include "core/error.h"

namespace saediff {
namespace {

TEST(Diff, RanksByAbsoluteDiffThenFeatureId) {
  // n_b = 4, n_c = 8. Feature 0: 2/4 vs 4/8 = 0 diff; 1: 0/4 vs 8/8 = +1; 2: 4/4 vs 0/8 = -1;
  // 3: 1/4 vs 6/8 = +0.5; 4: 3/4 vs 2/8 = -0.5; 5: inactive in both (left out).
  const std::vector<int64_t> cb = {2, 0, 4, 1, 3, 0};
  const std::vector<int64_t> cc = {4, 8, 0, 6, 2, 0};
  const auto rows = diff_sets(cb, 4, cc, 8);
  ASSERT_EQ(rows.size(), 5u);
  const std::vector<int32_t> expected = {1, 2, 3, 4, 0};  // |1|,|1| tie -> id; |0.5|,|0.5| tie -> id; 0
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i].feature, expected[i]) << "row " << i;
  EXPECT_DOUBLE_EQ(rows[0].diff, 1.0);
  EXPECT_DOUBLE_EQ(rows[1].diff, -1.0);
  EXPECT_DOUBLE_EQ(rows[2].freq_baseline, 0.25);
  EXPECT_DOUBLE_EQ(rows[2].freq_candidate, 0.75);
  EXPECT_EQ(rows[4].diff, 0.0);  // exactly zero, not a rounding residue
}

TEST(Diff, TiesThatFloatingPointWouldBreakAreExact) {
  // 1/3 - 0 and 2/6 - 0 are equal; features must then be ordered by id, whatever rounding does.
  const auto rows = diff_sets({0, 0}, 3, {2, 1}, 6);  // diffs 2/6 and 1/6
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].feature, 0);
  const auto tie = diff_sets({1, 0}, 3, {0, 2}, 6);  // -1/3 and +2/6: equal magnitude
  ASSERT_EQ(tie.size(), 2u);
  EXPECT_EQ(tie[0].feature, 0);
  EXPECT_EQ(tie[1].feature, 1);
}

TEST(Diff, ActiveCountsUseStrictThreshold) {
  EncodedSet s;
  s.doc_ids = {"a", "b", "c"};
  s.max.indptr = {0, 2, 3, 5};
  s.max.indices = {0, 2, 2, 1, 2};
  s.max.values = {0.5f, 0.7f, 0.2f, 3.0f, 0.51f};
  EXPECT_EQ(active_counts(s, 3, 0.5), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(active_counts(s, 3, 0.0), (std::vector<int64_t>{1, 1, 3}));
  EXPECT_THROW(active_counts(s, 3, -0.1), Error);
}

TEST(Stats, FisherExactAgainstHandComputedTables) {
  // Hypergeometric probabilities by hand (see the CSV test below): 30/70 and 34/70.
  EXPECT_NEAR(fisher_exact_two_sided(2, 4, 0, 4), 30.0 / 70.0, 1e-12);
  EXPECT_NEAR(fisher_exact_two_sided(1, 4, 3, 4), 34.0 / 70.0, 1e-12);
  EXPECT_NEAR(fisher_exact_two_sided(0, 10, 0, 12), 1.0, 1e-12);
  // All 10 vs none of 10: 2 / C(20, 10).
  EXPECT_NEAR(fisher_exact_two_sided(10, 10, 0, 10), 2.0 / 184756.0, 1e-15);
  EXPECT_THROW(fisher_exact_two_sided(5, 4, 0, 4), Error);
}

TEST(Stats, BenjaminiHochberg) {
  const auto q = benjamini_hochberg({0.01, 0.04, 0.03, 0.5});
  EXPECT_NEAR(q[0], 0.04, 1e-12);     // 0.01 * 4 / 1
  EXPECT_NEAR(q[2], 0.0533333333, 1e-9);  // min(0.03 * 4/2, 0.04 * 4/3)
  EXPECT_NEAR(q[1], 0.0533333333, 1e-9);  // 0.04 * 4 / 3
  EXPECT_NEAR(q[3], 0.5, 1e-12);
  EXPECT_TRUE(benjamini_hochberg({}).empty());
}

TEST(Diff, EmptySetIsAClearError) { EXPECT_THROW(diff_sets({1}, 0, {1}, 2), Error); }

TEST(Report, FeaturesCsvFormat) {
  const auto rows = diff_sets({0, 3}, 4, {2, 1}, 4);
  std::vector<std::string> labels = {"plain", "has, comma"};
  const auto path = (std::filesystem::temp_directory_path() / "saediff_features.csv").string();
  write_features_csv(path, rows, labels);
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  EXPECT_EQ(buf.str(),
            "feature,label,freq_baseline,freq_candidate,diff,count_baseline,count_candidate,p_value,q_value\n"
            "0,plain,0.000000,0.500000,0.500000,0,2,0.428571,0.485714\n"
            "1,\"has, comma\",0.750000,0.250000,-0.500000,3,1,0.485714,0.485714\n");
}

}  // namespace
}  // namespace saediff
