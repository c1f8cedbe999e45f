#include "analysis/findings.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "analysis/stats.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/files.h"

namespace saediff {

PairOutcome combine_orders(Pick first, Pick second) {
  if (first == Pick::candidate && second == Pick::candidate) return PairOutcome::candidate;
  if (first == Pick::baseline && second == Pick::baseline) return PairOutcome::baseline;
  return PairOutcome::tie;
}

const char* outcome_name(PairOutcome o) {
  switch (o) {
    case PairOutcome::candidate: return "candidate";
    case PairOutcome::baseline: return "baseline";
    case PairOutcome::tie: return "tie";
  }
  return "tie";
}

HypothesisStats hypothesis_stats(const std::vector<PairOutcome>& outcomes) {
  HypothesisStats s;
  s.n_pairs = static_cast<int64_t>(outcomes.size());
  for (PairOutcome o : outcomes) {
    if (o == PairOutcome::candidate) ++s.wins_candidate;
    else if (o == PairOutcome::baseline) ++s.wins_baseline;
    else ++s.ties;
  }
  const int64_t decided = s.wins_candidate + s.wins_baseline;
  if (decided > 0) s.share = static_cast<double>(s.wins_candidate) / static_cast<double>(decided);
  std::tie(s.ci_low, s.ci_high) = wilson_interval(s.wins_candidate, decided);
  // The sign test is the exact McNemar test of the discordant counts: 2 P(X <= min) for X ~ Bin(decided, 1/2).
  s.p = mcnemar_exact(s.wins_candidate, s.wins_baseline);
  return s;
}

void apply_verification(std::vector<Finding>& hypotheses, double alpha) {
  std::map<std::string, std::vector<size_t>> by_source;
  for (size_t i = 0; i < hypotheses.size(); ++i) by_source[hypotheses[i].source].push_back(i);
  for (const auto& [source, idx] : by_source) {
    std::vector<double> p;
    for (size_t i : idx) p.push_back(hypotheses[i].stats.p);
    const std::vector<double> q = benjamini_hochberg(p);
    for (size_t k = 0; k < idx.size(); ++k) {
      Finding& f = hypotheses[idx[k]];
      f.q = q[k];
      f.verified = f.q < alpha && f.stats.wins_candidate > f.stats.wins_baseline;
    }
  }
}

std::vector<FindingOverlap> find_overlaps(const std::vector<Finding>& hypotheses, int64_t min_both, double min_agreement) {
  std::vector<FindingOverlap> out;
  for (const Finding& a : hypotheses) {
    if (a.source != "sae") continue;
    FindingOverlap best;
    for (const Finding& b : hypotheses) {
      if (b.source != "baseline" || b.outcomes.size() != a.outcomes.size()) continue;
      int64_t both = 0, same = 0;
      for (size_t i = 0; i < a.outcomes.size(); ++i) {
        if (a.outcomes[i] == PairOutcome::tie || b.outcomes[i] == PairOutcome::tie) continue;
        ++both;
        same += a.outcomes[i] == b.outcomes[i] ? 1 : 0;
      }
      if (both < min_both) continue;
      const double agreement = static_cast<double>(same) / static_cast<double>(both);
      if (agreement > best.agreement || (agreement == best.agreement && both > best.n_both)) {
        best = {a.id, b.id, both, agreement};
      }
    }
    if (!best.baseline.empty() && best.agreement >= min_agreement) out.push_back(best);
  }
  return out;
}

PromptSplit split_prompts(const std::vector<std::string>& ids, const std::vector<std::string>& categories,
                          double fraction, uint64_t seed) {
  SAEDIFF_CHECK(ids.size() == categories.size(), "split_prompts: ", ids.size(), " ids but ", categories.size(), " categories");
  SAEDIFF_CHECK(fraction > 0.0 && fraction < 1.0, "--held-out-fraction must be in (0, 1), got ", fraction);
  std::map<std::string, std::vector<std::string>> by_cat;
  std::set<std::string> seen;
  for (size_t i = 0; i < ids.size(); ++i) {
    SAEDIFF_CHECK(seen.insert(ids[i]).second, "split_prompts: prompt id '", ids[i], "' appears twice");
    by_cat[categories[i]].push_back(ids[i]);
  }
  PromptSplit split;
  for (auto& [category, members] : by_cat) {
    std::sort(members.begin(), members.end());
    uint64_t state = seed ^ fnv1a64(category);  // splitmix64: the same split with any standard library
    splitmix64_shuffle(members, state);
    const auto n = static_cast<int64_t>(members.size());
    int64_t n_held = 0;
    if (n == 1) {
      n_held = splitmix64_unit(state) < fraction ? 1 : 0;
    } else {
      n_held = std::clamp<int64_t>(std::llround(fraction * static_cast<double>(n)), 1, n - 1);
    }
    for (int64_t i = 0; i < n; ++i) (i < n_held ? split.held_out : split.discovery).push_back(members[static_cast<size_t>(i)]);
    split.by_category.push_back({category, {n - n_held, n_held}});
  }
  std::sort(split.discovery.begin(), split.discovery.end());
  std::sort(split.held_out.begin(), split.held_out.end());
  return split;
}

namespace {

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

PairOutcome outcome_from(const std::string& s, const std::string& path) {
  if (s == "candidate") return PairOutcome::candidate;
  if (s == "baseline") return PairOutcome::baseline;
  SAEDIFF_CHECK(s == "tie", path, ": unknown pair outcome '", s, "'");
  return PairOutcome::tie;
}

}  // namespace

void write_findings(const std::string& path, const Findings& f) {
  nlohmann::json hyps = nlohmann::json::array();
  for (const Finding& h : f.hypotheses) {
    nlohmann::json outcomes = nlohmann::json::array();
    for (PairOutcome o : h.outcomes) outcomes.push_back(outcome_name(o));
    nlohmann::json examples = nlohmann::json::array();
    for (const FindingExample& e : h.examples) {
      examples.push_back({{"prompt_id", e.prompt_id}, {"prompt", e.prompt}, {"candidate", e.candidate},
                          {"baseline", e.baseline}, {"winner", e.winner}});
    }
    hyps.push_back({{"id", h.id}, {"text", h.text}, {"source", h.source}, {"features", h.features},
                    {"n_pairs", h.stats.n_pairs}, {"wins_candidate", h.stats.wins_candidate},
                    {"wins_baseline", h.stats.wins_baseline}, {"ties", h.stats.ties},
                    {"share", number_or_null(h.stats.share)}, {"ci_low", h.stats.ci_low}, {"ci_high", h.stats.ci_high},
                    {"p", h.stats.p}, {"q", h.q}, {"verified", h.verified}, {"n_unparsed", h.n_unparsed},
                    {"n_missing", h.n_missing}, {"outcomes", outcomes}, {"examples", examples}});
  }
  nlohmann::json by_cat = nlohmann::json::object();
  for (const auto& [c, n] : f.by_category) by_cat[c] = {{"discovery", n.first}, {"held_out", n.second}};
  nlohmann::json overlaps = nlohmann::json::array();
  for (const FindingOverlap& o : f.overlaps)
    overlaps.push_back({{"sae", o.sae}, {"baseline", o.baseline}, {"n_both", o.n_both}, {"agreement", o.agreement}});
  nlohmann::json comparison = nlohmann::json::object();
  for (const char* source : {"sae", "baseline"}) {
    int64_t n = 0, v = 0;
    for (const Finding& h : f.hypotheses) {
      if (h.source != source) continue;
      ++n;
      v += h.verified ? 1 : 0;
    }
    comparison[source] = {{"n_hypotheses", n}, {"n_verified", v}};
  }
  comparison["overlaps"] = overlaps;
  const nlohmann::json j = {
      {"baseline", {{"set", f.baseline}, {"model", f.baseline_model}}},
      {"candidate", {{"set", f.candidate}, {"model", f.candidate_model}}},
      {"models", {{"proposer", f.proposer}, {"judge", f.judge}}},
      {"alpha", f.alpha},
      {"split", {{"seed", f.seed}, {"held_out_fraction", f.held_out_fraction}, {"discovery", f.discovery},
                 {"held_out", f.held_out}, {"by_category", by_cat}, {"held_out_pairs", f.held_out_pairs}}},
      {"hypotheses", hyps},
      {"comparison", comparison},
      {"n_unparsed_proposals", f.n_unparsed_proposals},
      {"n_failed_proposals", f.n_failed_proposals},
      {"encoded_fingerprint", f.encoded_fingerprint},
      {"usage", f.usage_json.empty() ? nlohmann::json::object() : nlohmann::json::parse(f.usage_json)}};
  write_file_atomic(path, j.dump(2) + "\n");
}

Findings read_findings(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot open findings file '", path, "'");
  std::stringstream buf;
  buf << in.rdbuf();
  Findings f;
  try {
    const nlohmann::json j = nlohmann::json::parse(buf.str());
    f.baseline = j.at("baseline").at("set").get<std::string>();
    f.baseline_model = j.at("baseline").value("model", "");
    f.candidate = j.at("candidate").at("set").get<std::string>();
    f.candidate_model = j.at("candidate").value("model", "");
    f.proposer = j.at("models").at("proposer").get<std::string>();
    f.judge = j.at("models").at("judge").get<std::string>();
    f.alpha = j.at("alpha").get<double>();
    const nlohmann::json& s = j.at("split");
    f.seed = s.at("seed").get<uint64_t>();
    f.held_out_fraction = s.at("held_out_fraction").get<double>();
    f.discovery = s.at("discovery").get<std::vector<std::string>>();
    f.held_out = s.at("held_out").get<std::vector<std::string>>();
    f.held_out_pairs = s.at("held_out_pairs").get<std::vector<std::string>>();
    for (const auto& [c, n] : s.at("by_category").items())
      f.by_category.push_back({c, {n.at("discovery").get<int64_t>(), n.at("held_out").get<int64_t>()}});
    for (const nlohmann::json& h : j.at("hypotheses")) {
      Finding x;
      x.id = h.at("id").get<std::string>();
      x.text = h.at("text").get<std::string>();
      x.source = h.at("source").get<std::string>();
      SAEDIFF_CHECK(x.source == "sae" || x.source == "baseline", path, ": hypothesis '", x.id, "' has source '", x.source,
                    "' (expected sae or baseline)");
      x.features = h.at("features").get<std::vector<int32_t>>();
      x.stats.n_pairs = h.at("n_pairs").get<int64_t>();
      x.stats.wins_candidate = h.at("wins_candidate").get<int64_t>();
      x.stats.wins_baseline = h.at("wins_baseline").get<int64_t>();
      x.stats.ties = h.at("ties").get<int64_t>();
      x.stats.share = h.at("share").is_null() ? std::numeric_limits<double>::quiet_NaN() : h.at("share").get<double>();
      x.stats.ci_low = h.at("ci_low").get<double>();
      x.stats.ci_high = h.at("ci_high").get<double>();
      x.stats.p = h.at("p").get<double>();
      x.q = h.at("q").get<double>();
      x.verified = h.at("verified").get<bool>();
      x.n_unparsed = h.value("n_unparsed", int64_t{0});
      x.n_missing = h.value("n_missing", int64_t{0});
      for (const nlohmann::json& o : h.at("outcomes")) x.outcomes.push_back(outcome_from(o.get<std::string>(), path));
      for (const nlohmann::json& e : h.at("examples")) {
        x.examples.push_back({e.at("prompt_id").get<std::string>(), e.at("prompt").get<std::string>(),
                              e.at("candidate").get<std::string>(), e.at("baseline").get<std::string>(),
                              e.at("winner").get<std::string>()});
      }
      SAEDIFF_CHECK(x.stats.wins_candidate + x.stats.wins_baseline + x.stats.ties == x.stats.n_pairs, path,
                    ": hypothesis '", x.id, "': wins and ties do not add up to n_pairs");
      f.hypotheses.push_back(std::move(x));
    }
    for (const nlohmann::json& o : j.at("comparison").at("overlaps")) {
      f.overlaps.push_back({o.at("sae").get<std::string>(), o.at("baseline").get<std::string>(), o.at("n_both").get<int64_t>(),
                            o.at("agreement").get<double>()});
    }
    f.n_unparsed_proposals = j.value("n_unparsed_proposals", int64_t{0});
    f.n_failed_proposals = j.value("n_failed_proposals", int64_t{0});
    f.encoded_fingerprint = j.value("encoded_fingerprint", "");
    f.usage_json = j.value("usage", nlohmann::json::object()).dump();
  } catch (const nlohmann::json::exception& e) {
    SAEDIFF_FAIL("'", path, "' is not a findings.json written by `saediff interpret`: ", e.what());
  }
  return f;
}

}  // namespace saediff
