// Frequency diff: ranking by |diff| with exact ties, thresholds, and CSV formatting.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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
  FeatureAnnotations notes;
  notes.labels = {"plain", "has, comma"};
  notes.llm_labels = {"", "llm \"quoted\""};
  notes.cluster[1] = 2;
  const auto path = (std::filesystem::temp_directory_path() / "saediff_features.csv").string();
  write_features_csv(path, rows, notes);
  std::ifstream in(path);
  std::string header, row0, row1, end;
  std::getline(in, header);
  std::getline(in, row0);
  std::getline(in, row1);
  EXPECT_FALSE(std::getline(in, end));
  EXPECT_EQ(header,
            "feature,label,freq_baseline,freq_candidate,diff,count_baseline,count_candidate,p_value,q_value,"
            "ci_low_baseline,ci_high_baseline,ci_low_candidate,ci_high_candidate,diff_ci_low,diff_ci_high,log2_ratio,"
            "cohens_h,log_odds_ratio,log_odds_ratio_ci_low,log_odds_ratio_ci_high,diff_length_adjusted,p_cmh,q_cmh,"
            "length_confounded,rank_abs,rank_rel,rank_sig,cluster,llm_label,n_pairs,only_baseline,only_candidate,"
            "p_paired,q_paired,q_cmh_significant");
  // The contract's first columns keep their format.
  EXPECT_EQ(row0.substr(0, 56), "0,plain,0.000000,0.500000,0.500000,0,2,0.428571,0.485714");
  EXPECT_EQ(row1.substr(0, 64), "1,\"has, comma\",0.750000,0.250000,-0.500000,3,1,0.485714,0.485714");
  EXPECT_NE(row1.find(",2,\"llm \"\"quoted\"\"\""), std::string::npos) << row1;  // cluster 2, CSV-quoted llm label
  EXPECT_EQ(std::count(row0.begin(), row0.end(), ','), 34);
}

TEST(Stats, WilsonInterval) {
  // Hand values (Wilson 1927): 0/10 -> [0, 0.2775]; 5/10 -> [0.2366, 0.7634]; 10/10 -> [0.7225, 1].
  auto [lo, hi] = wilson_interval(0, 10);
  EXPECT_EQ(lo, 0.0);
  EXPECT_NEAR(hi, 0.277532, 1e-6);
  std::tie(lo, hi) = wilson_interval(5, 10);
  EXPECT_NEAR(lo, 0.236593, 1e-6);
  EXPECT_NEAR(hi, 0.763407, 1e-6);
  std::tie(lo, hi) = wilson_interval(10, 10);
  EXPECT_NEAR(lo, 0.722468, 1e-6);
  EXPECT_EQ(hi, 1.0);
  std::tie(lo, hi) = wilson_interval(0, 0);
  EXPECT_EQ(lo, 0.0);
  EXPECT_EQ(hi, 1.0);
}

TEST(Stats, NewcombeIntervalContainsTheDiff) {
  // Newcombe (1998) table II example (a): 56/70 vs 48/80 -> [0.0524, 0.3339].
  const auto [lo, hi] = newcombe_interval(56, 70, 48, 80);
  EXPECT_NEAR(lo, 0.0524, 5e-5);
  EXPECT_NEAR(hi, 0.3339, 5e-5);
}

TEST(Stats, CmhAndStandardisedDiff) {
  // One stratum: CMH equals the continuity-corrected Mantel-Haenszel chi-square of the 2x2 table.
  const std::vector<Stratum> one = {{30, 50, 10, 50}};
  // E[a] = 50 * 40 / 100 = 20, Var = 50*50*40*60 / (100^2 * 99) = 6.0606; (|30-20| - 0.5)^2 / Var = 14.8913
  EXPECT_NEAR(cmh_p_value(one), std::erfc(std::sqrt(14.89125 / 2)), 1e-6);
  // Within-stratum rates equal, sizes unbalanced: no effect after stratification.
  const std::vector<Stratum> confounded = {{2, 20, 8, 80}, {40, 80, 10, 20}};
  EXPECT_NEAR(standardized_diff(confounded), 0.0, 1e-12);
  EXPECT_GT(cmh_p_value(confounded), 0.5);
  EXPECT_TRUE(std::isnan(standardized_diff({{1, 2, 0, 0}})));
  EXPECT_EQ(cmh_p_value({}), 1.0);
}

TEST(Diff, RanksAndEffectSizes) {
  const auto rows = diff_sets({10, 0, 50}, 100, {20, 3, 55}, 100);
  ASSERT_EQ(rows.size(), 3u);
  for (const FeatureDiff& d : rows) {
    EXPECT_LE(d.diff_ci_low, d.diff);
    EXPECT_GE(d.diff_ci_high, d.diff);
    EXPECT_LE(d.lor_ci_low, d.log_odds_ratio);
    EXPECT_NEAR(d.cohens_h, 2 * std::asin(std::sqrt(d.freq_candidate)) - 2 * std::asin(std::sqrt(d.freq_baseline)), 1e-12);
  }
  // By |diff|: feature 0 (+0.10), then 2 (+0.05), then 1 (+0.03).
  EXPECT_EQ(rows[0].feature, 0);
  EXPECT_EQ(rows[0].rank_abs, 1);
  // By |log2 ratio|: 0 -> 3 of 100 is the largest relative change.
  const auto f1 = std::find_if(rows.begin(), rows.end(), [](const FeatureDiff& d) { return d.feature == 1; });
  EXPECT_EQ(f1->rank_rel, 1);
  EXPECT_EQ(rows[0].rank_sig, 1);
}

TEST(Stats, McNemarExact) {
  // 2 P(X <= 1), X ~ Bin(10, 1/2) = 2 * 11 / 1024.
  EXPECT_NEAR(mcnemar_exact(1, 9), 22.0 / 1024.0, 1e-15);
  EXPECT_NEAR(mcnemar_exact(9, 1), 22.0 / 1024.0, 1e-15);
  EXPECT_EQ(mcnemar_exact(5, 5), 1.0);
  EXPECT_EQ(mcnemar_exact(0, 0), 1.0);
  EXPECT_NEAR(mcnemar_exact(0, 6), 2.0 / 64.0, 1e-15);
}

TEST(Diff, PairsByDocumentId) {
  EncodedSet b, c;
  b.doc_ids = {"p1", "p2", "p3"};
  b.max.indptr = {0, 1, 2, 2};
  b.max.indices = {0, 0};
  b.max.values = {1.0f, 1.0f};
  c.doc_ids = {"p3", "p2", "p9"};  // p1 unanswered, p9 unpaired
  c.max.indptr = {0, 2, 2, 3};
  c.max.indices = {0, 1, 1};
  c.max.values = {1.0f, 1.0f, 1.0f};
  auto rows = diff_sets({2, 0}, 3, {1, 2}, 3);
  apply_pairing(rows, b, c, 0.5);
  for (const FeatureDiff& d : rows) {
    EXPECT_EQ(d.n_pairs, 2);
    if (d.feature == 0) {  // p2: baseline only; p3: candidate only
      EXPECT_EQ(d.only_baseline, 1);
      EXPECT_EQ(d.only_candidate, 1);
    } else {  // p3: candidate only (p9 has no pair)
      EXPECT_EQ(d.only_baseline, 0);
      EXPECT_EQ(d.only_candidate, 1);
    }
  }
}

TEST(Diff, LengthStrataKeepTiesTogether) {
  const LengthStrata s = length_strata({1, 1, 1, 1}, {1, 5, 9, 9}, 4);
  EXPECT_EQ(s.edges, (std::vector<int64_t>{1, 5, 9}));  // quantile edges 1, 1, 5, 9 -> 1, 5, 9
  EXPECT_EQ(s.baseline, (std::vector<int32_t>{0, 0, 0, 0}));
  EXPECT_EQ(s.candidate, (std::vector<int32_t>{0, 1, 2, 2}));
  EXPECT_THROW(length_strata({1}, {1}, 0), Error);
}

}  // namespace
}  // namespace saediff
