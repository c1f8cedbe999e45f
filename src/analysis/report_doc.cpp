#include "analysis/report_doc.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace saediff {
namespace {

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

// **bold** and `code` to HTML; the rest escaped.
std::string inline_html(const std::string& text) {
  std::string out;
  bool bold = false, code = false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!code && text.compare(i, 2, "**") == 0) {
      out += bold ? "</strong>" : "<strong>";
      bold = !bold;
      ++i;
    } else if (text[i] == '`') {
      out += code ? "</code>" : "<code>";
      code = !code;
    } else if (text[i] == '\\' && i + 1 < text.size() && std::string("|*`_[]<>\\").find(text[i + 1]) != std::string::npos) {
      out += html_escape(std::string(1, text[++i]));  // md_escape's backslashes
    } else {
      out += html_escape(std::string(1, text[i]));
    }
  }
  if (code) out += "</code>";
  if (bold) out += "</strong>";
  return out;
}

// Text inside an excerpt: Markdown-escaped, newlines kept as line breaks inside the blockquote.
std::string md_excerpt_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += "  \n> ";
    else if (c == '\r') continue;
    else if (std::string("\\`*_[]<>#|").find(c) != std::string::npos) out += std::string("\\") + c;
    else out += c;
  }
  return out;
}

const char* kStyle =
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}"
    "table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;"
    "vertical-align:top}th{background:#f4f4f4}td.r,th.r{text-align:right}"
    "pre{background:#f8f8f8;padding:1em;overflow:auto;font-size:12px}"
    ".note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em;margin:1em 0}"
    ".excerpt{background:#fafafa;border-left:3px solid #bbb;padding:.4em .8em;margin:.4em 0 1em;white-space:pre-wrap;"
    "font-size:13px}.excerpt .t{font-weight:600;font-size:12px;color:#555;display:block;white-space:normal}"
    "mark{padding:0 1px;border-radius:2px}figure{margin:1em 0}figure svg{max-width:100%;height:auto}"
    "figcaption{font-size:12px;color:#555}"
    "h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}";

}  // namespace

std::string html_escape(const std::string& in) {
  std::string out;
  for (char c : in) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r') out += ' ';
    else if (std::string("|*`_[]<>\\").find(c) != std::string::npos) out += std::string("\\") + c;
    else out += c;
  }
  return out;
}

ReportDoc::Block& ReportDoc::add(Block::Kind kind, const std::string& text) {
  blocks_.emplace_back();
  blocks_.back().kind = kind;
  blocks_.back().text = text;
  return blocks_.back();
}

void ReportDoc::heading(int level, const std::string& text, const std::string& anchor) {
  Block& b = add(Block::heading, text);
  b.level = level;
  b.anchor = anchor;
}
void ReportDoc::paragraph(const std::string& text) { add(Block::paragraph, text); }
void ReportDoc::bullets(const std::vector<std::string>& items) { add(Block::bullets, "").items = items; }
void ReportDoc::note(const std::string& text) { add(Block::note, text); }
void ReportDoc::table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                      const std::string& align) {
  Block& b = add(Block::table, "");
  b.items = header;
  b.rows = rows;
  b.align = align;
}
void ReportDoc::figure(const std::string& file, const std::string& svg, const std::string& caption) {
  Block& b = add(Block::figure, caption);
  b.file = file;
  b.svg = svg;
}
void ReportDoc::excerpt(const std::string& title, const TokenWindow& window, float scale) {
  Block& b = add(Block::excerpt, title);
  b.window = window;
  b.scale = scale > 0 ? scale : 1.0f;
}
void ReportDoc::code(const std::string& text) { add(Block::code, text); }

std::string ReportDoc::markdown() const {
  std::ostringstream md;
  for (const Block& b : blocks_) {
    switch (b.kind) {
      case Block::heading:
        md << std::string(static_cast<size_t>(b.level), '#') << ' ' << b.text << "\n\n";
        break;
      case Block::paragraph:
        md << b.text << "\n\n";
        break;
      case Block::bullets:
        for (const std::string& item : b.items) md << "- " << item << '\n';
        md << '\n';
        break;
      case Block::note:
        md << "> " << b.text << "\n\n";
        break;
      case Block::table: {
        md << '|';
        for (const std::string& h : b.items) md << ' ' << h << " |";
        md << "\n|";
        for (size_t c = 0; c < b.items.size(); ++c) md << (c < b.align.size() && b.align[c] == 'r' ? "---:|" : "---|");
        md << '\n';
        for (const auto& row : b.rows) {
          md << '|';
          for (const std::string& cell : row) md << ' ' << (cell.empty() ? " " : cell) << " |";
          md << '\n';
        }
        if (b.rows.empty()) md << "| (none) |" << std::string(b.items.size() > 1 ? b.items.size() - 1 : 0, '|') << '\n';
        md << '\n';
        break;
      }
      case Block::figure:
        md << "![" << md_escape(b.text) << "](" << b.file << ")\n\n*" << b.text << "*\n\n";
        break;
      case Block::excerpt: {
        md << "> **" << b.text << "**  \n> " << (b.window.cut_before ? "… " : "");
        for (const TextSpan& s : b.window.spans) {
          if (s.value > 0) md << "⟦" << md_excerpt_text(s.text) << '|' << fixed2(s.value) << "⟧";
          else md << md_excerpt_text(s.text);
        }
        md << (b.window.cut_after ? " …" : "") << "\n\n";
        break;
      }
      case Block::code:
      {
        // A fence longer than any run of backticks in the text (CommonMark), so that quoted answers with their
        // own code fences stay inside the block.
        size_t longest = 0, run = 0;
        for (char ch : b.text) longest = std::max(longest, run = ch == '`' ? run + 1 : 0);
        const std::string fence(std::max<size_t>(3, longest + 1), '`');
        md << fence << "\n" << b.text << (b.text.empty() || b.text.back() != '\n' ? "\n" : "") << fence << "\n\n";
      }
        break;
    }
  }
  return md.str();
}

std::string ReportDoc::html(const std::string& title) const {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    << "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>" << html_escape(title)
    << "</title>\n<style>" << kStyle << "</style></head><body>\n";
  for (const Block& b : blocks_) {
    switch (b.kind) {
      case Block::heading:
        h << "<h" << b.level << (b.anchor.empty() ? "" : " id=\"" + html_escape(b.anchor) + "\"") << '>'
          << inline_html(b.text) << "</h" << b.level << ">\n";
        break;
      case Block::paragraph:
        h << "<p>" << inline_html(b.text) << "</p>\n";
        break;
      case Block::bullets:
        h << "<ul>";
        for (const std::string& item : b.items) h << "<li>" << inline_html(item) << "</li>";
        h << "</ul>\n";
        break;
      case Block::note:
        h << "<div class=\"note\">" << inline_html(b.text) << "</div>\n";
        break;
      case Block::table: {
        const auto cls = [&](size_t c) { return c < b.align.size() && b.align[c] == 'r' ? " class=\"r\"" : ""; };
        h << "<table><tr>";
        for (size_t c = 0; c < b.items.size(); ++c) h << "<th" << cls(c) << '>' << inline_html(b.items[c]) << "</th>";
        h << "</tr>\n";
        for (const auto& row : b.rows) {
          h << "<tr>";
          for (size_t c = 0; c < row.size(); ++c) h << "<td" << cls(c) << '>' << inline_html(row[c]) << "</td>";
          h << "</tr>\n";
        }
        if (b.rows.empty()) h << "<tr><td colspan=\"" << b.items.size() << "\">(none)</td></tr>\n";
        h << "</table>\n";
        break;
      }
      case Block::figure:
        h << "<figure>" << b.svg << "<figcaption>" << inline_html(b.text) << "</figcaption></figure>\n";
        break;
      case Block::excerpt: {
        h << "<div class=\"excerpt\"><span class=\"t\">" << inline_html(b.text) << "</span>"
          << (b.window.cut_before ? "… " : "");
        for (const TextSpan& s : b.window.spans) {
          if (s.value > 0) {
            const double alpha = 0.15 + 0.75 * std::min(1.0, static_cast<double>(s.value / b.scale));
            char style[64];
            std::snprintf(style, sizeof(style), "background:rgba(230,126,34,%.2f)", alpha);
            h << "<mark style=\"" << style << "\" title=\"" << fixed2(s.value) << "\">" << html_escape(s.text) << "</mark>";
          } else {
            h << html_escape(s.text);
          }
        }
        h << (b.window.cut_after ? " …" : "") << "</div>\n";
        break;
      }
      case Block::code:
        h << "<pre>" << html_escape(b.text) << "</pre>\n";
        break;
    }
  }
  h << "</body></html>\n";
  return h.str();
}

}  // namespace saediff
