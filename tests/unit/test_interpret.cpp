// Verified findings: the prompt split, the judge's two orders, the statistics (references from statsmodels and
// SciPy, stated beside each value), a coin-flip judge's false verification rate, findings.json, select_rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <cstdio>
#include <random>
#include <tuple>
#include <set>

#include "analysis/findings.h"
#include "core/error.h"
#include "io/encoded_h5.h"

namespace saediff {
namespace {

std::vector<PairOutcome> outcomes(int cand, int base, int ties) {
  std::vector<PairOutcome> o;
  o.insert(o.end(), static_cast<size_t>(cand), PairOutcome::candidate);
  o.insert(o.end(), static_cast<size_t>(base), PairOutcome::baseline);
  o.insert(o.end(), static_cast<size_t>(ties), PairOutcome::tie);
  return o;
}

TEST(Findings, SplitIsStratifiedDisjointCompleteAndSeeded) {
  std::vector<std::string> ids, cats;
  const std::vector<std::pair<std::string, int>> sizes = {{"a", 10}, {"b", 7}, {"c", 2}, {"d", 1}, {"e", 3}};
  for (const auto& [c, n] : sizes) {
    for (int i = 0; i < n; ++i) {
      ids.push_back(c + std::to_string(i));
      cats.push_back(c);
    }
  }
  const PromptSplit s = split_prompts(ids, cats, 0.3, 7);
  std::set<std::string> d(s.discovery.begin(), s.discovery.end()), h(s.held_out.begin(), s.held_out.end());
  EXPECT_EQ(d.size() + h.size(), ids.size());
  for (const std::string& id : ids) EXPECT_NE(d.count(id), h.count(id)) << id;
  // round(0.3 n), at least one each way: 10 -> 3, 7 -> 2, 2 -> 1, 3 -> 1; a lone prompt goes one way.
  const std::map<std::string, int64_t> want = {{"a", 3}, {"b", 2}, {"c", 1}, {"e", 1}};
  for (const auto& [c, n] : s.by_category) {
    if (c == "d") {
      EXPECT_EQ(n.first + n.second, 1);
    } else {
      EXPECT_EQ(n.second, want.at(c)) << c;
    }
  }
  // The same seed gives the same split; input order does not matter; another seed moves some prompts.
  std::vector<std::string> rids(ids.rbegin(), ids.rend()), rcats(cats.rbegin(), cats.rend());
  EXPECT_EQ(split_prompts(rids, rcats, 0.3, 7).held_out, s.held_out);
  bool moved = false;
  for (uint64_t seed = 8; seed < 12; ++seed) moved = moved || split_prompts(ids, cats, 0.3, seed).held_out != s.held_out;
  EXPECT_TRUE(moved);
  EXPECT_THROW(split_prompts({"x", "x"}, {"a", "a"}, 0.5, 1), Error);
  EXPECT_THROW(split_prompts({"x"}, {"a"}, 1.0, 1), Error);
}

TEST(Findings, BothOrdersMustAgree) {
  EXPECT_EQ(combine_orders(Pick::candidate, Pick::candidate), PairOutcome::candidate);
  EXPECT_EQ(combine_orders(Pick::baseline, Pick::baseline), PairOutcome::baseline);
  // A judge that always says "A" picks the candidate in one order and the baseline in the other: a tie.
  EXPECT_EQ(combine_orders(Pick::candidate, Pick::baseline), PairOutcome::tie);
  EXPECT_EQ(combine_orders(Pick::candidate, Pick::neither), PairOutcome::tie);
  EXPECT_EQ(combine_orders(Pick::unparsed, Pick::candidate), PairOutcome::tie);
}

TEST(Findings, StatisticsMatchStatsmodelsAndScipy) {
  // statsmodels proportion_confint(9, 10, method="wilson") = (0.5958499732047614, 0.982123786904927);
  // scipy binomtest(9, 10).pvalue = 0.021484375.
  HypothesisStats s = hypothesis_stats(outcomes(9, 1, 5));
  EXPECT_EQ(s.n_pairs, 15);
  EXPECT_EQ(s.ties, 5);
  EXPECT_DOUBLE_EQ(s.share, 0.9);
  EXPECT_NEAR(s.ci_low, 0.5958499732047614, 1e-12);
  EXPECT_NEAR(s.ci_high, 0.982123786904927, 1e-12);
  EXPECT_NEAR(s.p, 0.021484375, 1e-15);
  // (14, 6): (0.48102718164647645, 0.8545227551323957), p = 0.11531829833984375.
  s = hypothesis_stats(outcomes(14, 6, 0));
  EXPECT_NEAR(s.ci_low, 0.48102718164647645, 1e-12);
  EXPECT_NEAR(s.ci_high, 0.8545227551323957, 1e-12);
  EXPECT_NEAR(s.p, 0.11531829833984375, 1e-15);
  s = hypothesis_stats(outcomes(0, 0, 12));  // nothing decided
  EXPECT_TRUE(std::isnan(s.share));
  EXPECT_EQ(s.p, 1.0);
  EXPECT_EQ(s.ci_low, 0.0);
  EXPECT_EQ(s.ci_high, 1.0);
}

TEST(Findings, VerifiedNeedsQBelowAlphaInTheStatedDirection) {
  std::vector<Finding> h(4);
  const std::vector<std::vector<PairOutcome>> o = {outcomes(18, 1, 3), outcomes(1, 18, 3), outcomes(5, 4, 13), outcomes(0, 0, 22)};
  const std::vector<std::string> sources = {"sae", "sae", "sae", "baseline"};
  for (size_t i = 0; i < h.size(); ++i) {
    h[i].id = sources[i] + std::to_string(i);
    h[i].source = sources[i];
    h[i].stats = hypothesis_stats(o[i]);
  }
  apply_verification(h, 0.05);
  EXPECT_TRUE(h[0].verified);
  EXPECT_LT(h[1].q, 0.05);
  EXPECT_FALSE(h[1].verified);  // significant, but the baseline fits the hypothesis better
  EXPECT_FALSE(h[2].verified);
  EXPECT_FALSE(h[3].verified);
  EXPECT_EQ(h[3].q, 1.0);  // its own family of one
  // BH within the SAE source: q_i = min over j >= rank of p_j * m / j (statsmodels multipletests fdr_bh).
  const double p0 = h[0].stats.p, p1 = h[1].stats.p, p2 = h[2].stats.p;
  ASSERT_EQ(p0, p1);  // 18 to 1 either way: both get 3 p / 2
  EXPECT_NEAR(h[0].q, p0 * 3 / 2, 1e-15);
  EXPECT_NEAR(h[1].q, p1 * 3 / 2, 1e-15);
  EXPECT_NEAR(h[2].q, std::min(1.0, p2), 1e-15);
}

// A judge that flips a coin for each order (A, B, or sometimes "neither") knows nothing: over many simulated
// runs, the share of runs that verify anything (BH controls it at alpha under the global null) and the share of
// hypotheses verified must stay at or below alpha, within three standard errors.
TEST(Findings, CoinFlipJudgeVerifiesAtMostAlpha) {
  const double alpha = 0.05;
  const int runs = 2000, n_hyp = 10, n_pairs = 24;
  std::mt19937_64 rng(20261207);
  int64_t runs_with_any = 0, verified = 0;
  for (int r = 0; r < runs; ++r) {
    std::vector<Finding> h(static_cast<size_t>(n_hyp));
    for (Finding& f : h) {
      f.source = "sae";
      std::vector<PairOutcome> o;
      for (int k = 0; k < n_pairs; ++k) {
        const auto pick = [&] {
          const uint64_t x = rng() % 5;
          return x < 2 ? Pick::candidate : x < 4 ? Pick::baseline : Pick::neither;
        };
        const Pick first = pick();
        o.push_back(combine_orders(first, pick()));
      }
      f.stats = hypothesis_stats(o);
    }
    apply_verification(h, alpha);
    int64_t v = 0;
    for (const Finding& f : h) v += f.verified ? 1 : 0;
    verified += v;
    runs_with_any += v > 0 ? 1 : 0;
  }
  const double se_runs = std::sqrt(alpha * (1 - alpha) / runs);
  EXPECT_LE(static_cast<double>(runs_with_any) / runs, alpha + 3 * se_runs) << runs_with_any << " of " << runs;
  EXPECT_LE(static_cast<double>(verified) / (runs * n_hyp), alpha) << verified;
  std::printf("coin-flip judge: %lld of %d runs verified something, %lld of %d hypotheses verified\n",
              static_cast<long long>(runs_with_any), runs, static_cast<long long>(verified), runs * n_hyp);
}

TEST(Findings, OverlapsFollowTheVerdicts) {
  std::vector<Finding> h(3);
  const std::vector<std::pair<std::string, std::string>> names = {{"sae-1", "sae"}, {"baseline-1", "baseline"}, {"baseline-2", "baseline"}};
  for (size_t i = 0; i < h.size(); ++i) std::tie(h[i].id, h[i].source) = names[i];
  h[0].outcomes = outcomes(8, 2, 2);
  h[1].outcomes = outcomes(8, 2, 2);  // the same verdicts
  h[2].outcomes = outcomes(2, 8, 2);  // mostly the opposite
  const auto o = find_overlaps(h);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].baseline, "baseline-1");
  EXPECT_EQ(o[0].n_both, 10);
  EXPECT_DOUBLE_EQ(o[0].agreement, 1.0);
}

TEST(Findings, JsonRoundTripAndRefusals) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "saediff_test_findings";
  std::filesystem::create_directories(dir);
  Findings f;
  f.baseline = "old";
  f.candidate = "new";
  f.proposer = "p/model";
  f.judge = "j/model";
  f.discovery = {"a", "b"};
  f.held_out = {"c"};
  f.held_out_pairs = {"c"};
  f.by_category = {{"x", {2, 1}}};
  Finding h;
  h.id = "sae-1";
  h.text = "Uses \"quotes\" and ünïcode";
  h.source = "sae";
  h.features = {3, 7};
  h.outcomes = outcomes(1, 0, 0);
  h.stats = hypothesis_stats(h.outcomes);
  h.examples = {{"c", "prompt", "cand", "base", "candidate"}};
  f.hypotheses = {h, h};
  f.hypotheses[1].id = "baseline-1";
  f.hypotheses[1].source = "baseline";
  f.hypotheses[1].outcomes = outcomes(0, 0, 1);
  f.hypotheses[1].stats = hypothesis_stats(f.hypotheses[1].outcomes);  // share NaN -> null
  apply_verification(f.hypotheses, 0.05);
  const std::string path = (dir / "findings.json").string();
  write_findings(path, f);
  const Findings g = read_findings(path);
  ASSERT_EQ(g.hypotheses.size(), 2u);
  EXPECT_EQ(g.hypotheses[0].text, h.text);
  EXPECT_EQ(g.hypotheses[0].features, h.features);
  EXPECT_EQ(g.hypotheses[0].outcomes, h.outcomes);
  EXPECT_EQ(g.hypotheses[0].examples[0].winner, "candidate");
  EXPECT_TRUE(std::isnan(g.hypotheses[1].stats.share));
  EXPECT_EQ(g.by_category, f.by_category);
  EXPECT_EQ(g.held_out_pairs, f.held_out_pairs);
  // Malformed files are refused, naming the file.
  for (const std::string bad : {"{}", "[1]", "not json",
                                R"({"baseline": {"set": "a"}, "candidate": {"set": "b"}, "models": {"proposer": "p", "judge": "j"},
                                    "alpha": 0.05, "split": {"seed": 1, "held_out_fraction": 0.5, "discovery": [], "held_out": [],
                                    "held_out_pairs": [], "by_category": {}}, "hypotheses": [{"id": "x", "text": "t",
                                    "source": "oracle", "features": []}], "comparison": {"overlaps": []}})"}) {
    std::ofstream(path, std::ios::trunc) << bad;
    try {
      read_findings(path);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(Findings, SelectRowsKeepsEveryFieldOfTheChosenDocuments) {
  EncodedSet s;
  s.name = "x";
  s.doc_ids = {"d0", "d1", "d2"};
  s.n_tokens = {5, 6, 7};
  s.n_pooled = {1, 2, 3};
  s.max = {{0, 1, 3, 4}, {4, 1, 9, 2}, {0.5f, 1.5f, 2.5f, 3.5f}};
  s.sum = s.max;
  s.count = s.max;
  s.categories = {"a", "b", "c"};
  s.prompts.push_back("p0");
  s.prompts.push_back("p1");
  s.prompts.push_back("p2");
  s.texts.push_back("t0");
  s.texts.push_back("t1t1");
  s.texts.push_back("t2t2t2");
  s.tokens.k = 1;
  s.tokens.indptr = {0, 1, 3, 6};
  s.tokens.id = {10, 11, 12, 13, 14, 15};
  s.tokens.end = {2, 2, 4, 2, 4, 6};
  s.tokens.topk_feature = {4, 1, 9, 2, 2, 2};
  s.tokens.topk_value = {0.5f, 1.5f, 2.5f, 3.5f, 3.0f, 1.0f};
  s.evidence.row = {0, 2};
  s.evidence.feature = {4, 2};
  s.evidence.indptr = {0, 1, 4};
  s.evidence.values = {0.5f, 3.5f, 3.0f, 1.0f};
  const EncodedSet t = select_rows(s, {0, 2});
  EXPECT_EQ(t.doc_ids, (std::vector<std::string>{"d0", "d2"}));
  EXPECT_EQ(t.n_pooled, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(t.max.indptr, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(t.max.indices, (std::vector<int32_t>{4, 2}));
  EXPECT_EQ(t.max.values, (std::vector<float>{0.5f, 3.5f}));
  EXPECT_EQ(t.categories, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(t.texts.row(1), "t2t2t2");
  EXPECT_EQ(t.prompts.row(0), "p0");
  EXPECT_EQ(t.tokens.indptr, (std::vector<int64_t>{0, 1, 4}));
  EXPECT_EQ(t.tokens.id, (std::vector<int32_t>{10, 13, 14, 15}));
  EXPECT_EQ(t.tokens.topk_value, (std::vector<float>{0.5f, 3.5f, 3.0f, 1.0f}));
  EXPECT_EQ(t.evidence.row, (std::vector<int64_t>{0, 1}));
  int64_t n = 0;
  const float* v = t.evidence.find(1, 2, n);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(n, 3);
  EXPECT_EQ(v[2], 1.0f);
  EXPECT_THROW(select_rows(s, {2, 0}), Error);
  EXPECT_THROW(select_rows(s, {3}), Error);
}

}  // namespace
}  // namespace saediff
