#pragma once
// Evidence for a feature: the documents where it is strongest, and the tokens where it fires.
#include <cstdint>
#include <string>
#include <vector>

#include "io/encoded_h5.h"

namespace saediff {

struct EvidenceDoc {
  size_t row = 0;        // row in its set
  std::string doc_id;
  float max = 0.0f;      // the feature's pooled max in this document
};

// The documents of `set` with the highest pooled max for `feature`, strongest first (ties: lower row first).
std::vector<EvidenceDoc> top_documents(const EncodedSet& set, int32_t feature, int k);

// Rows of `set` where `feature`'s pooled max is 0 (never fired), in row order.
std::vector<size_t> inactive_rows(const EncodedSet& set, int32_t feature);

// A piece of a document's text with the feature's activation on it: exact where the file has evidence
// rows for (document, feature), else from the tokens' stored top-k (0 when not among them). Pieces end on UTF-8 character boundaries: a character split over
// tokens is one piece, with the larger activation.
struct TextSpan {
  std::string text;
  float value = 0.0f;
};

struct TokenWindow {
  std::vector<TextSpan> spans;
  bool found = false;            // the feature fires on some token of the document (as far as stored)
  bool exact = false;            // values from the file's evidence rows (every token), not its per-token top-k
  bool cut_before = false;       // text left out before / after the window
  bool cut_after = false;
  float peak = 0.0f;             // the largest stored per-token value of the feature in the document
};

// The window of `radius` tokens either side of the token where `feature` is strongest in row `row` of
// `set`; when the feature is not among any token's top-k (found = false), the window around token
// `centre_if_absent` instead. Without token rows in the file: the whole text, unmarked. radius < 0: the
// whole document.
TokenWindow token_window(const EncodedSet& set, size_t row, int32_t feature, int64_t radius,
                         int64_t centre_if_absent = 0);

// The window as plain text; `marked`: the spans where the feature fires as ⟦text|activation⟧ (what `label`
// and `interpret` show an LLM, and what `search` prints).
std::string window_text(const TokenWindow& window, bool marked);

}  // namespace saediff
