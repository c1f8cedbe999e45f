// The report's pieces: token windows (UTF-8 boundaries, exact evidence before top-k), NPMI clusters,
// Markdown/HTML escaping, label files and the LLM answers' JSON.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "analysis/clusters.h"
#include "analysis/evidence.h"
#include "io/json_text.h"
#include "analysis/labels.h"
#include "analysis/report_doc.h"
#include "core/error.h"

namespace saediff {
namespace {

// One document "déjà vu" in 5 tokens: "d" + first byte of é | rest of é + "j" | "à" | " v" | "u".
EncodedSet one_document() {
  EncodedSet s;
  s.name = "a";
  s.doc_ids = {"p1"};
  s.n_pooled = {5};
  s.max.indptr = {0, 2};
  s.max.indices = {4, 9};
  s.max.values = {2.0f, 1.0f};
  s.texts.push_back("déjà vu");
  s.tokens.k = 1;
  s.tokens.indptr = {0, 5};
  s.tokens.id = {1, 2, 3, 4, 5};
  s.tokens.end = {2, 4, 6, 8, 9};
  s.tokens.topk_feature = {-1, 9, -1, 4, -1};
  s.tokens.topk_value = {0.0f, 1.0f, 0.0f, 2.0f, 0.0f};
  return s;
}

TEST(Evidence, WindowsEndOnCharacterBoundaries) {
  const EncodedSet s = one_document();
  const TokenWindow w = token_window(s, 0, 9, -1);
  ASSERT_TRUE(w.found);
  EXPECT_FALSE(w.exact);
  // Tokens 0 and 1 split "é": they form one span, marked with token 1's value.
  ASSERT_EQ(w.spans.size(), 4u);
  EXPECT_EQ(w.spans[0].text, "déj");
  EXPECT_EQ(w.spans[0].value, 1.0f);
  EXPECT_EQ(w.spans[1].text, "à");
  EXPECT_EQ(w.spans[2].text, " v");
  EXPECT_EQ(w.spans[2].value, 0.0f);
  std::string all;
  for (const TextSpan& span : w.spans) all += span.text;
  EXPECT_EQ(all, "déjà vu");
}

TEST(Evidence, ExactEvidenceWinsOverTopK) {
  EncodedSet s = one_document();
  s.evidence.row = {0};
  s.evidence.feature = {4};
  s.evidence.indptr = {0, 5};
  s.evidence.values = {0.0f, 0.0f, 0.7f, 0.0f, 3.5f};
  const TokenWindow w = token_window(s, 0, 4, 1);  // peak at token 4: window tokens 2..4
  EXPECT_TRUE(w.exact);
  EXPECT_EQ(w.peak, 3.5f);
  EXPECT_TRUE(w.cut_before);
  EXPECT_FALSE(w.cut_after);
  ASSERT_EQ(w.spans.size(), 3u);
  EXPECT_EQ(w.spans[0].text, "à");
  EXPECT_EQ(w.spans[0].value, 0.7f);
  EXPECT_EQ(w.spans[2].value, 3.5f);  // top-k said 2.0 at token 3 and nothing at token 4
  // A feature nowhere stored: unmarked window around the requested centre.
  const TokenWindow none = token_window(s, 0, 5, 0, 3);
  EXPECT_FALSE(none.found);
  ASSERT_EQ(none.spans.size(), 1u);
  EXPECT_EQ(none.spans[0].text, " v");
}

TEST(Evidence, TopAndInactiveDocuments) {
  EncodedSet s;
  s.doc_ids = {"a", "b", "c"};
  s.max.indptr = {0, 1, 1, 3};
  s.max.indices = {2, 2, 5};
  s.max.values = {0.5f, 0.9f, 1.0f};
  const auto top = top_documents(s, 2, 5);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].doc_id, "c");
  EXPECT_EQ(top[1].doc_id, "a");
  EXPECT_EQ(inactive_rows(s, 2), std::vector<size_t>{1});
  EXPECT_EQ(inactive_rows(s, 5), (std::vector<size_t>{0, 1}));
}

TEST(Clusters, NpmiValues) {
  EXPECT_DOUBLE_EQ(npmi(10, 10, 10, 100), 1.0);                  // always together
  EXPECT_NEAR(npmi(50, 20, 10, 100), 0.0, 1e-12);               // independent: p_ab = p_a p_b
  EXPECT_DOUBLE_EQ(npmi(10, 10, 0, 100), -1.0);                  // never together
  EXPECT_THROW(npmi(5, 5, 6, 10), Error);
}

TEST(Clusters, AverageLinkageGroupsCoOccurringFeatures) {
  // Features 7 and 8 share documents 0-9; 9 shares 20-29 with 10; 11 is spread out.
  std::vector<std::vector<int64_t>> docs(5);
  for (int64_t d = 0; d < 10; ++d) docs[0].push_back(d), docs[1].push_back(d);
  for (int64_t d = 20; d < 30; ++d) docs[2].push_back(d), docs[3].push_back(d);
  for (int64_t d = 0; d < 100; d += 10) docs[4].push_back(d);
  const auto clusters = cluster_features({7, 8, 9, 10, 11}, docs, 100, 0.3);
  ASSERT_EQ(clusters.size(), 2u);
  EXPECT_EQ(clusters[0].features, (std::vector<int32_t>{7, 8}));
  EXPECT_EQ(clusters[1].features, (std::vector<int32_t>{9, 10}));
  EXPECT_DOUBLE_EQ(clusters[0].mean_npmi, 1.0);
  // Two co-occurrences are below the default support of 3: no cluster.
  EXPECT_TRUE(cluster_features({1, 2}, {{0, 1}, {0, 1}}, 50, 0.3).empty());
}

// The reference: merge the pair of clusters with the highest average pairwise NPMI, recomputed from the pairs
// each time (O(m^3)), while it is >= min_npmi; first best pair on ties.
std::vector<std::vector<int32_t>> greedy_clusters(const std::vector<int32_t>& features,
                                                  const std::vector<std::vector<int64_t>>& docs, int64_t n, double min_npmi) {
  const size_t m = features.size();
  std::vector<std::vector<double>> sim(m, std::vector<double>(m, 0.0));
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < m; ++j) {
      std::vector<int64_t> both;
      std::set_intersection(docs[i].begin(), docs[i].end(), docs[j].begin(), docs[j].end(), std::back_inserter(both));
      const auto n_ab = static_cast<int64_t>(both.size());
      if (i != j) sim[i][j] = n_ab < 3 ? 0.0 : npmi(static_cast<int64_t>(docs[i].size()), static_cast<int64_t>(docs[j].size()), n_ab, n);
    }
  std::vector<std::vector<size_t>> cl;
  for (size_t i = 0; i < m; ++i) cl.push_back({i});
  while (cl.size() > 1) {
    double best = -2;
    size_t bi = 0, bj = 0;
    for (size_t i = 0; i < cl.size(); ++i)
      for (size_t j = i + 1; j < cl.size(); ++j) {
        double s = 0;
        for (size_t a : cl[i])
          for (size_t b : cl[j]) s += sim[a][b];
        s /= static_cast<double>(cl[i].size() * cl[j].size());
        if (s > best) best = s, bi = i, bj = j;
      }
    if (best < min_npmi) break;
    cl[bi].insert(cl[bi].end(), cl[bj].begin(), cl[bj].end());
    std::sort(cl[bi].begin(), cl[bi].end());
    cl.erase(cl.begin() + static_cast<std::ptrdiff_t>(bj));
  }
  std::vector<std::vector<int32_t>> out;
  for (const auto& c : cl) {
    if (c.size() < 2) continue;
    out.emplace_back();
    for (size_t i : c) out.back().push_back(features[i]);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return out;
}

// The nearest-neighbour chain gives the clusters of the greedy O(m^3) merge, on planted groups with noise.
TEST(Clusters, NearestNeighbourChainMatchesGreedyMerging) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t n = 80 + static_cast<int64_t>(rng() % 200);
    const size_t m = 10 + rng() % 70;
    const size_t n_group = 1 + rng() % 8;
    std::vector<std::vector<int64_t>> group_docs(n_group);
    for (auto& g : group_docs)
      for (int64_t d = 0; d < n; ++d)
        if (rng() % 6 == 0) g.push_back(d);
    std::vector<std::vector<int64_t>> docs(m);
    std::vector<int32_t> features(m);
    for (size_t i = 0; i < m; ++i) {
      features[i] = static_cast<int32_t>(1000 + 3 * i);
      const auto& g = group_docs[rng() % n_group];
      const int keep = 50 + static_cast<int>(rng() % 50);  // percent of the group's documents
      for (int64_t d = 0; d < n; ++d) {
        const bool in_group = std::binary_search(g.begin(), g.end(), d);
        if ((in_group && static_cast<int>(rng() % 100) < keep) || rng() % 40 == 0) docs[i].push_back(d);
      }
    }
    const double t = 0.05 * static_cast<double>(rng() % 10);
    const auto got = cluster_features(features, docs, n, t);
    const auto want = greedy_clusters(features, docs, n, t);
    ASSERT_EQ(got.size(), want.size()) << "trial " << trial;
    for (size_t c = 0; c < got.size(); ++c) EXPECT_EQ(got[c].features, want[c]) << "trial " << trial << " cluster " << c;
  }
}

TEST(ReportDoc, EscapesMarkdownAndHtml) {
  ReportDoc doc;
  doc.paragraph("**bold** and `code` and " + md_escape("a|b <script>*x*</script> [l](u)"));
  doc.table({"h"}, {{md_escape("x|y")}}, "l");
  const std::string md = doc.markdown(), html = doc.html("t<itle>");
  EXPECT_NE(md.find("a\\|b \\<script\\>\\*x\\*\\</script\\> \\[l\\](u)"), std::string::npos) << md;
  EXPECT_NE(md.find("| x\\|y |"), std::string::npos);
  EXPECT_NE(html.find("<strong>bold</strong> and <code>code</code> and a|b &lt;script&gt;*x*&lt;/script&gt; [l](u)"),
            std::string::npos) << html;
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("<title>t&lt;itle&gt;</title>"), std::string::npos);
}

TEST(ReportDoc, ExcerptMarksActiveSpans) {
  TokenWindow w;
  w.spans = {{"plain ", 0.0f}, {"hot", 2.5f}, {" <end>", 0.0f}};
  w.cut_after = true;
  ReportDoc doc;
  doc.excerpt("doc 1", w, 2.5f);
  EXPECT_NE(doc.markdown().find("> plain ⟦hot|2.50⟧ \\<end\\> …"), std::string::npos) << doc.markdown();
  EXPECT_NE(doc.html("t").find("title=\"2.50\">hot</mark> &lt;end&gt; …"), std::string::npos);
}

TEST(Labels, JsonCsvAndErrors) {
  const auto dir = std::filesystem::temp_directory_path() / "saediff_labels_test";
  std::filesystem::create_directories(dir);
  const auto write = [&](const char* name, const std::string& text) {
    std::ofstream((dir / name).string()) << text;
    return (dir / name).string();
  };
  FeatureLabels l = load_feature_labels(write("l.json", R"({"0": "zero", "3": "three, with comma", "4": null})"), 5);
  EXPECT_EQ(l.labels, (std::vector<std::string>{"zero", "", "", "three, with comma", ""}));
  EXPECT_EQ(l.n_labelled, 2);
  l = load_feature_labels(write("l.csv", "feature,label\n3,\"three, with comma\"\n"), 5);
  EXPECT_EQ(l.labels[3], "three, with comma");
  EXPECT_THROW(load_feature_labels(write("big.json", R"({"5": "x"})"), 5), Error);
  EXPECT_THROW(load_feature_labels(write("bad.json", R"({"a": "x"})"), 5), Error);
  EXPECT_THROW(load_feature_labels(write("empty.json", "{}"), 5), Error);
  EXPECT_THROW(load_feature_labels((dir / "absent.json").string(), 5), Error);
  const FeatureLabels none = load_feature_labels("", 5);
  EXPECT_TRUE(none.source.empty());
  EXPECT_FALSE(none.missing_reason.empty());
}

TEST(Labeling, ExtractsJsonFromChattyAnswers) {
  EXPECT_EQ(extract_json_object("Sure!\n```json\n{\"label\": \"x\"}\n```\nbye")["label"], "x");
  EXPECT_EQ(extract_json_object("The answer is {\"label\": \"a {b}\"} as asked.")["label"], "a {b}");
  EXPECT_EQ(extract_json_object("{\"active\": [1, 3]} (based on ...)")["active"].size(), 2u);
  EXPECT_TRUE(extract_json_object("no json here").is_discarded());
  // A fenced object whose strings hold ``` themselves (a hypothesis about code fences): the outermost {...}.
  EXPECT_EQ(extract_json_object("Here:\n```json\n{\"text\": \"uses \\\"```\\\" more\"}\n```\nok")["text"], "uses \"```\" more");
  EXPECT_TRUE(extract_json_object("{\"label\": ").is_discarded());
  EXPECT_TRUE(extract_json_object("[1, 2]").is_discarded());
}

}  // namespace
}  // namespace saediff
