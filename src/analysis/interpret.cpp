#include "analysis/interpret.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "analysis/diff.h"
#include "analysis/evidence.h"
#include "analysis/findings.h"
#include "collect/ask.h"
#include "core/error.h"
#include "core/files.h"
#include "core/hash.h"
#include "core/log.h"
#include "io/encoded_h5.h"
#include "io/json_text.h"
#include "io/prompts.h"
#include "io/responses.h"
#include "text/utf8.h"

namespace saediff {
namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot open '", path, "'");
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", 100 * v);
  return buf;
}

std::string short_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

// What the diff's report says of the run: the two sets, the threshold, and each feature's labels.
struct ReportInfo {
  std::string baseline, candidate;
  double threshold = 0.5;
  std::map<int32_t, std::pair<std::string, std::string>> labels;  // feature -> (label, LLM label)
};

ReportInfo read_report(const std::string& dir) {
  ReportInfo r;
  const std::string summary_path = (fs::path(dir) / "summary.json").string();
  SAEDIFF_CHECK(fs::is_regular_file(summary_path), "interpret --report '", dir, "' holds no summary.json: give the report "
                "folder `saediff diff` wrote (run the diff first)");
  try {
    const nlohmann::json s = nlohmann::json::parse(read_text(summary_path));
    r.baseline = s.at("baseline").at("set").get<std::string>();
    r.candidate = s.at("candidate").at("set").get<std::string>();
    r.threshold = s.at("threshold").get<double>();
  } catch (const nlohmann::json::exception& e) {
    SAEDIFF_FAIL(summary_path, " is not a summary.json written by `saediff diff`: ", e.what());
  }
  const std::string csv_path = (fs::path(dir) / "features.csv").string();
  const auto rows = parse_csv(read_text(csv_path));
  SAEDIFF_CHECK(!rows.empty(), csv_path, " is empty");
  const auto col = [&](const char* name) -> int64_t {
    const auto it = std::find(rows[0].begin(), rows[0].end(), name);
    return it == rows[0].end() ? -1 : it - rows[0].begin();
  };
  const int64_t c_feature = col("feature"), c_label = col("label"), c_llm = col("llm_label");
  SAEDIFF_CHECK(c_feature >= 0 && c_label >= 0, csv_path, " has no feature and label columns: not a features.csv from saediff diff");
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    SAEDIFF_CHECK(row.size() == rows[0].size(), csv_path, ":", i + 1, ": ", row.size(), " fields, the header has ", rows[0].size());
    r.labels[std::stoi(row[static_cast<size_t>(c_feature)])] = {row[static_cast<size_t>(c_label)],
                                                                c_llm >= 0 ? row[static_cast<size_t>(c_llm)] : ""};
  }
  return r;
}

// The prompts of the two sets in responses.jsonl, and each set's successful answers.
struct Answers {
  std::map<std::string, std::pair<std::string, std::string>> prompts;  // id -> (category, prompt)
  std::map<std::string, std::string> baseline, candidate;             // id -> answer
};

Answers read_answers(const std::string& path, const ReportInfo& info) {
  Answers a;
  for (const ResponseRecord& r : latest_outcomes(read_responses(path).records)) {
    if (r.set != info.baseline && r.set != info.candidate) continue;
    a.prompts.emplace(r.prompt_id, std::pair{r.category, r.prompt});
    if (r.ok()) (r.set == info.baseline ? a.baseline : a.candidate)[r.prompt_id] = *r.response;
  }
  SAEDIFF_CHECK(!a.baseline.empty() && !a.candidate.empty(), path, " holds no answers of set '",
                a.baseline.empty() ? info.baseline : info.candidate, "': not the responses the report was made from");
  return a;
}

struct ShownFeature {
  FeatureDiff diff;
  std::string label, llm_label;
  std::vector<std::string> excerpts;  // marked, from the discovery documents of the set where it is more frequent
};

std::string sae_prompt(const InterpretConfig& c, const ReportInfo& info, const std::vector<ShownFeature>& shown,
                       int64_t n_b, int64_t n_c) {
  std::ostringstream p;
  p << "[saediff-interpret propose-sae] You are analysing how the answers of one language model, the candidate (\""
    << info.candidate << "\"), differ from those of another, the baseline (\"" << info.baseline
    << "\"), to the same prompts. A sparse autoencoder read every answer. Below are the features whose frequency (the "
       "share of answers where the feature fires) differs most between the two sets, on "
    << n_c << " candidate and " << n_b << " baseline answers, with their labels and excerpts where they fire; the "
       "tokens where a feature fires are marked ⟦tokens|activation⟧.\n\n"
       "Propose up to " << c.hypotheses << " testable one-sentence hypotheses about how the candidate's answers differ "
       "from the baseline's. State each as a property of the candidate's answers compared with the baseline's (for a "
       "decrease: \"... less often than the baseline's\"). A judge will see one answer of each model to the same prompt, "
       "not told which is which, and say which fits the hypothesis's description of the candidate better. List the "
       "feature ids each hypothesis rests on. Answer with JSON only:\n"
       "{\"hypotheses\": [{\"text\": \"<one sentence>\", \"features\": [<feature ids>]}]}\n\n## Features\n";
  for (const ShownFeature& f : shown) {
    const FeatureDiff& d = f.diff;
    p << "\n=== feature " << d.feature << " ===\nlabel: " << (f.label.empty() ? "(none)" : f.label);
    if (c.use_llm_labels && !f.llm_label.empty()) p << "; LLM label: " << f.llm_label;
    char diff_pp[32];
    std::snprintf(diff_pp, sizeof(diff_pp), "%+.1f pp", 100 * d.diff);
    p << "\nfires in " << pct(d.freq_candidate) << " of candidate answers (" << d.count_candidate << " of " << n_c << ") and "
      << pct(d.freq_baseline) << " of baseline answers (" << d.count_baseline << " of " << n_b << "); diff " << diff_pp
      << ", q = " << short_g(d.q_value) << "\nexcerpts (" << (d.diff > 0 ? "candidate" : "baseline") << "):\n";
    for (const std::string& e : f.excerpts) p << "- " << e << "\n";
  }
  return p.str();
}

std::string baseline_prompt(const InterpretConfig& c, const ReportInfo& info, const Answers& a,
                            const std::vector<std::string>& pair_ids) {
  std::ostringstream p;
  p << "[saediff-interpret propose-baseline] You are analysing how the answers of one language model, the candidate (\""
    << info.candidate << "\"), differ from those of another, the baseline (\"" << info.baseline
    << "\"), to the same prompts. Below are " << pair_ids.size() << " prompts with both models' answers.\n\n"
       "Propose up to " << c.hypotheses << " testable one-sentence hypotheses about how the candidate's answers differ "
       "from the baseline's. State each as a property of the candidate's answers compared with the baseline's (for a "
       "decrease: \"... less often than the baseline's\"). A judge will see one answer of each model to the same prompt, "
       "not told which is which, and say which fits the hypothesis's description of the candidate better. Answer with "
       "JSON only:\n{\"hypotheses\": [{\"text\": \"<one sentence>\", \"features\": []}]}\n\n## Pairs\n";
  for (size_t i = 0; i < pair_ids.size(); ++i) {
    const std::string& id = pair_ids[i];
    p << "\n=== pair " << i + 1 << " ===\nPrompt: " << utf8_head(a.prompts.at(id).second, 600) << "\n--- baseline answer ---\n"
      << utf8_head(a.baseline.at(id), 1500) << "\n--- candidate answer ---\n" << utf8_head(a.candidate.at(id), 1500) << "\n";
  }
  return p.str();
}

std::string judge_prompt(const std::string& hypothesis, const std::string& prompt, const std::string& answer_a,
                         const std::string& answer_b) {
  std::ostringstream p;
  p << "[saediff-interpret judge] A hypothesis about how a candidate model's answers differ from a baseline model's:\n"
       "Hypothesis: " << hypothesis << "\n\n"
       "Below are two answers to the same prompt, one from each model, in no particular order. Which answer fits the "
       "hypothesis's description of the candidate's answers better? Answer \"neither\" when neither fits better than "
       "the other. Answer with JSON only: {\"answer\": \"A\" | \"B\" | \"neither\"}\n\n## Prompt\n"
    << prompt << "\n\n## Answer A\n" << answer_a << "\n\n## Answer B\n" << answer_b << "\n";
  return p.str();
}

// {"hypotheses": [{"text": ..., "features": [...]}]} anywhere in the answer; empty (and `parsed` false) without it.
std::vector<Finding> parse_hypotheses(const std::string& answer, const std::string& source, int max_n, int64_t d_sae,
                                      bool& parsed) {
  std::vector<Finding> out;
  const nlohmann::json j = extract_json_object(answer);
  parsed = !j.is_discarded() && j.is_object() && j.contains("hypotheses") && j["hypotheses"].is_array();
  if (!parsed) return out;
  std::set<std::string> seen;
  for (const nlohmann::json& h : j["hypotheses"]) {
    if (static_cast<int>(out.size()) >= max_n) break;
    if (!h.is_object() || !h.contains("text") || !h["text"].is_string()) continue;
    Finding f;
    f.text = to_valid_utf8(h["text"].get<std::string>());
    if (f.text.empty() || !seen.insert(f.text).second) continue;
    f.source = source;
    if (source == "sae" && h.contains("features") && h["features"].is_array()) {
      for (const nlohmann::json& v : h["features"])
        if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < d_sae) f.features.push_back(v.get<int32_t>());
    }
    f.id = source + "-" + std::to_string(out.size() + 1);
    out.push_back(std::move(f));
  }
  return out;
}

Pick parse_verdict(const std::string& answer, bool candidate_is_a) {
  const nlohmann::json j = extract_json_object(answer);
  if (j.is_discarded() || !j.is_object() || !j.contains("answer") || !j["answer"].is_string()) return Pick::unparsed;
  std::string v = j["answer"].get<std::string>();
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  v.erase(0, v.find_first_not_of(" \t\"'"));
  v.erase(v.find_last_not_of(" \t\"'.") + 1);
  if (v == "a") return candidate_is_a ? Pick::candidate : Pick::baseline;
  if (v == "b") return candidate_is_a ? Pick::baseline : Pick::candidate;
  if (v == "neither") return Pick::neither;
  return Pick::unparsed;
}

// A request's id: a hash of the model id and the whole prompt, so that a rerun on the same folder takes a recorded
// answer only for the very same question to the same model (another seed, pair, answer cut or judge asks anew),
// and two sources that propose the same sentence share its requests.
std::string request_id(const std::string& kind, const std::string& model, const std::string& prompt) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s-%016llx", kind.c_str(),
                static_cast<unsigned long long>(fnv1a64(model + '\n' + prompt)));
  return buf;
}

}  // namespace

InterpretSummary run_interpret(const InterpretConfig& c) {
  SAEDIFF_CHECK(!c.encoded.empty() && !c.report.empty() && !c.responses.empty() && !c.out.empty(),
                "interpret needs --encoded, --report, --responses and --out");
  SAEDIFF_CHECK(!c.proposer.empty() && !c.judge.empty(),
                "interpret needs --proposer MODEL_ID (proposes hypotheses) and --judge MODEL_ID (judges answer pairs)");
  SAEDIFF_CHECK(c.hypotheses > 0 && c.features > 0 && c.excerpts > 0 && c.window > 0 && c.baseline_pairs > 0 &&
                    c.answer_bytes > 0,
                "interpret: --hypotheses, --features, --excerpts, --window, --baseline-pairs and --answer-bytes must be > 0");
  SAEDIFF_CHECK(c.held_out_fraction > 0 && c.held_out_fraction < 1, "--held-out-fraction must be in (0, 1), got ",
                c.held_out_fraction);
  SAEDIFF_CHECK(c.alpha > 0 && c.alpha < 1, "--alpha must be in (0, 1), got ", c.alpha);
  check_output_path(c.out, OutputKind::folder, "interpret --out");
  const ReportInfo info = read_report(c.report);
  const EncodedFile file = read_encoded_h5(c.encoded);
  const EncodedSet& base = file.set(info.baseline);
  const EncodedSet& cand = file.set(info.candidate);
  for (const EncodedSet* s : {&base, &cand}) {
    SAEDIFF_CHECK(s->texts.size() == s->doc_ids.size(), c.encoded, ": set '", s->name,
                  "' has no document text (written by an older saediff): encode again to interpret");
  }
  const Answers answers = read_answers(c.responses, info);
  for (const EncodedSet* s : {&base, &cand}) {
    for (const std::string& id : s->doc_ids) {
      SAEDIFF_CHECK(answers.prompts.count(id), c.encoded, ": document '", id, "' of set '", s->name, "' is not in ",
                    c.responses, ": the encoded file and the responses do not belong together");
    }
  }

  // 1. The split, over every prompt of the two sets (answered or not), stratified by category.
  std::vector<std::string> ids, categories;
  for (const auto& [id, cp] : answers.prompts) {
    ids.push_back(id);
    categories.push_back(cp.first);
  }
  const PromptSplit split = split_prompts(ids, categories, c.held_out_fraction, c.seed);
  const std::set<std::string> discovery(split.discovery.begin(), split.discovery.end());
  Findings findings;
  findings.baseline = info.baseline;
  findings.candidate = info.candidate;
  findings.baseline_model = base.model_id;
  findings.candidate_model = cand.model_id;
  findings.encoded_fingerprint = set_fingerprint(base) + "-" + set_fingerprint(cand);
  findings.proposer = c.proposer;
  findings.judge = c.judge;
  findings.alpha = c.alpha;
  findings.held_out_fraction = c.held_out_fraction;
  findings.seed = c.seed;
  findings.discovery = split.discovery;
  findings.held_out = split.held_out;
  findings.by_category = split.by_category;
  // A pair: a prompt both sets' encoded documents answer (so that diff --findings finds it in the encoded file).
  std::set<std::string> encoded_both;
  {
    const std::set<std::string> in_base(base.doc_ids.begin(), base.doc_ids.end());
    for (const std::string& id : cand.doc_ids)
      if (in_base.count(id) && answers.baseline.count(id) && answers.candidate.count(id)) encoded_both.insert(id);
  }
  for (const std::string& id : split.held_out)
    if (encoded_both.count(id)) findings.held_out_pairs.push_back(id);
  SAEDIFF_CHECK(!findings.held_out_pairs.empty(), "interpret: no held-out prompt was answered by both '", info.baseline,
                "' and '", info.candidate, "' (", split.held_out.size(), " held out): nothing to verify on");

  // 2. Discovery only: the diff, the top features and their excerpts.
  const auto rows_in = [&](const EncodedSet& s) {
    std::vector<size_t> rows;
    for (size_t r = 0; r < s.doc_ids.size(); ++r)
      if (discovery.count(s.doc_ids[r])) rows.push_back(r);
    return rows;
  };
  const EncodedSet disc_b = select_rows(base, rows_in(base));
  const EncodedSet disc_c = select_rows(cand, rows_in(cand));
  const auto n_b = static_cast<int64_t>(disc_b.doc_ids.size()), n_c = static_cast<int64_t>(disc_c.doc_ids.size());
  SAEDIFF_CHECK(n_b > 0 && n_c > 0, "interpret: the discovery part holds no encoded document of set '",
                n_b == 0 ? info.baseline : info.candidate, "'");
  const std::vector<FeatureDiff> diff = diff_sets(active_counts(disc_b, file.d_sae, info.threshold), n_b,
                                                  active_counts(disc_c, file.d_sae, info.threshold), n_c);
  std::vector<ShownFeature> shown;
  for (size_t i = 0; i < diff.size() && static_cast<int>(shown.size()) < c.features; ++i) {
    ShownFeature f;
    f.diff = diff[i];
    if (const auto it = info.labels.find(f.diff.feature); it != info.labels.end()) std::tie(f.label, f.llm_label) = it->second;
    const EncodedSet& side = f.diff.diff > 0 ? disc_c : disc_b;
    for (const EvidenceDoc& d : top_documents(side, f.diff.feature, c.excerpts))
      f.excerpts.push_back(window_text(token_window(side, d.row, f.diff.feature, c.window), true));
    shown.push_back(std::move(f));
  }
  // Raw discovery pairs for the baseline source: a seeded sample of the prompts both sets answered.
  std::vector<std::string> disc_pairs;
  for (const std::string& id : split.discovery)
    if (encoded_both.count(id)) disc_pairs.push_back(id);
  {
    uint64_t state = c.seed ^ fnv1a64("baseline pairs");
    splitmix64_shuffle(disc_pairs, state);
    if (disc_pairs.size() > static_cast<size_t>(c.baseline_pairs)) disc_pairs.resize(static_cast<size_t>(c.baseline_pairs));
    std::sort(disc_pairs.begin(), disc_pairs.end());
  }
  log_info("interpret: ", split.discovery.size(), " discovery and ", split.held_out.size(), " held-out prompts (seed ",
           c.seed, ", ", findings.held_out_pairs.size(), " held-out pairs to judge); ", shown.size(),
           " discovery features shown to ", c.proposer);

  const OutputLock lock(c.out, "interpret --out");  // everything that can refuse the run has passed
  InterpretSummary summary;
  AskTotals totals;
  const fs::path out(c.out);

  // 3. Hypotheses from the proposer.
  std::vector<std::pair<std::string, std::string>> proposals;
  std::vector<std::string> proposal_sources;
  const auto propose = [&](const std::string& source, const std::string& prompt) {
    proposals.emplace_back(request_id("propose-" + source, c.proposer, prompt), prompt);
    proposal_sources.push_back(source);
  };
  propose("sae", sae_prompt(c, info, shown, n_b, n_c));
  if (!c.no_baseline && !disc_pairs.empty()) propose("baseline", baseline_prompt(c, info, answers, disc_pairs));
  const AskResult proposed = ask_model(c.client, c.proposer, (out / "requests" / "proposer").string(), proposals, "proposer");
  totals.add(proposed.summary);
  for (size_t i = 0; i < proposals.size(); ++i) {
    const std::string& source = proposal_sources[i];
    const auto it = proposed.answers.find(proposals[i].first);
    if (it == proposed.answers.end()) {
      log_warn("interpret: no answer from the proposer for the ", source, " hypotheses (the request failed; run again)");
      ++findings.n_failed_proposals;
      continue;
    }
    bool parsed = false;
    std::vector<Finding> hyps = parse_hypotheses(it->second, source, c.hypotheses, file.d_sae, parsed);
    if (!parsed) {
      log_warn("interpret: the proposer's answer for the ", source, " hypotheses holds no {\"hypotheses\": [...]} JSON "
               "(it stays recorded; delete ", (out / "requests" / "proposer").string(), " to ask again): ",
               to_valid_utf8(std::string_view(it->second).substr(0, 200)));
      ++findings.n_unparsed_proposals;
      ++summary.n_unparsed;
    } else if (hyps.empty()) {
      log_warn("interpret: the proposer gave no usable ", source, " hypothesis (each needs a non-empty \"text\")");
    }
    for (Finding& h : hyps) findings.hypotheses.push_back(std::move(h));
  }

  // 4. The judge, on held-out pairs only, both orders.
  std::vector<std::pair<std::string, std::string>> judgments;
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> question_ids;  // text -> per pair (cb, bc)
  for (const Finding& h : findings.hypotheses) {
    if (question_ids.count(h.text)) continue;  // the same sentence from the other source
    auto& [cb, bc] = question_ids[h.text];
    for (size_t k = 0; k < findings.held_out_pairs.size(); ++k) {
      const std::string& id = findings.held_out_pairs[k];
      const std::string prompt = utf8_head(answers.prompts.at(id).second, static_cast<size_t>(c.answer_bytes));
      const std::string a_c = utf8_head(answers.candidate.at(id), static_cast<size_t>(c.answer_bytes));
      const std::string a_b = utf8_head(answers.baseline.at(id), static_cast<size_t>(c.answer_bytes));
      for (const bool candidate_is_a : {true, false}) {
        std::string q = candidate_is_a ? judge_prompt(h.text, prompt, a_c, a_b) : judge_prompt(h.text, prompt, a_b, a_c);
        std::string qid = request_id("judge", c.judge, q);
        (candidate_is_a ? cb : bc).push_back(qid);
        judgments.emplace_back(std::move(qid), std::move(q));
      }
    }
  }
  AskResult judged;
  if (!judgments.empty()) {
    log_info("interpret: ", findings.hypotheses.size(), " hypotheses (", question_ids.size(), " distinct) x ",
             findings.held_out_pairs.size(), " held-out pairs x 2 orders = ", judgments.size(), " questions for ", c.judge,
             " (recorded answers are not asked again)");
    judged = ask_model(c.client, c.judge, (out / "requests" / "judge").string(), judgments, "judge");
    totals.add(judged.summary);
  }
  std::set<std::string> counted;
  for (Finding& h : findings.hypotheses) {
    std::vector<PairOutcome> decided;
    const auto& [cb, bc] = question_ids.at(h.text);
    for (size_t k = 0; k < findings.held_out_pairs.size(); ++k) {
      const auto first = judged.answers.find(cb[k]);
      const auto second = judged.answers.find(bc[k]);
      if (first == judged.answers.end() || second == judged.answers.end()) {
        ++h.n_missing;
        h.outcomes.push_back(PairOutcome::tie);
        continue;
      }
      const Pick p1 = parse_verdict(first->second, true), p2 = parse_verdict(second->second, false);
      h.n_unparsed += (p1 == Pick::unparsed ? 1 : 0) + (p2 == Pick::unparsed ? 1 : 0);
      h.outcomes.push_back(combine_orders(p1, p2));
      decided.push_back(h.outcomes.back());
    }
    h.stats = hypothesis_stats(decided);
    if (counted.insert(h.text).second) summary.n_unparsed += h.n_unparsed;  // a shared sentence's answers once
    // Two example pairs: decided in the direction the verdicts lean first, then the other decided ones, then ties.
    const PairOutcome lean = h.stats.wins_baseline > h.stats.wins_candidate ? PairOutcome::baseline : PairOutcome::candidate;
    for (int pass = 0; pass < 3 && h.examples.size() < 2; ++pass) {
      for (size_t k = 0; k < h.outcomes.size() && h.examples.size() < 2; ++k) {
        const PairOutcome o = h.outcomes[k];
        const bool take = pass == 0 ? o == lean : pass == 1 ? (o != lean && o != PairOutcome::tie) : o == PairOutcome::tie;
        if (!take) continue;
        const std::string& id = findings.held_out_pairs[k];
        h.examples.push_back({id, utf8_head(answers.prompts.at(id).second, 300), utf8_head(answers.candidate.at(id), 400),
                              utf8_head(answers.baseline.at(id), 400), outcome_name(o)});
      }
    }
  }
  apply_verification(findings.hypotheses, c.alpha);
  findings.overlaps = find_overlaps(findings.hypotheses);

  nlohmann::json usage = {{"requests", totals.n_requested}, {"resumed", totals.n_resumed}, {"failed", totals.n_failed},
                          {"retries", totals.n_retries}, {"prompt_tokens", totals.usage.prompt_tokens},
                          {"completion_tokens", totals.usage.completion_tokens},
                          {"reasoning_tokens", totals.usage.reasoning_tokens},
                          {"cost", totals.usage.has_cost ? nlohmann::json(totals.usage.cost) : nlohmann::json(nullptr)}};
  findings.usage_json = usage.dump();
  summary.n_failed = totals.n_failed;
  summary.n_hypotheses = static_cast<int64_t>(findings.hypotheses.size());
  for (const Finding& h : findings.hypotheses) summary.n_verified += h.verified ? 1 : 0;
  fs::create_directories(out);
  write_findings((out / "findings.json").string(), findings);
  write_file_atomic((out / "interpret_summary.json").string(),
                    nlohmann::json{{"proposer", c.proposer}, {"judge", c.judge}, {"n_hypotheses", summary.n_hypotheses},
                                   {"n_verified", summary.n_verified}, {"n_unparsed", summary.n_unparsed},
                                   {"n_held_out_pairs", findings.held_out_pairs.size()}, {"usage", usage}}
                            .dump(2) + "\n");
  for (const Finding& h : findings.hypotheses) {
    log_info("interpret: ", h.verified ? "VERIFIED " : "not verified ", h.id, ": ", h.stats.wins_candidate, " candidate / ",
             h.stats.wins_baseline, " baseline / ", h.stats.ties, " ties, q = ", short_g(h.q), ": ", h.text);
  }
  log_info("interpret: ", summary.n_verified, " of ", summary.n_hypotheses, " hypotheses verified at q < ", c.alpha, " (",
           totals.n_requested, " requests now, ", totals.n_resumed, " resumed, ", totals.n_failed, " failed",
           totals.usage.has_cost ? cat(", cost ", totals.usage.cost) : std::string(), "); wrote ",
           (out / "findings.json").string());
  return summary;
}

}  // namespace saediff
