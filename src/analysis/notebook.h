#pragma once
// report/analysis.ipynb: the Jupyter notebook `saediff diff` writes beside features.csv, for researchers who
// continue in Python (h5py, pandas; scipy and matplotlib when present). The template, share/analysis.ipynb.in,
// is compiled into the binary (cmake/embed_file.cmake), so the report never needs the source tree.
#include <string>

namespace saediff {

// The notebook's JSON text, its parameters cell filled in: ENCODED and FEATURES are the paths the notebook
// opens (relative ones are relative to the notebook's folder, where Jupyter runs it), BASELINE and CANDIDATE
// the set names, and THRESHOLD the one features.csv was computed with. Any string is safe: values are escaped
// for the Python string literal and then for the JSON string that holds it (invalid UTF-8 becomes U+FFFD).
std::string analysis_notebook(const std::string& encoded_path, const std::string& features_path,
                              const std::string& baseline, const std::string& candidate, double threshold);

}  // namespace saediff
