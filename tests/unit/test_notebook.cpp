// report/analysis.ipynb: the embedded template filled in is valid nbformat 4 JSON, and any value lands in the
// parameters cell as the Python string literal it should be.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "analysis/notebook.h"

namespace saediff {
namespace {

// The source of the first code cell (the parameters cell), its lines joined.
std::string parameters_cell(const std::string& notebook) {
  const nlohmann::json nb = nlohmann::json::parse(notebook);  // throws on invalid JSON
  EXPECT_EQ(nb.at("nbformat").get<int>(), 4);
  for (const auto& cell : nb.at("cells")) {
    if (cell.at("cell_type") != "code") continue;
    EXPECT_TRUE(cell.at("outputs").empty());
    std::string source;
    for (const auto& line : cell.at("source")) source += line.get<std::string>();
    return source;
  }
  ADD_FAILURE() << "no code cell";
  return {};
}

TEST(Notebook, FillsEveryPlaceholder) {
  const std::string nb = analysis_notebook("../encoded.h5", "features.csv", "gemini_2_0", "gemini_2_5", 0.5);
  for (const char* p : {"@ENCODED@", "@FEATURES@", "@BASELINE@", "@CANDIDATE@", "@THRESHOLD@"}) {
    EXPECT_EQ(nb.find(p), std::string::npos) << p;
  }
  const std::string params = parameters_cell(nb);
  EXPECT_NE(params.find("ENCODED = \"../encoded.h5\"\n"), std::string::npos) << params;
  EXPECT_NE(params.find("FEATURES = \"features.csv\"\n"), std::string::npos) << params;
  EXPECT_NE(params.find("BASELINE = \"gemini_2_0\"\n"), std::string::npos) << params;
  EXPECT_NE(params.find("CANDIDATE = \"gemini_2_5\"\n"), std::string::npos) << params;
  EXPECT_NE(params.find("THRESHOLD = float(\"0.5\")\n"), std::string::npos) << params;
}

TEST(Notebook, EscapesForPythonInsideJson) {
  // A quote, a backslash, a newline and non-ASCII: the Python source must read "a\"b\\c\nü".
  const std::string nb = analysis_notebook("a\"b\\c\n\xC3\xBC", "f.csv", "@CANDIDATE@", "x", 1e-5);
  const std::string params = parameters_cell(nb);
  EXPECT_NE(params.find("ENCODED = \"a\\\"b\\\\c\\n\xC3\xBC\"\n"), std::string::npos) << params;
  EXPECT_NE(params.find("BASELINE = \"@CANDIDATE@\"\n"), std::string::npos) << "substituted twice:\n" << params;
  EXPECT_NE(params.find("THRESHOLD = float(\"1e-05\")\n"), std::string::npos) << params;
  EXPECT_NE(parameters_cell(analysis_notebook("e", "f", "b", "c", 0.1)).find("float(\"0.1\")"), std::string::npos);
}

TEST(Notebook, InvalidUtf8StillGivesValidJson) {
  const std::string params = parameters_cell(analysis_notebook("bad\xFF.h5", "f.csv", "b", "c", 0.0));
  EXPECT_NE(params.find("ENCODED = \"bad\xEF\xBF\xBD.h5\""), std::string::npos) << params;  // U+FFFD
  EXPECT_NE(params.find("THRESHOLD = float(\"0\")"), std::string::npos) << params;
}

}  // namespace
}  // namespace saediff
