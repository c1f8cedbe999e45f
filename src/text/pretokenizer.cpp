#include "text/pretokenizer.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace saediff {
namespace {

// HF's ByteLevel pre-tokenizer pattern (GPT-2's), applied when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

thread_local std::vector<Span> t_spans;

}  // namespace

PreTokenizer PreTokenizer::from_json(const nlohmann::json& pre, const std::string& source) {
  PreTokenizer p;
  if (pre.is_null()) return p;
  std::vector<const nlohmann::json*> flat;
  if (pre.value("type", "") == "Sequence") {
    SAEDIFF_CHECK(pre.contains("pretokenizers") && pre["pretokenizers"].is_array(), source,
                  ": a Sequence pre-tokenizer needs a \"pretokenizers\" array");
    for (const auto& s : pre["pretokenizers"]) flat.push_back(&s);
  } else {
    flat.push_back(&pre);
  }
  for (const nlohmann::json* s : flat) {
    SAEDIFF_CHECK(s->is_object(), source, ": a pre-tokenizer must be an object");
    const std::string type = s->value("type", "");
    Step step;
    if (type == "Split") {
      const std::string behavior = s->value("behavior", "");
      SAEDIFF_CHECK(behavior == "Isolated" || behavior == "Removed", source, ": Split behavior '", behavior,
                    "' is not supported (Isolated and Removed are)");
      SAEDIFF_CHECK(!s->value("invert", false), source, ": an inverted Split pre-tokenizer is not supported");
      const auto& pattern = s->at("pattern");
      const bool literal = !pattern.contains("Regex");
      SAEDIFF_CHECK(!literal || pattern.contains("String"), source,
                    ": a Split pattern must be {\"Regex\": ...} or {\"String\": ...}");
      try {
        step.regex = std::make_shared<Regex>(pattern.at(literal ? "String" : "Regex").get<std::string>(), literal);
      } catch (const Error& e) {
        SAEDIFF_FAIL(source, ": ", e.what());
      }
      step.remove_matches = behavior == "Removed";
    } else if (type == "ByteLevel") {
      // Every piece becomes bytes in the BPE model either way; here only the splitting matters.
      step.add_prefix_space = s->value("add_prefix_space", true);
      if (s->value("use_regex", true)) step.regex = std::make_shared<Regex>(kGpt2Pattern, /*literal=*/false);
    } else {
      SAEDIFF_FAIL(source, ": pre-tokenizer type '", type,
                   "' is not supported (saediff supports Split, ByteLevel and Sequence of them)");
    }
    p.steps_.push_back(std::move(step));
  }
  for (size_t i = p.steps_.size(); i-- > 1;)
    p.steps_[i - 1].regex_after = p.steps_[i].regex_after || p.steps_[i].regex != nullptr;
  return p;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces,
                         std::deque<std::string>& arena) const {
  if (text.empty()) return;
  apply(0, text, pieces, arena);
}

void PreTokenizer::apply(size_t step, std::string_view piece, std::vector<std::string_view>& pieces,
                         std::deque<std::string>& arena) const {
  if (step == steps_.size()) {
    pieces.push_back(piece);
    return;
  }
  const Step& s = steps_[step];
  if (s.add_prefix_space && piece.front() != ' ') {
    arena.push_back(" " + std::string(piece));
    piece = arena.back();
  }
  if (!s.regex) {
    apply(step + 1, piece, pieces, arena);
    return;
  }
  std::vector<Span>& spans = t_spans;
  const auto emit = [&](const std::vector<Span>& list) {
    for (const Span& sp : list) {
      if (s.remove_matches && sp.is_match) continue;
      apply(step + 1, piece.substr(sp.begin, sp.end - sp.begin), pieces, arena);
    }
  };
  spans.clear();
  s.regex->spans(piece, spans);
  if (s.regex_after) {
    emit(std::vector<Span>(spans));  // a later step reuses the thread's buffer: work on a copy
  } else {
    emit(spans);
  }
}

}  // namespace saediff
