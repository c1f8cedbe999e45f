#pragma once
// A report as a list of blocks, rendered to Markdown and to a self-contained HTML page from the same
// content. Inline text is Markdown-like: **bold** and `code` only; everything else is literal.
#include <string>
#include <vector>

#include "analysis/evidence.h"

namespace saediff {

class ReportDoc {
 public:
  void heading(int level, const std::string& text, const std::string& anchor = "");
  void paragraph(const std::string& text);
  void bullets(const std::vector<std::string>& items);
  void note(const std::string& text);  // a call-out: Markdown blockquote, HTML highlighted box
  // align: one char per column, 'l' or 'r'.
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
             const std::string& align);
  void figure(const std::string& file, const std::string& svg, const std::string& caption);  // md links, html inlines
  // A document excerpt with the spans where a feature fires marked: Markdown ⟦text|value⟧, HTML <mark>
  // shaded by value / scale.
  void excerpt(const std::string& title, const TokenWindow& window, float scale);
  void code(const std::string& text);

  std::string markdown() const;
  std::string html(const std::string& title) const;

 private:
  struct Block {
    enum Kind { heading, paragraph, bullets, note, table, figure, excerpt, code } kind = paragraph;
    int level = 0;
    std::string text, anchor, file, svg, align;
    std::vector<std::string> items;
    std::vector<std::vector<std::string>> rows;
    TokenWindow window;
    float scale = 1.0f;
  };
  Block& add(Block::Kind kind, const std::string& text);
  std::vector<Block> blocks_;
};

std::string html_escape(const std::string& text);
std::string md_escape(const std::string& text);  // for table cells and inline text: | * ` _ [ and newlines

}  // namespace saediff
