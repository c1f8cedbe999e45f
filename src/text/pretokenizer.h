#pragma once
// tokenizer.json's "pre_tokenizer": how text between added tokens is cut into pre-tokens before BPE.
// Supported, with HF tokenizers' semantics: Split (Regex or String pattern; behavior Isolated or Removed;
// not inverted), ByteLevel (add_prefix_space, use_regex with GPT-2's pattern), and a Sequence of these.
// Anything else is refused at load with its name.
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "text/regex.h"

namespace saediff {

class PreTokenizer {
 public:
  // `pre` may be null (the whole segment is one pre-token). `source` names the file in errors.
  static PreTokenizer from_json(const nlohmann::json& pre, const std::string& source);

  // Appends the pre-tokens of `text` to `pieces`. A piece views `text`, or a string in `arena` where a
  // step rewrote it (ByteLevel's add_prefix_space); both must outlive the pieces.
  void split(std::string_view text, std::vector<std::string_view>& pieces, std::deque<std::string>& arena) const;

 private:
  struct Step {
    std::shared_ptr<const Regex> regex;  // null: no split
    bool remove_matches = false;         // Split behavior "Removed": matches are dropped, not kept
    bool add_prefix_space = false;       // ByteLevel: a piece not starting with ' ' gets one
    bool regex_after = false;            // a later step splits with a regex too
  };
  void apply(size_t step, std::string_view piece, std::vector<std::string_view>& pieces,
             std::deque<std::string>& arena) const;

  std::vector<Step> steps_;
};

}  // namespace saediff
