#include "analysis/labels.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "io/hf_cache.h"
#include "io/json_text.h"
#include "io/prompts.h"

namespace saediff {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot open labels file '", path, "'");
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

int64_t parse_feature_id(const std::string& text, const std::string& where, int64_t d_sae) {
  size_t used = 0;
  int64_t f = -1;
  try {
    f = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  SAEDIFF_CHECK(used == text.size() && !text.empty(), where, ": feature id '", text, "' is not an integer");
  SAEDIFF_CHECK(f >= 0 && f < d_sae, where, ": feature ", f, " is outside [0, ", d_sae,
                "): these labels belong to a different SAE");
  return f;
}

void read_json_labels(const std::string& path, const std::string& text, std::vector<std::string>& labels) {
  JsonRepairCounts repairs;
  const nlohmann::json j = parse_json_lossy(text, repairs);
  SAEDIFF_CHECK(!j.is_discarded(), "labels file '", path, "' is not valid JSON");
  SAEDIFF_CHECK(j.is_object(), "labels file '", path, "' must hold a JSON object {\"<feature id>\": \"label\", ...}");
  for (const auto& [key, value] : j.items()) {
    const int64_t f = parse_feature_id(key, path, static_cast<int64_t>(labels.size()));
    SAEDIFF_CHECK(value.is_string() || value.is_null(), path, ": the label of feature ", key, " is not a string");
    labels[static_cast<size_t>(f)] = value.is_string() ? value.get<std::string>() : "";
  }
}

void read_csv_labels(const std::string& path, const std::string& text, std::vector<std::string>& labels) {
  const auto rows = parse_csv(text);
  SAEDIFF_CHECK(!rows.empty(), "labels file '", path, "' is empty");
  const auto& header = rows[0];
  const auto col = [&](const char* name) {
    const auto it = std::find(header.begin(), header.end(), name);
    SAEDIFF_CHECK(it != header.end(), "labels file '", path, "' has no '", name, "' column");
    return static_cast<size_t>(it - header.begin());
  };
  const size_t c_feature = col("feature"), c_label = col("label");
  for (size_t i = 1; i < rows.size(); ++i) {
    SAEDIFF_CHECK(rows[i].size() > std::max(c_feature, c_label), path, ": row ", i + 1, " has too few columns");
    const int64_t f = parse_feature_id(rows[i][c_feature], cat(path, ": row ", i + 1), static_cast<int64_t>(labels.size()));
    labels[static_cast<size_t>(f)] = rows[i][c_label];
  }
}

}  // namespace

FeatureLabels load_feature_labels(const std::string& spec, int64_t d_sae) {
  FeatureLabels out;
  out.labels.assign(static_cast<size_t>(d_sae), "");
  if (spec.empty() || spec == "none") {
    out.missing_reason = spec.empty() ? "no labels were given: pass --labels FILE.json|FILE.csv, or --labels hf for "
                                        "Goodfire's labels from the local Hugging Face cache"
                                      : "labels turned off (--labels none)";
    return out;
  }
  std::string path = spec;
  if (spec == "hf") {
    const HfCacheLookup found = find_in_hf_cache(kGoodfireLabelsRepo, kGoodfireLabelsFile);
    std::string where;
    for (const std::string& s : found.searched) where += "\n  " + s;
    SAEDIFF_CHECK(!found.path.empty(), "--labels hf: Goodfire's labels (", kGoodfireLabelsRepo, ": ", kGoodfireLabelsFile,
                  ") are not in the Hugging Face cache; searched:", where,
                  "\nDownload them on a machine with network access (huggingface-cli download ", kGoodfireLabelsRepo, " ",
                  kGoodfireLabelsFile, ") or pass --labels FILE");
    path = found.path;
  }
  const std::string text = read_text(path);
  const size_t first = text.find_first_not_of(" \t\r\n");
  SAEDIFF_CHECK(first != std::string::npos, "labels file '", path, "' is empty");
  if (text[first] == '{') read_json_labels(path, text, out.labels);
  else read_csv_labels(path, text, out.labels);
  out.source = path;
  for (const std::string& l : out.labels) out.n_labelled += l.empty() ? 0 : 1;
  SAEDIFF_CHECK(out.n_labelled > 0, "labels file '", path, "' holds no labels");
  return out;
}

LlmLabels read_llm_labels(const std::string& path) {
  const std::string text = read_text(path);
  LlmLabels out;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    out.model = j.at("model").get<std::string>();
    for (const auto& f : j.at("features")) {
      LlmLabel l;
      l.feature = f.at("feature").get<int32_t>();
      l.label = f.at("label").get<std::string>();
      l.explanation = f.value("explanation", "");
      l.original = f.value("original", "");
      l.score = f.value("score", -1.0);
      l.n_scored = f.value("n_scored", int64_t{0});
      out.features.push_back(std::move(l));
    }
  } catch (const nlohmann::json::exception& e) {
    SAEDIFF_FAIL("'", path, "' is not an llm_labels.json written by `saediff label`: ", e.what());
  }
  return out;
}

void write_llm_labels(const std::string& path, const LlmLabels& labels) {
  nlohmann::json features = nlohmann::json::array();
  for (const LlmLabel& l : labels.features) {
    nlohmann::json f = {{"feature", l.feature}, {"label", l.label}, {"explanation", l.explanation}, {"original", l.original}};
    if (l.score >= 0) {
      f["score"] = l.score;
      f["n_scored"] = l.n_scored;
    }
    features.push_back(f);
  }
  write_file_atomic(path, nlohmann::json{{"model", labels.model}, {"features", features}}.dump(2) + "\n");
}

}  // namespace saediff
