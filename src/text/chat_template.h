#pragma once
// The Llama 3.1 chat template as the reference applies it: the response as an assistant message with
// the template's default system header, content trimmed of surrounding whitespace.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer.h"

namespace saediff {

enum class ChatTemplate { none, llama3 };

ChatTemplate parse_chat_template(std::string_view name);  // "none" | "llama3"; throws otherwise

// "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: ...
//  <|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{trimmed content}<|eot_id|>"
std::string render_llama3_assistant(std::string_view content);

// A tokenized document and where its content lies: ids[content_begin, content_end) are the
// response's own tokens; the 30 template tokens before and the closing <|eot_id|> are outside.
struct TemplatedDoc {
  std::vector<int32_t> ids;  // [n_token]
  int32_t content_begin = 0;
  int32_t content_end = 0;
};

TemplatedDoc tokenize_document(const Tokenizer& tokenizer, std::string_view content, ChatTemplate tmpl);

// tokenize_document for many documents, on up to n_threads threads (0: every core).
std::vector<TemplatedDoc> tokenize_documents(const Tokenizer& tokenizer, std::span<const std::string_view> contents,
                                             ChatTemplate tmpl, int n_threads = 0);

}  // namespace saediff
