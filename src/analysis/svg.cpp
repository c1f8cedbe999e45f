#include "analysis/svg.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "text/utf8.h"

namespace saediff {
namespace {

void append_utf8(std::string& out, char32_t c) { out += encode_utf8(static_cast<uint32_t>(c)); }

// UTF-8 -> code points. Ill-formed sequences (text/utf8's maximal subparts) and the characters XML 1.0
// forbids become U+FFFD, so that a standalone .svg always parses.
std::u32string decode_utf8(std::string_view s) {
  const std::string valid = to_valid_utf8(s);
  std::u32string out;
  out.reserve(valid.size());
  for (size_t i = 0; i < valid.size(); i += utf8_length(static_cast<unsigned char>(valid[i]))) {
    auto c = static_cast<char32_t>(decode_utf8_first(std::string_view(valid).substr(i)));
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0xFFFE || c == 0xFFFF) c = U'\uFFFD';
    out += c;
  }
  return out;
}

std::string encode_utf8(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : decode_utf8(text)) {
    switch (c) {
      case U'&': out += "&amp;"; break;
      case U'<': out += "&lt;"; break;
      case U'>': out += "&gt;"; break;
      case U'"': out += "&quot;"; break;
      case U'\'': out += "&#39;"; break;
      default: append_utf8(out, c);
    }
  }
  return out;
}

namespace svg {

std::string shorten(std::string_view s, size_t max_chars) {
  std::u32string out;
  for (char32_t c : decode_utf8(s)) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? U' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > max_chars) {
    out.resize(max_chars - 1);
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += U'\u2026';
  }
  return encode_utf8(out);
}

double text_width(std::string_view s, double font_px) {
  double em = 0;
  for (char32_t c : decode_utf8(s)) em += c < 0x80 ? 0.58 : c >= 0x2E80 ? 1.0 : 0.65;
  return em * font_px;
}

// ---- Numbers: std::to_chars, which ignores the locale ---------------------------------------------

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
  char buf[400];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed, digits);
  if (r.ec != std::errc()) return "?";
  std::string s(buf, r.ptr);
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);  // no "-0.0"
  return s;
}

std::string signed_fixed(double v, int digits) {
  const std::string s = fixed(v, digits);
  return v > 0 && s.find_first_not_of("0.") != std::string::npos ? "+" + s : s;
}

std::string general(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general, 3);
  return r.ec == std::errc() ? std::string(buf, r.ptr) : "?";
}

std::string f1(double v) { return fixed(v, 1); }

std::string plural(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string title_el(std::string_view content) { return "<title>" + xml_escape(content) + "</title>"; }

std::string range_text(double lo, double hi, int digits) {
  return lo == hi ? fixed(lo, digits) : fixed(lo, digits) + "\u2013" + fixed(hi, digits);
}

// ---- Document -------------------------------------------------------------------------------------

Doc::Doc(double width, double height, const std::string& title) {
  add("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", f1(width), "\" height=\"", f1(height), "\" viewBox=\"0 0 ",
      f1(width), " ", f1(height), "\" role=\"img\" font-family=\"sans-serif\" font-size=\"12\">\n<title>",
      xml_escape(title), "</title>\n<rect width=\"", f1(width), "\" height=\"", f1(height), "\" fill=\"#ffffff\"/>\n");
}

void Doc::text(double x, double y, std::string_view content, const std::string& attrs) {
  add("<text x=\"", f1(x), "\" y=\"", f1(y), "\"", attrs.empty() ? "" : " ", attrs, ">", xml_escape(content),
      "</text>\n");
}

void Doc::line(double x1, double y1, double x2, double y2, const std::string& attrs) {
  add("<line x1=\"", f1(x1), "\" y1=\"", f1(y1), "\" x2=\"", f1(x2), "\" y2=\"", f1(y2), "\" ", attrs, "/>\n");
}

void Doc::heading(double x, const std::string& content) {
  text(x, 22, content, "font-size=\"15\" font-weight=\"bold\"");
}

std::string Doc::finish() {
  out_ += "</svg>\n";
  return std::move(out_);
}

// ---- Axes and legends -----------------------------------------------------------------------------

double nice_step(double raw) {
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

Axis linear_axis(double lo, double hi, int n_target, double label_scale, const char* suffix) {
  if (!(hi > lo)) hi = lo + 1;
  const double step = nice_step((hi - lo) / n_target);
  Axis axis;
  axis.lo = std::floor(lo / step + 1e-9) * step;
  axis.hi = std::ceil(hi / step - 1e-9) * step;
  const int digits = std::max(0, static_cast<int>(-std::floor(std::log10(step * label_scale) + 1e-9)));
  for (int i = 0;; ++i) {
    double v = axis.lo + i * step;
    if (v > axis.hi + step * 1e-6) break;
    if (std::abs(v) < step * 1e-9) v = 0;
    axis.ticks.push_back({v, fixed(v * label_scale, digits) + suffix});
  }
  return axis;
}

Axis log_axis(double lo, double hi) {
  Axis axis{lo, hi, {}};
  for (const bool decades_only : {false, true}) {
    axis.ticks.clear();
    for (double mag = std::pow(10.0, std::floor(std::log10(lo))); mag <= hi; mag *= 10) {
      for (double m : {1.0, 2.0, 5.0}) {
        const double v = m * mag;
        if ((decades_only && m != 1.0) || v < lo * (1 - 1e-9) || v > hi * (1 + 1e-9)) continue;
        axis.ticks.push_back({v, fixed(v, v < 1 ? 1 : 0)});
      }
    }
    if (axis.ticks.size() <= 10) break;
  }
  return axis;
}

void draw_axes(Doc& svg, const Scale& x, const Axis& xa, const Scale& y, const Axis& ya, const std::string& x_title,
               const std::string& y_title) {
  const double left = x.p0, right = x.p1, top = y.p1, bottom = y.p0;
  const std::string grid = std::string("stroke=\"") + kGrid + "\"";
  for (const Tick& t : xa.ticks) svg.line(x(t.value), top, x(t.value), bottom, grid);
  for (const Tick& t : ya.ticks) svg.line(left, y(t.value), right, y(t.value), grid);
  svg.add("<rect x=\"", f1(left), "\" y=\"", f1(top), "\" width=\"", f1(right - left), "\" height=\"", f1(bottom - top),
          "\" fill=\"none\" stroke=\"", kFrame, "\"/>\n");
  svg.add("<g font-size=\"11\" fill=\"", kMuted, "\">\n");
  for (const Tick& t : xa.ticks) {
    svg.line(x(t.value), bottom, x(t.value), bottom + 4, std::string("stroke=\"") + kFrame + "\"");
    svg.text(x(t.value), bottom + 16, t.text, "text-anchor=\"middle\"");
  }
  for (const Tick& t : ya.ticks) {
    svg.line(left - 4, y(t.value), left, y(t.value), std::string("stroke=\"") + kFrame + "\"");
    svg.text(left - 7, y(t.value) + 4, t.text, "text-anchor=\"end\"");
  }
  svg.add("</g>\n");
  svg.text((left + right) / 2, bottom + 38, x_title, "text-anchor=\"middle\"");
  const double ym = (top + bottom) / 2, yx = left - 48;
  svg.text(yx, ym, y_title, "text-anchor=\"middle\" transform=\"rotate(-90 " + f1(yx) + " " + f1(ym) + ")\"");
}

Legend layout_legend(std::vector<LegendItem> items, double x_max) {
  Legend legend{std::move(items), {}, 0};
  double x = 12, y = 46;
  for (const LegendItem& item : legend.items) {
    const double w = 14 + text_width(item.text, 12) + 16;
    if (x > 12 && x + w > x_max) {
      x = 12;
      y += 17;
    }
    legend.at.emplace_back(x, y);
    x += w;
  }
  legend.plot_top = y + 28;
  return legend;
}

void draw_legend(Doc& svg, const Legend& legend) {
  for (size_t i = 0; i < legend.items.size(); ++i) {
    const LegendItem& item = legend.items[i];
    const auto [x, y] = legend.at[i];
    const std::string paint = item.open ? "fill=\"#ffffff\" stroke=\"" + item.colour + "\" stroke-width=\"1.5\""
                                        : "fill=\"" + item.colour + "\"";
    if (item.square) {
      svg.add("<rect x=\"", f1(x), "\" y=\"", f1(y - 9), "\" width=\"10\" height=\"10\" ", paint, "/>\n");
    } else {
      svg.add("<circle cx=\"", f1(x + 5), "\" cy=\"", f1(y - 4), "\" r=\"4\" ", paint, "/>\n");
    }
    svg.text(x + 14, y, item.text);
  }
}

// ---- Point binning --------------------------------------------------------------------------------

std::vector<Mark> bin_points(std::vector<std::pair<double, double>> points, const Scale& sx, const Scale& sy,
                             size_t max_marks) {
  std::sort(points.begin(), points.end());
  std::vector<Mark> exact;
  for (const auto& [x, y] : points) {
    if (!exact.empty() && exact.back().x == x && exact.back().y == y) {
      ++exact.back().n;
    } else {
      exact.push_back({x, y, 1, x, x, y, y});
    }
  }
  std::vector<Mark> marks = exact;
  for (double cell = 2; marks.size() > max_marks; cell *= 1.5) {
    std::map<std::pair<int64_t, int64_t>, Mark> grid;
    for (const Mark& m : exact) {
      const std::pair<int64_t, int64_t> key{static_cast<int64_t>(std::floor(sx(m.x) / cell)),
                                            static_cast<int64_t>(std::floor(sy(m.y) / cell))};
      Mark& g = grid.try_emplace(key, Mark{0, 0, 0, m.x, m.x, m.y, m.y}).first->second;
      const auto w = static_cast<double>(m.n);
      g.x += m.x * w;
      g.y += m.y * w;
      g.n += m.n;
      g.x_lo = std::min(g.x_lo, m.x_lo);
      g.x_hi = std::max(g.x_hi, m.x_hi);
      g.y_lo = std::min(g.y_lo, m.y_lo);
      g.y_hi = std::max(g.y_hi, m.y_hi);
    }
    marks.clear();
    for (auto& [key, g] : grid) {
      g.x /= static_cast<double>(g.n);
      g.y /= static_cast<double>(g.n);
      marks.push_back(g);
    }
  }
  // Largest first, so that small marks stay visible on top.
  std::stable_sort(marks.begin(), marks.end(), [](const Mark& a, const Mark& b) { return a.n > b.n; });
  return marks;
}

}  // namespace svg
}  // namespace saediff
