#pragma once
// `saediff search`: what a feature reads. For a feature id, or every feature whose label contains a text, the
// documents of each set where it is strongest, with the tokens where it fires marked, straight from
// encoded.h5: printed, and optionally written as Markdown or HTML.
#include <cstdint>
#include <string>
#include <vector>

namespace saediff {

struct SearchConfig {
  std::string encoded;
  int32_t feature = -1;           // --feature ID
  std::string label;              // --label TEXT: case-insensitive substring of the labels
  std::string labels;             // the labels searched (and shown): as diff's --labels (FILE, hf)
  std::vector<std::string> sets;  // sets to show (default: every set in the file)
  int docs = 5;                   // strongest documents per set
  int window = 24;                // tokens either side of a document's strongest token (-1: the whole document)
  int max_features = 10;          // --label matches shown, at most (lowest ids first)
  std::string out;                // FILE.md or FILE.html (optional)
};

struct SearchSummary {
  std::vector<int32_t> features;  // the features shown
  int64_t n_matched = 0;          // features whose label matched (--label)
};

SearchSummary run_search(const SearchConfig& config);

}  // namespace saediff
