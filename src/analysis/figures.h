#pragma once
// SVG figures of the report: frequency scatter, volcano plot, top-feature diff bars and token-length
// histograms. Each function returns one self-contained SVG document (no scripts, fonts or URLs; the only
// URL is the SVG namespace), identical byte for byte for identical input and independent of the locale.
// Every piece of text passed in (set names, labels) is XML-escaped (xml_escape, analysis/svg.h). Large
// inputs are binned so that a figure stays under about 300 KB at 65,536 features.
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/diff.h"

namespace saediff {

struct FigureNames {
  std::string baseline, candidate;  // set names, shown in axis titles and legends
};

// Colours shared with the report: more frequent in the candidate (red), in the baseline (blue), the rest.
// Red and blue stay distinct under the common colour-vision deficiencies.
inline constexpr const char* kColourCandidate = "#c0392b";
inline constexpr const char* kColourBaseline = "#2471a3";
inline constexpr const char* kColourOther = "#8c8c8c";

// Frequency in the baseline (x) against the candidate (y), both on the same linear axis from 0 to the
// largest frequency (rounded up), with the diagonal. Features with the same pair of counts share one grey
// circle whose area is proportional to their number; if there are still more than ~1,500 circles, circles
// in the same pixel cell merge (the cell grows until they fit). Each circle's <title> gives its count. The
// `up` (red) and `down` (blue) features are drawn on top. labels[feature] (optional) goes into tooltips.
std::string scatter_svg(const std::vector<FeatureDiff>& rows, const std::vector<const FeatureDiff*>& up,
                        const std::vector<const FeatureDiff*>& down, const FigureNames& names,
                        const std::vector<std::string>& labels = {});

// Volcano plot: diff (x, symmetric around 0 over the data's range) against -log10 q (y, capped at 300;
// q = 0 sits at the cap), with a dashed line at q = alpha. Grey marks merge points with equal (diff, q),
// then points in the same pixel cell while there are more than ~1,500 marks; the <title> gives the count.
// `up` and `down` are drawn in colour (filled when q < alpha, open otherwise); the first ten (five of
// each when both have five) carry their feature id as a text label.
std::string volcano_svg(const std::vector<FeatureDiff>& rows, const std::vector<const FeatureDiff*>& up,
                        const std::vector<const FeatureDiff*>& down, double alpha, const FigureNames& names,
                        const std::vector<std::string>& labels = {});

// One horizontal bar per top feature: diff from 0, with the Newcombe 95% interval as a whisker; `up`
// first, then `down`, each in the given order under a heading. Bars are red where diff > 0, blue where
// diff < 0. Each row is labelled "#feature label", the label cut to 40 characters with an ellipsis;
// labels may be empty or shorter than the feature ids (no label then).
std::string top_diff_bars_svg(const std::vector<const FeatureDiff*>& up, const std::vector<const FeatureDiff*>& down,
                              const std::vector<std::string>& labels, const FigureNames& names);

// Histogram of tokens per document, both sets on shared bins, overlaid as translucent bars with a step
// outline (baseline blue, candidate red), in fractions of each set's documents, with each set's median as
// a dashed line. Bins are log-spaced when the shortest document has >= 1 token and the longest has >= 10
// times as many (answer lengths are usually skewed), otherwise linear with a 1-2-5 integer width; about
// 2 * cbrt(n) bins (Rice), between 8 and 40. Empty sets and all-equal lengths are drawn too.
std::string length_hist_svg(const std::vector<int64_t>& n_tokens_baseline,
                            const std::vector<int64_t>& n_tokens_candidate, const FigureNames& names);

}  // namespace saediff
