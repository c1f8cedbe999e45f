// SVG figures: well-formed, escaped, complete, bounded in size at 65,536 features, and locale-free.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <clocale>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/diff.h"
#include "analysis/figures.h"
#include "analysis/svg.h"

namespace saediff {
namespace {

size_t count_of(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

// Structure without an XML parser: one root, properly nested tags, only known entities, no script, no URL
// but the SVG namespace, and no non-finite number in an attribute.
void expect_well_formed(const std::string& svg) {
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_TRUE(svg.ends_with("</svg>\n"));
  EXPECT_EQ(count_of(svg, "<svg"), 1u);
  EXPECT_EQ(count_of(svg, "http"), 1u);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  for (const char* bad : {"=\"nan", "=\"-nan", "=\"inf", "=\"-inf", "\"?\""}) {
    EXPECT_EQ(svg.find(bad), std::string::npos) << bad;
  }
  std::vector<std::string> open;
  for (size_t lt = svg.find('<'); lt != std::string::npos; lt = svg.find('<', lt + 1)) {
    const size_t gt = svg.find('>', lt);
    ASSERT_NE(gt, std::string::npos) << "unclosed tag at " << lt;
    const std::string tag = svg.substr(lt + 1, gt - lt - 1);
    ASSERT_EQ(tag.find('<'), std::string::npos) << "'<' inside tag at " << lt;
    if (tag.starts_with('/')) {
      ASSERT_FALSE(open.empty()) << "stray </" << tag;
      EXPECT_EQ(open.back(), tag.substr(1)) << "at " << lt;
      open.pop_back();
    } else if (!tag.ends_with('/')) {
      open.push_back(tag.substr(0, tag.find_first_of(" \n")));
    }
  }
  EXPECT_TRUE(open.empty()) << open.size() << " unclosed, first <" << (open.empty() ? "" : open[0]) << ">";
  for (size_t amp = svg.find('&'); amp != std::string::npos; amp = svg.find('&', amp + 1)) {
    const std::string_view rest = std::string_view(svg).substr(amp);
    EXPECT_TRUE(rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;") ||
                rest.starts_with("&quot;") || rest.starts_with("&#39;"))
        << "bare & at " << amp;
  }
}

// Sum of N over the grey marks' "<title>N feature(s) at ..." or "...: ..." tooltips.
int64_t merged_count(const std::string& svg) {
  int64_t n = 0;
  for (size_t at = svg.find("<title>"); at != std::string::npos; at = svg.find("<title>", at + 1)) {
    size_t end = at + 7;
    while (end < svg.size() && std::isdigit(static_cast<unsigned char>(svg[end]))) ++end;
    const std::string_view rest = std::string_view(svg).substr(end);
    if (end > at + 7 && (rest.starts_with(" feature ") || rest.starts_with(" feature:") ||
                         rest.starts_with(" features ") || rest.starts_with(" features:"))) {
      n += std::stoll(svg.substr(at + 7, end - at - 7));
    }
  }
  return n;
}

// Documents per set over the histogram bars' "<title>SET: N of ..." tooltips.
int64_t binned_docs(const std::string& svg, const std::string& set) {
  int64_t n = 0;
  const std::string key = "<title>" + set + ": ";
  for (size_t at = svg.find(key); at != std::string::npos; at = svg.find(key, at + 1)) {
    const size_t digits = at + key.size(), of = svg.find(" of ", digits);
    if (of != std::string::npos && of > digits &&
        svg.find_first_not_of("0123456789", digits) == of) {
      n += std::stoll(svg.substr(digits, of - digits));
    }
  }
  return n;
}

struct Top {
  std::vector<const FeatureDiff*> up, down;
};
Top top_k(const std::vector<FeatureDiff>& rows, size_t k) {
  Top t;
  for (const FeatureDiff& d : rows) {
    if (d.diff > 0 && t.up.size() < k) t.up.push_back(&d);
    if (d.diff < 0 && t.down.size() < k) t.down.push_back(&d);
  }
  return t;
}

// Deterministic pseudo-random numbers in [0, 1).
struct Lcg {
  uint64_t state;
  double next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  }
};

const FigureNames kNames{"base", "cand"};

TEST(Figures, WellFormedOnTypicalAndEdgeInputs) {
  const std::vector<FeatureDiff> rows = diff_sets({0, 5, 12, 3, 3, 0, 20}, 40, {9, 0, 12, 4, 3, 1, 2}, 30);
  const std::vector<std::string> labels = {"zero", "", "two"};  // shorter than the feature ids
  const std::vector<FeatureDiff> one = diff_sets({1, 0}, 1, {0, 1}, 1);  // one document per set
  const std::vector<FeatureDiff> none;
  for (const auto* r : {&rows, &one, &none}) {
    const Top t = top_k(*r, 25);
    SCOPED_TRACE(r->size());
    expect_well_formed(scatter_svg(*r, t.up, t.down, kNames, labels));
    expect_well_formed(volcano_svg(*r, t.up, t.down, 0.05, kNames, labels));
    expect_well_formed(top_diff_bars_svg(t.up, t.down, labels, kNames));
    EXPECT_EQ(merged_count(scatter_svg(*r, t.up, t.down, kNames)), static_cast<int64_t>(r->size()));
  }
  expect_well_formed(length_hist_svg({12, 40, 33, 200}, {500, 20}, kNames));
}

TEST(Figures, EscapesTextAndReplacesInvalidUtf8) {
  EXPECT_EQ(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(xml_escape("\xff ok \xc3\xa9 \xe6\x95\xb0 \xf0\x9f\x99\x82"),  // 1- to 4-byte characters kept
            "\xef\xbf\xbd ok \xc3\xa9 \xe6\x95\xb0 \xf0\x9f\x99\x82");
  EXPECT_EQ(xml_escape("\xc0\xaf|\xed\xa0\x80|\x01|\xef\xbf\xbe"),  // overlong '/', surrogate, control, U+FFFE
            "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd");
  EXPECT_EQ(xml_escape("cut \xe6\x95"), "cut \xef\xbf\xbd");  // one maximal ill-formed subpart, as Python decodes it

  const std::vector<FeatureDiff> rows = diff_sets({0, 4}, 10, {5, 0}, 10);
  const Top t = top_k(rows, 25);
  const std::vector<std::string> labels = {"<script>alert(1)</script> & \"q\" 'x' \xff", "tab\there\nnewline"};
  const FigureNames names{"<base & \"co\">", "cand 'x'"};
  for (const std::string& svg :
       {scatter_svg(rows, t.up, t.down, names, labels), volcano_svg(rows, t.up, t.down, 0.05, names, labels),
        top_diff_bars_svg(t.up, t.down, labels, names), length_hist_svg({1, 2}, {3}, names)}) {
    expect_well_formed(svg);
    EXPECT_EQ(svg.find("<script"), std::string::npos);
    EXPECT_EQ(svg.find("<base"), std::string::npos);
    EXPECT_NE(svg.find("&lt;base &amp; &quot;co&quot;&gt;"), std::string::npos);
    EXPECT_NE(svg.find("cand &#39;x&#39;"), std::string::npos);
  }
  const std::string bars = top_diff_bars_svg(t.up, t.down, labels, names);
  EXPECT_NE(bars.find("#0 &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot; &#39;x&#39; \xef\xbf\xbd</text>"),
            std::string::npos);
  EXPECT_NE(bars.find("#1 tab here newline</text>"), std::string::npos);  // one line
}

TEST(Figures, BarsNameEveryTopFeatureAndCutLongLabels) {
  Lcg rng{11};
  std::vector<int64_t> cb(500), cc(500);
  for (size_t i = 0; i < cb.size(); ++i) {
    cb[i] = static_cast<int64_t>(rng.next() * 60);
    cc[i] = static_cast<int64_t>(rng.next() * 50);
  }
  const std::vector<FeatureDiff> rows = diff_sets(cb, 60, cc, 50);
  const Top t = top_k(rows, 25);
  ASSERT_EQ(t.up.size(), 25u);
  ASSERT_EQ(t.down.size(), 25u);
  std::string e60;
  for (int i = 0; i < 60; ++i) e60 += "\xc3\xa9";  // 60 x U+00E9, 120 bytes
  std::vector<std::string> labels(500);
  labels[static_cast<size_t>(t.up[0]->feature)] = e60;
  const std::string svg = top_diff_bars_svg(t.up, t.down, labels, kNames);
  expect_well_formed(svg);
  for (const auto* list : {&t.up, &t.down}) {
    for (const FeatureDiff* d : *list) {
      EXPECT_NE(svg.find("font-size=\"11\">#" + std::to_string(d->feature) +
                         (labels[static_cast<size_t>(d->feature)].empty() ? "<" : " ")),
                std::string::npos) << d->feature;
    }
  }
  // 39 characters and an ellipsis in the row label; the tooltip keeps more.
  EXPECT_NE(svg.find(">#" + std::to_string(t.up[0]->feature) + " " + e60.substr(0, 78) + "\xe2\x80\xa6</text>"),
            std::string::npos);
  EXPECT_EQ(count_of(svg, "fill=\"" + std::string(kColourCandidate) + "\" fill-opacity"), 25u);
  EXPECT_EQ(count_of(svg, "fill=\"" + std::string(kColourBaseline) + "\" fill-opacity"), 25u);
  // Empty lists still give a figure.
  const std::string empty = top_diff_bars_svg({}, {}, {}, kNames);
  expect_well_formed(empty);
  EXPECT_EQ(count_of(empty, ">none<"), 2u);
}

TEST(Figures, SizeStaysBoundedAt65536Features) {
  constexpr size_t kMaxBytes = 300 * 1000;
  // Counts from 1,000 documents per set: many distinct (count, count) pairs.
  Lcg rng{42};
  const int64_t n = 1000;
  std::vector<int64_t> cb(65536), cc(65536);
  for (size_t i = 0; i < cb.size(); ++i) {
    const double f = std::pow(rng.next(), 2);
    cb[i] = static_cast<int64_t>(f * n);
    cc[i] = std::clamp<int64_t>(static_cast<int64_t>((f + 0.2 * (rng.next() - 0.5)) * n), 0, n);
  }
  const std::vector<FeatureDiff> counted = diff_sets(cb, n, cc, n);
  // Adversarial: every feature at its own spot, q spread over 320 decades (past the cap).
  std::vector<FeatureDiff> spread(65536);
  for (size_t i = 0; i < spread.size(); ++i) {
    FeatureDiff& d = spread[i];
    d.feature = static_cast<int32_t>(i);
    d.freq_baseline = rng.next();
    d.freq_candidate = rng.next();
    d.diff = d.freq_candidate - d.freq_baseline;
    d.q_value = std::pow(10.0, -320 * rng.next());
  }
  const std::vector<std::string> labels(65536, std::string(200, 'x'));
  for (const std::vector<FeatureDiff>* rows : {&counted, static_cast<const std::vector<FeatureDiff>*>(&spread)}) {
    const Top t = top_k(*rows, 25);
    const std::string scatter = scatter_svg(*rows, t.up, t.down, kNames, labels);
    const std::string volcano = volcano_svg(*rows, t.up, t.down, 0.05, kNames, labels);
    for (const std::string* svg : {&scatter, &volcano}) {
      expect_well_formed(*svg);
      EXPECT_LT(svg->size(), kMaxBytes);
      EXPECT_LT(count_of(*svg, "<circle"), 1600u);
      EXPECT_EQ(merged_count(*svg), static_cast<int64_t>(rows->size()));  // merging loses no feature
    }
  }
  EXPECT_NE(volcano_svg(spread, {}, {}, 0.05, kNames).find("capped at 300"), std::string::npos);
}

TEST(Figures, VolcanoLabelsTenTopFeaturesAndDrawsAlpha) {
  Lcg rng{5};
  std::vector<int64_t> cb(300), cc(300);
  for (size_t i = 0; i < cb.size(); ++i) {
    cb[i] = static_cast<int64_t>(rng.next() * 80);
    cc[i] = static_cast<int64_t>(rng.next() * 80);
  }
  const std::vector<FeatureDiff> rows = diff_sets(cb, 80, cc, 80);
  const Top t = top_k(rows, 25);
  const std::string svg = volcano_svg(rows, t.up, t.down, 0.05, kNames);
  expect_well_formed(svg);
  size_t labelled = 0;
  for (const auto* list : {&t.up, &t.down}) {
    for (size_t i = 0; i < list->size(); ++i) {
      const bool has = svg.find("</title>#" + std::to_string((*list)[i]->feature) + "</text>") != std::string::npos;
      EXPECT_EQ(has, i < 5) << (*list)[i]->feature;
      labelled += has ? 1 : 0;
    }
  }
  EXPECT_EQ(labelled, 10u);
  EXPECT_NE(svg.find(">q = 0.05</text>"), std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);

  // q = 0 sits at the cap; without a valid alpha there is no threshold line.
  std::vector<FeatureDiff> zero(1);
  zero[0].diff = 0.5;
  zero[0].q_value = 0;
  const std::string capped = volcano_svg(zero, {&zero[0]}, {}, 0, kNames);
  expect_well_formed(capped);
  EXPECT_NE(capped.find("capped at 300"), std::string::npos);
  EXPECT_EQ(capped.find(">q = "), std::string::npos);
}

TEST(Figures, LengthHistogramEdgeCases) {
  const std::string empty = length_hist_svg({}, {}, kNames);
  expect_well_formed(empty);
  EXPECT_NE(empty.find("no documents"), std::string::npos);

  const std::string one_empty = length_hist_svg({}, {7, 9, 12}, kNames);
  expect_well_formed(one_empty);
  EXPECT_NE(one_empty.find("base (0 docs)"), std::string::npos);
  EXPECT_NE(one_empty.find("cand (3 docs, median 9)"), std::string::npos);

  const std::string equal = length_hist_svg({100, 100, 100}, {100}, kNames);
  expect_well_formed(equal);
  EXPECT_EQ(count_of(equal, "with 100 tokens</title>"), 2u);  // one bin per set
  EXPECT_EQ(count_of(equal, ">median 100<"), 2u);

  const std::string zeros = length_hist_svg({0, 0, 1}, {0, 1, 2, 3}, kNames);
  expect_well_formed(zeros);
  EXPECT_NE(zeros.find(">median 0<"), std::string::npos);
  EXPECT_NE(zeros.find(">median 1.5<"), std::string::npos);
  EXPECT_EQ(zeros.find("log scale"), std::string::npos);

  // Skewed lengths get log-spaced bins; every document lands in one bin.
  std::vector<int64_t> a, b;
  for (int i = 0; i < 200; ++i) a.push_back(5 + i * i / 10);
  for (int i = 0; i < 50; ++i) b.push_back(40 + 3 * i);
  const std::string skewed = length_hist_svg(a, b, kNames);
  expect_well_formed(skewed);
  EXPECT_NE(skewed.find("log scale"), std::string::npos);
  EXPECT_EQ(binned_docs(skewed, "base"), 200);
  EXPECT_EQ(binned_docs(skewed, "cand"), 50);
}

TEST(Figures, DeterministicAndIndependentOfLocale) {
  const std::vector<FeatureDiff> rows = diff_sets({3, 0, 9}, 20, {0, 7, 9}, 30);
  const Top t = top_k(rows, 25);
  const auto all = [&] {
    return scatter_svg(rows, t.up, t.down, kNames) + volcano_svg(rows, t.up, t.down, 0.05, kNames) +
           top_diff_bars_svg(t.up, t.down, {}, kNames) + length_hist_svg({1, 5, 9}, {2, 200}, kNames);
  };
  const std::string reference = all();
  EXPECT_EQ(all(), reference);
  // A locale with a decimal comma, where one is installed, must change nothing.
  for (const char* name : {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR"}) {
    if (std::setlocale(LC_ALL, name) == nullptr) continue;
    const std::string localised = all();
    std::setlocale(LC_ALL, "C");
    EXPECT_EQ(localised, reference) << name;
    break;
  }
}

}  // namespace
}  // namespace saediff
