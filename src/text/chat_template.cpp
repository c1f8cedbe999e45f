#include "text/chat_template.h"

#include "core/error.h"
#include "core/parallel.h"
#include "text/utf8.h"

namespace saediff {
namespace {

constexpr std::string_view kPrefix =
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
    "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n";
constexpr std::string_view kSuffix = "<|eot_id|>";

// Python's str.strip(): removes Unicode whitespace (and the ASCII separators 0x1C-0x1F) at both ends.
std::string_view strip(std::string_view s) {
  size_t begin = 0, end = s.size();
  while (begin < end) {
    const size_t n = utf8_length(static_cast<unsigned char>(s[begin]));
    if (!is_unicode_space(decode_utf8_first(s.substr(begin, n)))) break;
    begin += n;
  }
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    if (!is_unicode_space(decode_utf8_first(s.substr(start, end - start)))) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

}  // namespace

ChatTemplate parse_chat_template(std::string_view name) {
  if (name == "none") return ChatTemplate::none;
  if (name == "llama3") return ChatTemplate::llama3;
  SAEDIFF_FAIL("unknown chat template '", name, "': expected none or llama3");
}

std::string render_llama3_assistant(std::string_view content) {
  std::string out(kPrefix);
  out += strip(content);
  out += kSuffix;
  return out;
}

namespace {

TemplatedDoc tokenize_with_prefix(const Tokenizer& tokenizer, std::string_view content, ChatTemplate tmpl,
                                  const std::vector<int32_t>& prefix) {
  TemplatedDoc doc;
  if (tmpl == ChatTemplate::none) {
    doc.ids = tokenizer.encode(content);
    doc.content_end = static_cast<int32_t>(doc.ids.size());
    return doc;
  }
  const size_t bad = find_invalid_utf8(content);
  SAEDIFF_CHECK(bad == std::string_view::npos, "response is not valid UTF-8 (byte offset ", bad, ")");
  doc.ids = tokenizer.encode(render_llama3_assistant(content));
  SAEDIFF_CHECK(doc.ids.size() >= prefix.size() + 1 && std::equal(prefix.begin(), prefix.end(), doc.ids.begin()),
                "the chat-template prefix did not tokenize as a prefix of the document");
  doc.content_begin = static_cast<int32_t>(prefix.size());
  doc.content_end = static_cast<int32_t>(doc.ids.size()) - 1;  // before the closing <|eot_id|>
  return doc;
}

}  // namespace

TemplatedDoc tokenize_document(const Tokenizer& tokenizer, std::string_view content, ChatTemplate tmpl) {
  const std::vector<int32_t> prefix = tmpl == ChatTemplate::llama3 ? tokenizer.encode(kPrefix) : std::vector<int32_t>{};
  return tokenize_with_prefix(tokenizer, content, tmpl, prefix);
}

std::vector<TemplatedDoc> tokenize_documents(const Tokenizer& tokenizer, std::span<const std::string_view> contents,
                                             ChatTemplate tmpl, int n_threads) {
  const std::vector<int32_t> prefix = tmpl == ChatTemplate::llama3 ? tokenizer.encode(kPrefix) : std::vector<int32_t>{};
  std::vector<TemplatedDoc> docs(contents.size());
  parallel_for(contents.size(), n_threads,
               [&](size_t i) { docs[i] = tokenize_with_prefix(tokenizer, contents[i], tmpl, prefix); });
  return docs;
}

}  // namespace saediff
