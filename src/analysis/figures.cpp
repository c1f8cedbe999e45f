#include "analysis/figures.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "analysis/svg.h"

namespace saediff {
namespace {

using namespace svg;

constexpr double kMaxLog10Q = 300;   // volcano y cap; q = 0 (underflow) is drawn there
constexpr size_t kMaxName = 32;      // characters of a set name in legends and axis titles
constexpr size_t kMaxLabel = 40;     // characters of a feature label in the bars figure
constexpr size_t kMaxTooltip = 120;  // characters of a label in a tooltip

std::string label_of(const std::vector<std::string>& labels, int32_t feature) {
  return feature >= 0 && static_cast<size_t>(feature) < labels.size() ? labels[static_cast<size_t>(feature)]
                                                                       : std::string();
}

// Tooltip of one feature: id, label, frequencies with counts, diff with its interval, q.
std::string feature_tooltip(const FeatureDiff& d, const std::vector<std::string>& labels, const FigureNames& names) {
  std::string t = "#" + std::to_string(d.feature);
  const std::string label = label_of(labels, d.feature);
  if (!label.empty()) t += " " + shorten(label, kMaxTooltip);
  t += "\nfreq " + shorten(names.baseline, kMaxName) + ": " + fixed(d.freq_baseline, 3) + " (" +
       plural(d.count_baseline, "doc", "docs") + ")";
  t += "\nfreq " + shorten(names.candidate, kMaxName) + ": " + fixed(d.freq_candidate, 3) + " (" +
       plural(d.count_candidate, "doc", "docs") + ")";
  t += "\ndiff " + signed_fixed(d.diff, 3) + " (95% CI " + fixed(d.diff_ci_low, 3) + " to " + fixed(d.diff_ci_high, 3) +
       ")\nq " + general(d.q_value);
  return t;
}

double clamp_finite(double v, double lo, double hi) { return std::isfinite(v) ? std::clamp(v, lo, hi) : lo; }

double neg_log10_q(double q) {
  if (std::isnan(q) || q >= 1) return 0;
  if (q <= 0) return kMaxLog10Q;
  return std::min(kMaxLog10Q, -std::log10(q));
}

}  // namespace

std::string scatter_svg(const std::vector<FeatureDiff>& rows, const std::vector<const FeatureDiff*>& up,
                        const std::vector<const FeatureDiff*>& down, const FigureNames& names,
                        const std::vector<std::string>& labels) {
  constexpr double kWidth = 600, kLeft = 66, kRight = 22, kBottom = 56, kPlot = kWidth - kLeft - kRight;
  constexpr size_t kMaxMarks = 1500;
  const std::string base = shorten(names.baseline, kMaxName), cand = shorten(names.candidate, kMaxName);
  const Legend legend = layout_legend(
      {{kColourCandidate, "top " + std::to_string(up.size()) + " more frequent in " + cand},
       {kColourBaseline, "top " + std::to_string(down.size()) + " more frequent in " + base},
       {kColourOther,
        "all " + plural(static_cast<int64_t>(rows.size()), "feature", "features") + " (area \u221d count)"}},
      kWidth - 8);
  const double top = legend.plot_top;
  Doc svg(kWidth, top + kPlot + kBottom, "Feature frequency: " + base + " against " + cand);
  svg.heading(12, "Feature frequency per set");

  // One axis range for both sets, so that the diagonal is the line of equal frequency.
  double f_max = 0;
  const auto widen = [&](const FeatureDiff& d) {
    f_max = std::max({f_max, clamp_finite(d.freq_baseline, 0, 1), clamp_finite(d.freq_candidate, 0, 1)});
  };
  for (const FeatureDiff& d : rows) widen(d);
  for (const auto* list : {&up, &down}) {
    for (const FeatureDiff* d : *list) widen(*d);
  }
  const Axis axis = linear_axis(0, f_max > 0 ? f_max : 1, 5);
  const double hi = std::min(axis.hi, 1.0);
  const Scale sx{0, hi, kLeft, kLeft + kPlot}, sy{0, hi, top + kPlot, top};

  draw_legend(svg, legend);
  draw_axes(svg, sx, axis, sy, axis, "frequency in " + base + " (fraction of documents)", "frequency in " + cand);
  svg.line(sx(0), sy(0), sx(hi), sy(hi), "stroke=\"#b0b0b0\" stroke-dasharray=\"5 4\"");
  svg.text(kLeft + 8, top + 16, "\u2196 more frequent in " + cand,
           std::string("font-size=\"11\" fill=\"") + kColourCandidate + "\"");
  svg.text(kLeft + kPlot - 8, top + kPlot - 8, "more frequent in " + base + " \u2198",
           std::string("font-size=\"11\" text-anchor=\"end\" fill=\"") + kColourBaseline + "\"");

  // Frequencies are count / n, so features pile up on a grid: one circle per (count, count) cell, its area
  // proportional to the number of features there.
  std::vector<std::pair<double, double>> points;
  points.reserve(rows.size());
  for (const FeatureDiff& d : rows) {
    points.emplace_back(clamp_finite(d.freq_baseline, 0, hi), clamp_finite(d.freq_candidate, 0, hi));
  }
  const std::vector<Mark> marks = bin_points(std::move(points), sx, sy, kMaxMarks);
  int64_t n_max = 1;
  for (const Mark& m : marks) n_max = std::max(n_max, m.n);
  const double r_unit = std::min(2.5, 12.0 / std::sqrt(static_cast<double>(n_max)));  // the largest: r = 12 px
  svg.add("<g fill=\"", kColourOther, "\" fill-opacity=\"0.45\">\n");
  for (const Mark& m : marks) {
    const double r = std::max(1.5, r_unit * std::sqrt(static_cast<double>(m.n)));
    svg.add("<circle cx=\"", f1(sx(m.x)), "\" cy=\"", f1(sy(m.y)), "\" r=\"", f1(r), "\">",
            title_el(plural(m.n, "feature", "features") + " at (" + range_text(m.x_lo, m.x_hi, 3) + ", " +
                     range_text(m.y_lo, m.y_hi, 3) + ")"),
            "</circle>\n");
  }
  svg.add("</g>\n<g stroke=\"#ffffff\" stroke-width=\"1\">\n");
  for (const auto& [list, colour] : {std::pair{&down, kColourBaseline}, std::pair{&up, kColourCandidate}}) {
    for (const FeatureDiff* d : *list) {
      svg.add("<circle cx=\"", f1(sx(clamp_finite(d->freq_baseline, 0, hi))), "\" cy=\"",
              f1(sy(clamp_finite(d->freq_candidate, 0, hi))), "\" r=\"4.5\" fill=\"", colour, "\">",
              title_el(feature_tooltip(*d, labels, names)), "</circle>\n");
    }
  }
  svg.add("</g>\n");
  return svg.finish();
}

std::string volcano_svg(const std::vector<FeatureDiff>& rows, const std::vector<const FeatureDiff*>& up,
                        const std::vector<const FeatureDiff*>& down, double alpha, const FigureNames& names,
                        const std::vector<std::string>& labels) {
  constexpr double kWidth = 640, kLeft = 66, kRight = 22, kBottom = 56, kPlotW = kWidth - kLeft - kRight, kPlotH = 352;
  constexpr size_t kMaxMarks = 1500, kMaxTextLabels = 10;
  const std::string base = shorten(names.baseline, kMaxName), cand = shorten(names.candidate, kMaxName);
  const bool has_alpha = alpha > 0 && alpha < 1;
  const std::string alpha_text = has_alpha ? general(alpha) : "alpha";
  const Legend legend = layout_legend(
      {{kColourCandidate, "top " + std::to_string(up.size()) + " more frequent in " + cand},
       {kColourBaseline, "top " + std::to_string(down.size()) + " more frequent in " + base},
       {kColourOther, "all features (merged: count in tooltip)"},
       {"#555555", "open: q \u2265 " + alpha_text, false, true}},
      kWidth - 8);
  const double top = legend.plot_top;
  Doc svg(kWidth, top + kPlotH + kBottom, "Volcano plot: " + cand + " against " + base);
  svg.heading(12, "Difference against significance");
  const double y_alpha = has_alpha ? -std::log10(alpha) : 0;

  // x symmetric around 0 over the data; y from 0 to the largest -log10 q (or the alpha line).
  double x_max = 0, y_max = has_alpha ? 1.1 * y_alpha : 1;
  bool capped = false;
  std::vector<std::pair<double, double>> points;
  points.reserve(rows.size());
  for (const FeatureDiff& d : rows) {
    if (!std::isfinite(d.diff)) continue;
    const double x = std::clamp(d.diff, -1.0, 1.0), y = neg_log10_q(d.q_value);
    points.emplace_back(x, y);
    x_max = std::max(x_max, std::abs(x));
    y_max = std::max(y_max, y);
    capped = capped || y >= kMaxLog10Q;
  }
  for (const auto* list : {&up, &down}) {
    for (const FeatureDiff* d : *list) {
      x_max = std::max(x_max, std::abs(clamp_finite(d->diff, -1, 1)));
      y_max = std::max(y_max, neg_log10_q(d->q_value));
    }
  }
  const Axis xa = linear_axis(-(x_max > 0 ? x_max : 0.1), x_max > 0 ? x_max : 0.1, 8);
  const Axis ya = linear_axis(0, y_max, 6);
  const Scale sx{std::max(xa.lo, -1.0), std::min(xa.hi, 1.0), kLeft, kLeft + kPlotW};
  const Scale sy{ya.lo, ya.hi, top + kPlotH, top};

  draw_legend(svg, legend);
  draw_axes(svg, sx, xa, sy, ya, "diff = freq " + cand + " \u2212 freq " + base,
            std::string("\u2212log10 q (Benjamini-Hochberg)") + (capped ? ", capped at 300" : ""));
  svg.line(sx(0), top, sx(0), top + kPlotH, "stroke=\"#bbbbbb\"");
  if (has_alpha) {
    svg.line(kLeft, sy(y_alpha), kLeft + kPlotW, sy(y_alpha), "stroke=\"#777777\" stroke-dasharray=\"6 4\"");
    svg.text(kLeft + kPlotW - 4, sy(y_alpha) - 4, "q = " + alpha_text,
             std::string("font-size=\"11\" text-anchor=\"end\" fill=\"") + kMuted + "\"");
  }

  const std::vector<Mark> marks = bin_points(std::move(points), sx, sy, kMaxMarks);
  svg.add("<g fill=\"", kColourOther, "\" fill-opacity=\"0.5\">\n");
  for (const Mark& m : marks) {
    const double r = std::min(6.0, 1.8 + 0.45 * std::log2(static_cast<double>(m.n)));
    svg.add("<circle cx=\"", f1(sx(m.x)), "\" cy=\"", f1(sy(m.y)), "\" r=\"", f1(r), "\">",
            title_el(plural(m.n, "feature", "features") + ": diff " + range_text(m.x_lo, m.x_hi, 3) +
                     ", \u2212log10 q " + range_text(m.y_lo, m.y_hi, 2)),
            "</circle>\n");
  }
  svg.add("</g>\n");

  // Which top features get a text label: five of each list, more of one when the other is short.
  const size_t half = kMaxTextLabels / 2;
  const size_t n_up = std::min(up.size(), std::max(half, kMaxTextLabels - std::min(down.size(), half)));
  const size_t n_down = std::min(down.size(), kMaxTextLabels - n_up);
  struct Box {
    double x0, y0, x1, y1;
  };
  std::vector<Box> placed;
  std::string text_labels;
  for (const auto& [list, colour, n_text] :
       {std::tuple{&down, kColourBaseline, n_down}, std::tuple{&up, kColourCandidate, n_up}}) {
    for (size_t i = 0; i < list->size(); ++i) {
      const FeatureDiff& d = *(*list)[i];
      const double px = sx(clamp_finite(d.diff, -1, 1)), py = sy(neg_log10_q(d.q_value));
      const bool significant = has_alpha && d.q_value < alpha;
      svg.add("<circle cx=\"", f1(px), "\" cy=\"", f1(py), "\" r=\"4.5\" ",
              significant ? std::string("fill=\"") + colour + "\" stroke=\"#ffffff\""
                          : std::string("fill=\"#ffffff\" stroke=\"") + colour + "\" stroke-width=\"1.5\"",
              ">", title_el(feature_tooltip(d, labels, names)), "</circle>\n");
      if (i >= n_text) continue;
      // Beside the point, away from 0 unless that leaves the plot; moved up or down off earlier labels.
      const std::string id = "#" + std::to_string(d.feature);
      const double w = text_width(id, 10);
      const bool right = d.diff < 0 ? px - 7 - w < kLeft : px + 7 + w <= kLeft + kPlotW;
      const double x0 = right ? px + 7 : px - 7 - w;
      double dy = 0;
      for (int k = 0; k < 12; ++k) {
        const double t = (k % 2 == 0 ? -1 : 1) * 11.0 * ((k + 1) / 2);
        const Box b{x0, py + t - 6, x0 + w, py + t + 5};
        const bool free = b.y0 >= top && b.y1 <= top + kPlotH &&
                          std::none_of(placed.begin(), placed.end(), [&](const Box& o) {
                            return b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1;
                          });
        if (free) {
          dy = t;
          break;
        }
      }
      placed.push_back({x0, py + dy - 6, x0 + w, py + dy + 5});
      if (dy != 0) {
        text_labels += "<line x1=\"" + f1(px) + "\" y1=\"" + f1(py) + "\" x2=\"" + f1(right ? x0 - 1 : x0 + w + 1) +
                       "\" y2=\"" + f1(py + dy) + "\" stroke=\"" + colour + "\" stroke-width=\"0.7\"/>\n";
      }
      text_labels += "<text x=\"" + f1(x0) + "\" y=\"" + f1(py + dy + 3.5) + "\" fill=\"" + colour + "\">" +
                     title_el(feature_tooltip(d, labels, names)) + xml_escape(id) + "</text>\n";
    }
  }
  svg.add("<g font-size=\"10\" stroke-linecap=\"round\">\n", text_labels, "</g>\n");
  return svg.finish();
}

std::string top_diff_bars_svg(const std::vector<const FeatureDiff*>& up, const std::vector<const FeatureDiff*>& down,
                              const std::vector<std::string>& labels, const FigureNames& names) {
  constexpr double kWidth = 680, kRight = 22, kTop = 52, kRow = 18, kHeader = 24, kValueRoom = 46;
  const std::string base = shorten(names.baseline, kMaxName), cand = shorten(names.candidate, kMaxName);

  auto row_label = [&](const FeatureDiff& d) {
    const std::string label = shorten(label_of(labels, d.feature), kMaxLabel);
    return "#" + std::to_string(d.feature) + (label.empty() ? "" : " " + label);
  };
  double label_w = 0, lo = 0, hi = 0;
  for (const auto* list : {&up, &down}) {
    for (const FeatureDiff* d : *list) {
      label_w = std::max(label_w, text_width(row_label(*d), 11));
      for (double v : {d->diff, d->diff_ci_low, d->diff_ci_high}) {
        lo = std::min(lo, clamp_finite(v, -1, 1));
        hi = std::max(hi, clamp_finite(v, -1, 1));
      }
    }
  }
  const double left = std::clamp(label_w + 16, 110.0, 330.0);
  const Axis xa = linear_axis(lo, hi > lo ? hi : lo + 0.1, 6);
  const double plot_top = kTop;
  const auto n_rows = static_cast<double>(std::max<size_t>(up.size(), 1) + std::max<size_t>(down.size(), 1));
  const double plot_bottom = plot_top + 2 * kHeader + n_rows * kRow + 4;
  const double height = plot_bottom + 52;
  const Scale sx{std::max(xa.lo, -1.0), std::min(xa.hi, 1.0), left + kValueRoom, kWidth - kRight - kValueRoom};

  Doc svg(kWidth, height, "Top features by diff: " + cand + " against " + base);
  svg.heading(12, "Top features by frequency difference");
  svg.text(12, 40, "bar: diff = freq " + cand + " \u2212 freq " + base + "; whisker: Newcombe 95% interval",
           std::string("font-size=\"11\" fill=\"") + kMuted + "\"");
  for (const Tick& t : xa.ticks) {
    svg.line(sx(t.value), plot_top, sx(t.value), plot_bottom,
             t.value == 0 ? "stroke=\"#888888\"" : std::string("stroke=\"") + kGrid + "\"");
  }

  double y = plot_top;
  for (const auto& [list, header, colour] :
       {std::tuple{&up, "More frequent in " + cand, kColourCandidate},
        std::tuple{&down, "More frequent in " + base, kColourBaseline}}) {
    svg.text(12, y + 16, header + " (top " + std::to_string(list->size()) + ")",
             std::string("font-weight=\"bold\" fill=\"") + colour + "\"");
    y += kHeader;
    if (list->empty()) {
      svg.text(left, y + 13, "none", std::string("text-anchor=\"end\" font-size=\"11\" fill=\"") + kMuted + "\"");
      y += kRow;
    }
    for (size_t i = 0; i < list->size(); ++i, y += kRow) {
      const FeatureDiff& d = *(*list)[i];
      const double cy = y + kRow / 2, diff = clamp_finite(d.diff, -1, 1);
      const char* fill = d.diff > 0 ? kColourCandidate : d.diff < 0 ? kColourBaseline : kColourOther;
      svg.add("<g>", title_el(feature_tooltip(d, labels, names)), "\n");
      if (i % 2 == 1) {
        svg.add("<rect x=\"8\" y=\"", f1(y), "\" width=\"", f1(kWidth - 16), "\" height=\"", f1(kRow),
                "\" fill=\"#000000\" fill-opacity=\"0.035\"/>\n");
      }
      svg.text(left, cy + 4, row_label(d), "text-anchor=\"end\" font-size=\"11\"");
      const double x0 = sx(0), x1 = sx(diff);
      svg.add("<rect x=\"", f1(std::min(x0, x1)), "\" y=\"", f1(cy - 5.5), "\" width=\"", f1(std::abs(x1 - x0)),
              "\" height=\"11\" fill=\"", fill, "\" fill-opacity=\"0.85\"/>\n");
      double end = x1;
      if (std::isfinite(d.diff_ci_low) && std::isfinite(d.diff_ci_high)) {
        const double c0 = sx(clamp_finite(d.diff_ci_low, -1, 1)), c1 = sx(clamp_finite(d.diff_ci_high, -1, 1));
        const std::string ink = "stroke=\"#333333\" stroke-width=\"1.2\"";
        svg.line(c0, cy, c1, cy, ink);
        svg.line(c0, cy - 4, c0, cy + 4, ink);
        svg.line(c1, cy - 4, c1, cy + 4, ink);
        end = d.diff < 0 ? std::min(end, c0) : std::max(end, c1);
      }
      svg.text(d.diff < 0 ? end - 4 : end + 4, cy + 4, signed_fixed(d.diff, 3),
               std::string("font-size=\"10\" fill=\"") + kMuted + "\"" + (d.diff < 0 ? " text-anchor=\"end\"" : ""));
      svg.add("</g>\n");
    }
  }
  svg.add("<g font-size=\"11\" fill=\"", kMuted, "\">\n");
  for (const Tick& t : xa.ticks) {
    svg.line(sx(t.value), plot_bottom, sx(t.value), plot_bottom + 4, std::string("stroke=\"") + kFrame + "\"");
    svg.text(sx(t.value), plot_bottom + 16, t.text, "text-anchor=\"middle\"");
  }
  svg.add("</g>\n");
  svg.line(sx.p0, plot_bottom, sx.p1, plot_bottom, std::string("stroke=\"") + kFrame + "\"");
  svg.text((sx.p0 + sx.p1) / 2, plot_bottom + 38, "diff = freq " + cand + " \u2212 freq " + base,
           "text-anchor=\"middle\"");
  return svg.finish();
}

std::string length_hist_svg(const std::vector<int64_t>& n_tokens_baseline,
                            const std::vector<int64_t>& n_tokens_candidate, const FigureNames& names) {
  constexpr double kWidth = 640, kLeft = 66, kRight = 22, kBottom = 56, kPlotW = kWidth - kLeft - kRight, kPlotH = 250;
  const std::string base = shorten(names.baseline, kMaxName), cand = shorten(names.candidate, kMaxName);

  struct Set {
    std::vector<int64_t> sorted;
    std::string name;
    const char* colour;
    double median = 0;
  };
  Set sets[2] = {{n_tokens_baseline, base, kColourBaseline}, {n_tokens_candidate, cand, kColourCandidate}};
  int64_t v_min = INT64_MAX, v_max = INT64_MIN;
  for (Set& s : sets) {
    std::sort(s.sorted.begin(), s.sorted.end());
    if (s.sorted.empty()) continue;
    const size_t n = s.sorted.size();
    s.median = n % 2 == 1 ? static_cast<double>(s.sorted[n / 2])
                          : (static_cast<double>(s.sorted[n / 2 - 1]) + static_cast<double>(s.sorted[n / 2])) / 2;
    v_min = std::min(v_min, s.sorted.front());
    v_max = std::max(v_max, s.sorted.back());
  }
  auto median_text = [](double m) { return fixed(m, m == std::floor(m) ? 0 : 1); };
  std::vector<LegendItem> items;
  for (const Set& s : sets) {
    items.push_back({s.colour,
                     s.name + " (" + plural(static_cast<int64_t>(s.sorted.size()), "doc", "docs") +
                         (s.sorted.empty() ? "" : ", median " + median_text(s.median)) + ")",
                     true});
  }
  const Legend legend = layout_legend(std::move(items), kWidth - 8);
  const double top = legend.plot_top;
  Doc svg(kWidth, top + kPlotH + kBottom, "Tokens per document: " + base + " and " + cand);
  svg.heading(12, "Tokens per document");
  draw_legend(svg, legend);
  if (v_min > v_max) {
    svg.text(kWidth / 2, top + kPlotH / 2, "no documents in either set",
             std::string("text-anchor=\"middle\" fill=\"") + kMuted + "\"");
    return svg.finish();
  }

  // Bin i holds the lengths [edges[i], edges[i + 1]).
  const size_t n_all = sets[0].sorted.size() + sets[1].sorted.size();
  const int n_target = std::clamp(static_cast<int>(std::ceil(2 * std::cbrt(static_cast<double>(n_all)))), 8, 40);
  const bool log = v_min >= 1 && v_max >= 10 * v_min;
  std::vector<int64_t> edges;
  Scale sx{0, 1, kLeft, kLeft + kPlotW};
  Axis xa;
  if (log) {
    const double b = std::log10(static_cast<double>(v_min)), t = std::log10(static_cast<double>(v_max) + 1);
    for (int k = 0; k <= n_target; ++k) {
      auto e = static_cast<int64_t>(std::ceil(std::pow(10.0, b + (t - b) * k / n_target) - 1e-9));
      e = k == 0 ? v_min : k == n_target ? v_max + 1 : std::clamp(e, v_min, v_max + 1);
      if (edges.empty() || e > edges.back()) edges.push_back(e);
    }
    xa = log_axis(static_cast<double>(edges.front()), static_cast<double>(edges.back()));
    sx = {xa.lo, xa.hi, kLeft, kLeft + kPlotW, true};
  } else {
    const double raw = static_cast<double>(v_max - v_min + 1) / n_target;
    const int64_t step = raw <= 1 ? 1 : static_cast<int64_t>(std::llround(nice_step(raw)));
    const auto floor_div = [](int64_t a, int64_t q) { return a / q - ((a % q != 0) && ((a < 0) != (q < 0))); };
    const int64_t start = floor_div(v_min, step) * step;
    const int64_t n_bins = floor_div(v_max - start, step) + 1;
    for (int64_t k = 0; k <= n_bins; ++k) edges.push_back(start + k * step);
    // At least five bins' width of axis, so that a single bin is not drawn as a wall.
    const double pad = n_bins < 5 ? static_cast<double>(step) * static_cast<double>(5 - n_bins) / 2 : 0;
    xa = linear_axis(static_cast<double>(edges.front()) - pad, static_cast<double>(edges.back()) + pad, 7);
    sx = {xa.lo, xa.hi, kLeft, kLeft + kPlotW};
  }
  const size_t n_bins = edges.size() - 1;
  std::vector<int64_t> counts[2];
  double y_max = 0;
  for (int s = 0; s < 2; ++s) {
    counts[s].assign(n_bins, 0);
    for (int64_t v : sets[s].sorted) {
      ++counts[s][static_cast<size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin() - 1)];
    }
    for (int64_t c : counts[s]) {
      if (c > 0) y_max = std::max(y_max, static_cast<double>(c) / static_cast<double>(sets[s].sorted.size()));
    }
  }
  const Axis ya = linear_axis(0, y_max, 5, 100, "%");
  const Scale sy{ya.lo, ya.hi, top + kPlotH, top};
  draw_axes(svg, sx, xa, sy, ya, std::string("tokens per document") + (log ? " (log scale)" : ""),
            "share of the set's documents");

  // Overlaid: each set as translucent bars under a step outline, so that either shows through the other.
  for (int s = 0; s < 2; ++s) {
    if (sets[s].sorted.empty()) continue;
    const double n = static_cast<double>(sets[s].sorted.size());
    std::string outline = "M" + f1(sx(static_cast<double>(edges[0]))) + " " + f1(sy(0));
    svg.add("<g fill=\"", sets[s].colour, "\" fill-opacity=\"0.3\">\n");
    for (size_t i = 0; i < n_bins; ++i) {
      const double x0 = sx(static_cast<double>(edges[i])), x1 = sx(static_cast<double>(edges[i + 1]));
      const double frac = static_cast<double>(counts[s][i]) / n;
      outline += "V" + f1(sy(frac)) + "H" + f1(x1);
      if (counts[s][i] == 0) continue;
      const int64_t last = edges[i + 1] - 1;
      const std::string range = std::to_string(edges[i]) + (last == edges[i] ? "" : "\u2013" + std::to_string(last));
      svg.add("<rect x=\"", f1(x0), "\" y=\"", f1(sy(frac)), "\" width=\"", f1(x1 - x0), "\" height=\"",
              f1(sy(0) - sy(frac)), "\">",
              title_el(sets[s].name + ": " + std::to_string(counts[s][i]) + " of " +
                       plural(static_cast<int64_t>(n), "document", "documents") + " (" + fixed(100 * frac, 1) +
                       "%) with " + range + " tokens"),
              "</rect>\n");
    }
    svg.add("</g>\n<path d=\"", outline, "V", f1(sy(0)), "\" fill=\"none\" stroke=\"", sets[s].colour,
            "\" stroke-width=\"1.5\"/>\n");
  }
  for (int s = 0; s < 2; ++s) {
    if (sets[s].sorted.empty()) continue;
    const double x = log ? sx(sets[s].median) : sx(sets[s].median + 0.5);  // linear: integer v spans [v, v + 1)
    const std::string text = "median " + median_text(sets[s].median);
    const bool right = x + 4 + text_width(text, 11) <= kLeft + kPlotW;
    svg.add("<g>", title_el(sets[s].name + ": median " + median_text(sets[s].median) + " tokens"), "\n");
    svg.line(x, top, x, top + kPlotH,
             std::string("stroke=\"") + sets[s].colour + "\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"");
    // A white halo keeps the label readable over the bars.
    svg.text(right ? x + 4 : x - 4, top + 13 + 14 * s, text,
             std::string("font-size=\"11\" fill=\"") + sets[s].colour +
                 "\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\"" +
                 (right ? "" : " text-anchor=\"end\""));
    svg.add("</g>\n");
  }
  return svg.finish();
}

}  // namespace saediff
