#include "analysis/labeling.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "analysis/evidence.h"
#include "analysis/labels.h"
#include "collect/ask.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "io/json_text.h"
#include "io/prompts.h"
#include "io/responses.h"
#include "text/utf8.h"

namespace saediff {
namespace {

namespace fs = std::filesystem;

struct Example {
  const EncodedSet* set = nullptr;
  size_t row = 0;
  std::string text;  // the window, marked (positives shown for labelling) or plain
};

// Per feature: positives (strongest documents over all sets) and negatives (documents where the feature
// never fires), each split into shown and held-out examples.
struct FeatureExamples {
  int32_t feature = -1;
  std::string original;
  std::vector<Example> positives, negatives, held_pos, held_neg;
};

FeatureExamples pick_examples(const EncodedFile& file, int32_t feature, const LabelConfig& c) {
  FeatureExamples ex;
  ex.feature = feature;
  std::vector<std::pair<float, std::pair<const EncodedSet*, size_t>>> strongest;
  std::vector<std::pair<const EncodedSet*, size_t>> inactive;
  const int n_pos = c.positives + c.held_out;
  for (const EncodedSet& set : file.sets) {
    for (const EvidenceDoc& e : top_documents(set, feature, n_pos)) strongest.push_back({e.max, {&set, e.row}});
    for (size_t r : inactive_rows(set, feature)) inactive.emplace_back(&set, r);
  }
  std::stable_sort(strongest.begin(), strongest.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  // Seeded per feature, so that adding features to a run does not change another feature's sample.
  std::mt19937_64 rng(c.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(feature));
  std::shuffle(inactive.begin(), inactive.end(), rng);
  // Held-out positives alternate with shown ones, so both cover the range of strengths.
  for (size_t i = 0; i < strongest.size() && static_cast<int>(i) < n_pos; ++i) {
    const auto [set, row] = strongest[i].second;
    const bool held = static_cast<int>(ex.held_pos.size()) < c.held_out && (i % 2 == 1 || static_cast<int>(ex.positives.size()) >= c.positives);
    const TokenWindow w = token_window(*set, row, feature, c.window);
    (held ? ex.held_pos : ex.positives).push_back({set, row, window_text(w, !held)});
  }
  for (size_t i = 0; i < inactive.size() && static_cast<int>(i) < c.negatives + c.held_out; ++i) {
    const auto [set, row] = inactive[i];
    const int64_t n_tok = set->tokens.empty() ? 0 : set->tokens.indptr[row + 1] - set->tokens.indptr[row];
    const auto centre = static_cast<int64_t>(rng() % static_cast<uint64_t>(std::max<int64_t>(n_tok, 1)));
    const TokenWindow w = token_window(*set, row, feature, c.window, centre);
    (static_cast<int>(ex.negatives.size()) < c.negatives ? ex.negatives : ex.held_neg).push_back({set, row, window_text(w, false)});
  }
  return ex;
}

std::string label_prompt(const FeatureExamples& ex) {
  std::ostringstream p;
  p << "[saediff-autointerp label] You are labelling one feature of a sparse autoencoder trained on a language model's "
       "activations. Below are text excerpts where the feature is active, with the active tokens marked as "
       "⟦tokens|activation⟧, and excerpts where it never fires.\n\nDescribe in a few words what the feature responds to: "
       "specific enough to tell the positive excerpts from the negative ones. Answer with JSON only: "
       "{\"label\": \"<at most 8 words>\", \"explanation\": \"<one sentence>\"}\n\n## Active\n";
  for (size_t i = 0; i < ex.positives.size(); ++i) p << "\n=== excerpt " << i + 1 << " ===\n" << ex.positives[i].text << "\n";
  p << "\n## Never active\n";
  for (size_t i = 0; i < ex.negatives.size(); ++i) p << "\n=== excerpt " << i + 1 << " ===\n" << ex.negatives[i].text << "\n";
  return p.str();
}

// The held-out examples in a seeded order; `truth[i]` says whether example i is a positive.
std::string score_prompt(const FeatureExamples& ex, const std::string& label, uint64_t seed, std::vector<bool>& truth) {
  std::vector<std::pair<const Example*, bool>> all;
  for (const Example& e : ex.held_pos) all.emplace_back(&e, true);
  for (const Example& e : ex.held_neg) all.emplace_back(&e, false);
  std::mt19937_64 rng(seed * 0xD1B54A32D192ED03ULL + static_cast<uint64_t>(ex.feature));
  std::shuffle(all.begin(), all.end(), rng);
  std::ostringstream p;
  p << "[saediff-autointerp score] A feature of a sparse autoencoder is described as: \"" << label
    << "\".\nFor each numbered excerpt below, decide whether the feature is likely active somewhere in it. Answer with "
       "JSON only: {\"active\": [<numbers of the excerpts where it is active>]}\n";
  truth.clear();
  for (size_t i = 0; i < all.size(); ++i) {
    p << "\n=== excerpt " << i + 1 << " ===\n" << all[i].first->text << "\n";
    truth.push_back(all[i].second);
  }
  return p.str();
}

// The latest answer per prompt id from the labelling model (absent when it failed).
std::map<std::string, std::string> ask(const LabelConfig& c, const std::string& folder,
                                       const std::vector<std::pair<std::string, std::string>>& prompts, int64_t& n_failed) {
  AskResult r = ask_model(c.client, c.labeler, folder, prompts, "labeler");
  n_failed += r.summary.n_failed;
  return std::move(r.answers);
}

}  // namespace

LabelSummary run_label(const LabelConfig& c) {
  SAEDIFF_CHECK(!c.encoded.empty() && !c.features.empty() && !c.out.empty(), "label needs --encoded, --features and --out");
  SAEDIFF_CHECK(!c.labeler.empty(), "label needs --labeler MODEL_ID (the model that writes the labels)");
  SAEDIFF_CHECK(c.top > 0 && c.positives > 0 && c.negatives > 0 && c.held_out >= 0 && c.window > 0,
                "label: --top, --positives, --negatives and --window must be > 0, --held-out >= 0");
  SAEDIFF_CHECK(!c.score || c.held_out > 0, "--score needs --held-out > 0");
  check_output_path(c.out, OutputKind::folder, "label --out");
  const EncodedFile file = read_encoded_h5(c.encoded);
  for (const EncodedSet& s : file.sets) {
    SAEDIFF_CHECK(s.texts.size() == s.doc_ids.size(), c.encoded, ": set '", s.name,
                  "' has no document text (written by an older saediff): encode again to label");
  }
  // The features to label, and their original labels, from features.csv.
  std::ifstream in(c.features, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot open '", c.features, "'");
  std::stringstream buf;
  buf << in.rdbuf();
  const auto rows = parse_csv(buf.str());
  SAEDIFF_CHECK(!rows.empty(), c.features, " is empty");
  const auto col = [&](const char* name) {
    const auto it = std::find(rows[0].begin(), rows[0].end(), name);
    SAEDIFF_CHECK(it != rows[0].end(), c.features, " has no '", name, "' column: not a features.csv from saediff diff");
    return static_cast<size_t>(it - rows[0].begin());
  };
  const size_t c_feature = col("feature"), c_label = col("label");
  std::vector<FeatureExamples> features;
  for (size_t i = 1; i < rows.size() && static_cast<int>(features.size()) < c.top; ++i) {
    const int32_t f = std::stoi(rows[i].at(c_feature));
    SAEDIFF_CHECK(f >= 0 && f < file.d_sae, c.features, ": feature ", f, " is outside the encoded file's SAE");
    FeatureExamples ex = pick_examples(file, f, c);
    ex.original = rows[i].at(c_label);
    features.push_back(std::move(ex));
  }
  const OutputLock lock(c.out, "label --out");
  LabelSummary summary;
  summary.n_features = static_cast<int64_t>(features.size());

  std::vector<std::pair<std::string, std::string>> prompts;
  for (const FeatureExamples& ex : features) prompts.emplace_back(cat("f", ex.feature), label_prompt(ex));
  const auto answers = ask(c, (fs::path(c.out) / "requests").string(), prompts, summary.n_failed);

  LlmLabels out;
  out.model = c.labeler;
  std::vector<std::pair<std::string, std::string>> score_prompts;
  std::map<int32_t, std::vector<bool>> truths;
  for (const FeatureExamples& ex : features) {
    LlmLabel l;
    l.feature = ex.feature;
    l.original = ex.original;
    const auto it = answers.find(cat("f", ex.feature));
    if (it == answers.end()) {
      log_warn("label: no answer for feature ", ex.feature, " (the request failed; run again to retry)");
      continue;
    }
    const nlohmann::json j = extract_json_object(it->second);
    if (j.is_discarded() || !j.contains("label") || !j["label"].is_string() || j["label"].get<std::string>().empty()) {
      log_warn("label: feature ", ex.feature, ": the answer holds no {\"label\": ...} JSON: ",
               to_valid_utf8(std::string_view(it->second).substr(0, 200)));
      ++summary.n_unparsed;
      continue;
    }
    l.label = j["label"].get<std::string>();
    if (j.contains("explanation") && j["explanation"].is_string()) l.explanation = j["explanation"].get<std::string>();
    ++summary.n_labelled;
    if (c.score) {
      std::vector<bool>& truth = truths[ex.feature];
      score_prompts.emplace_back(cat("s", ex.feature), score_prompt(ex, l.label, c.seed, truth));
    }
    out.features.push_back(std::move(l));
  }
  if (c.score && !score_prompts.empty()) {
    const auto scored = ask(c, (fs::path(c.out) / "score-requests").string(), score_prompts, summary.n_failed);
    for (LlmLabel& l : out.features) {
      const auto it = scored.find(cat("s", l.feature));
      if (it == scored.end()) continue;
      const nlohmann::json j = extract_json_object(it->second);
      if (j.is_discarded() || !j.contains("active") || !j["active"].is_array()) {
        log_warn("label: feature ", l.feature, ": the scoring answer holds no {\"active\": [...]} JSON");
        ++summary.n_unparsed;
        continue;
      }
      const std::vector<bool>& truth = truths[l.feature];
      std::vector<bool> said(truth.size(), false);
      for (const auto& v : j["active"]) {
        if (v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= static_cast<int64_t>(truth.size()))
          said[static_cast<size_t>(v.get<int64_t>() - 1)] = true;
      }
      int64_t right = 0;
      for (size_t i = 0; i < truth.size(); ++i) right += said[i] == truth[i] ? 1 : 0;
      l.n_scored = static_cast<int64_t>(truth.size());
      l.score = truth.empty() ? -1.0 : static_cast<double>(right) / static_cast<double>(truth.size());
    }
  }
  fs::create_directories(c.out);
  write_llm_labels((fs::path(c.out) / "llm_labels.json").string(), out);
  log_info("label: ", summary.n_labelled, " of ", summary.n_features, " features labelled by ", c.labeler, " (",
           summary.n_unparsed, " unusable answers, ", summary.n_failed, " failed requests); wrote ",
           (fs::path(c.out) / "llm_labels.json").string());
  return summary;
}

}  // namespace saediff
