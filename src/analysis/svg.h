#pragma once
// SVG primitives for the report's figures (analysis/figures.h): escaped text, locale-free numbers, a
// document builder, scales with 1-2-5 ticks, axes, legends, and binning of many points into few marks.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace saediff {

// Text -> XML character data or attribute value: & < > " ' escaped, invalid UTF-8 and XML-forbidden
// characters (C0 controls but tab/LF/CR, U+FFFE, U+FFFF) replaced by U+FFFD.
std::string xml_escape(std::string_view text);

namespace svg {

inline constexpr const char* kMuted = "#666666";  // secondary text
inline constexpr const char* kFrame = "#999999";  // plot frame, tick marks
inline constexpr const char* kGrid = "#e8e8e8";   // grid lines

// One line of at most max_chars characters (code points), cut with an ellipsis; whitespace runs collapse.
// The result is valid UTF-8 (invalid bytes become U+FFFD), not yet escaped.
std::string shorten(std::string_view text, size_t max_chars);
// Rendered width in px, estimated without font metrics: ~0.58 em per Latin character, 1 em per wide one.
double text_width(std::string_view text, double font_px);

// Numbers through std::to_chars, which ignores the locale. fixed() never prints "-0.0".
std::string fixed(double v, int digits);
std::string signed_fixed(double v, int digits);      // "+" before a positive value
std::string general(double v);                       // 3 significant digits: 0.05, 5.21e-25
std::string f1(double v);                            // pixel coordinates: one decimal
std::string plural(int64_t n, const char* one, const char* many);
std::string range_text(double lo, double hi, int digits);  // "0.100" or "0.100–0.120"
std::string title_el(std::string_view content);            // <title>, escaped: a tooltip

// One SVG document: white background and a <title>; parts are appended as given (numbers through f1()).
class Doc {
 public:
  Doc(double width, double height, const std::string& title);
  template <typename... Args>
  void add(const Args&... parts) {
    (out_ += ... += parts);
  }
  // <text> with its content escaped here; `attrs` are extra attributes, written as given.
  void text(double x, double y, std::string_view content, const std::string& attrs = "");
  void line(double x1, double y1, double x2, double y2, const std::string& attrs);
  void heading(double x, const std::string& content);  // bold, at the top
  std::string finish();

 private:
  std::string out_;
};

// A linear or log10 map from data to pixels.
struct Scale {
  double lo = 0, hi = 1;  // data range
  double p0 = 0, p1 = 1;  // pixels at lo and hi
  bool log = false;       // log10 axis; lo, hi > 0
  double operator()(double v) const {
    const double a = log ? std::log10(v) : v, b = log ? std::log10(lo) : lo, c = log ? std::log10(hi) : hi;
    return c == b ? (p0 + p1) / 2 : p0 + (a - b) / (c - b) * (p1 - p0);
  }
};

struct Tick {
  double value = 0;
  std::string text;
};
struct Axis {
  double lo = 0, hi = 1;  // data range, widened to whole ticks
  std::vector<Tick> ticks;
};

double nice_step(double raw);  // 1, 2 or 5 x 10^k, >= raw
// Ticks every 1-2-5 step, about n_target of them, covering [lo, hi]; the range widens to whole steps.
// Labels show value * label_scale with just enough decimals, then `suffix`.
Axis linear_axis(double lo, double hi, int n_target, double label_scale = 1, const char* suffix = "");
// Ticks at 1, 2, 5 x 10^k inside [lo, hi] (only 10^k when that gives more than 10); lo, hi > 0.
Axis log_axis(double lo, double hi);
// Grid, frame, tick labels and axis titles of the plot area [x.p0, x.p1] x [y.p1, y.p0].
void draw_axes(Doc& svg, const Scale& x, const Axis& xa, const Scale& y, const Axis& ya, const std::string& x_title,
               const std::string& y_title);

struct LegendItem {
  std::string colour;
  std::string text;
  bool square = false;  // swatch shape: square (bars) or circle (points)
  bool open = false;    // outline only
};
// Legend items laid out left to right from (12, 46), wrapping before x_max.
struct Legend {
  std::vector<LegendItem> items;
  std::vector<std::pair<double, double>> at;  // (x, baseline y) of each item
  double plot_top = 0;                        // where a plot below the legend starts
};
Legend layout_legend(std::vector<LegendItem> items, double x_max);
void draw_legend(Doc& svg, const Legend& legend);

struct Mark {
  double x = 0, y = 0;  // mean of the merged points, data units
  int64_t n = 0;        // points merged
  double x_lo = 0, x_hi = 0, y_lo = 0, y_hi = 0;
};
// Equal points (data units, finite) become one mark; while there are more than max_marks, marks whose
// pixel positions fall in the same cell x cell square merge, the cell growing from 2 px by half each
// round. Largest marks first, so that small ones are drawn on top.
std::vector<Mark> bin_points(std::vector<std::pair<double, double>> points, const Scale& sx, const Scale& sy,
                             size_t max_marks);

}  // namespace svg
}  // namespace saediff
