#pragma once
// Verified findings (`saediff interpret`): hypotheses about how the candidate's answers differ from the
// baseline's, each judged on held-out prompt pairs, with the statistics that say whether it held. The data
// model of findings.json, its statistics, and the prompt split; interpret.h runs the procedure, the report
// (report.cpp) shows the result.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace saediff {

// The judge's verdict on one (hypothesis, pair): per order, which answer shows the property more.
enum class Pick { candidate, baseline, neither, unparsed };

// Both orders of one pair. A pair counts for a model only when both orders pick it: position bias cancels.
enum class PairOutcome { candidate, baseline, tie };
PairOutcome combine_orders(Pick candidate_first, Pick candidate_second);

struct HypothesisStats {
  int64_t n_pairs = 0;          // pairs judged in both orders
  int64_t wins_candidate = 0, wins_baseline = 0, ties = 0;
  double share = std::numeric_limits<double>::quiet_NaN();  // wins_candidate / decided pairs (NaN when none)
  double ci_low = 0.0, ci_high = 1.0;                       // Wilson 95% of share ([0, 1] when none decided)
  double p = 1.0;               // two-sided exact sign test of wins_candidate against wins_baseline
};
HypothesisStats hypothesis_stats(const std::vector<PairOutcome>& outcomes);

struct FindingExample {
  std::string prompt_id, prompt, candidate, baseline;  // the answers cut to a few hundred bytes
  std::string winner;                                  // "candidate", "baseline" or "tie"
};

struct Finding {
  std::string id;                  // sae-1, baseline-2, ...: stable across a resume
  std::string text;                // the one-sentence hypothesis
  std::string source;              // "sae" (from SAE features) or "baseline" (from raw answer pairs)
  std::vector<int32_t> features;   // the features the proposer said it rests on (sae only)
  HypothesisStats stats;
  int64_t n_unparsed = 0;          // judge answers without a usable {"answer": ...} (counted as "neither")
  int64_t n_missing = 0;           // pairs left out because a judge request failed (run again to retry)
  double q = 1.0;                  // Benjamini-Hochberg of p over the hypotheses of the same source
  bool verified = false;           // q < alpha and more candidate than baseline wins: the direction stated
  std::vector<PairOutcome> outcomes;    // per held-out pair, in Findings::held_out order (missing: tie)
  std::vector<FindingExample> examples;  // two held-out pairs, decided ones first
};

// Hypotheses of two sources that the judge's verdicts show to be about the same thing: over the pairs both
// decided, the share where they picked the same answer.
struct FindingOverlap {
  std::string sae, baseline;  // Finding ids
  int64_t n_both = 0;         // pairs decided for both hypotheses
  double agreement = 0.0;     // same winner on those pairs
};

struct Findings {
  std::string baseline, candidate;              // set names
  std::string baseline_model, candidate_model;  // provider ids of the sets, where the encoded file has them
  std::string proposer, judge;                  // provider ids
  double alpha = 0.05, held_out_fraction = 0.5;
  uint64_t seed = 1;
  std::vector<std::string> discovery, held_out;  // prompt ids of each part, in a stable order
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> by_category;  // category -> (discovery, held-out)
  std::vector<std::string> held_out_pairs;        // held-out prompts answered by both sets: what is judged
  std::vector<Finding> hypotheses;
  std::vector<FindingOverlap> overlaps;
  int64_t n_unparsed_proposals = 0;               // proposer answers that held no hypotheses JSON
  int64_t n_failed_proposals = 0;                 // proposer requests that failed after retries
  std::string encoded_fingerprint;                // set_fingerprint of the baseline and candidate sets, "B-C"
  std::string usage_json;                         // the requests' counts, tokens and cost, as JSON text
};

// Fills q (BH within each source) and verified.
void apply_verification(std::vector<Finding>& hypotheses, double alpha);

// For each SAE hypothesis, the baseline hypothesis whose verdicts agree with it most (min_both pairs decided
// by both at least); listed when the agreement is at least `min_agreement`.
std::vector<FindingOverlap> find_overlaps(const std::vector<Finding>& hypotheses, int64_t min_both = 5,
                                          double min_agreement = 0.8);

// Prompt ids split by `seed` into discovery and held-out parts, stratified by category: within each category
// (in sorted order), round(fraction * n) of its prompts, shuffled with a seeded generator, are held out, and
// at least one prompt stays in each part when the category has two or more. ids and categories are parallel
// (one entry per prompt id; duplicates refused).
struct PromptSplit {
  std::vector<std::string> discovery, held_out;  // sorted
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> by_category;
};
PromptSplit split_prompts(const std::vector<std::string>& ids, const std::vector<std::string>& categories,
                          double fraction, uint64_t seed);

void write_findings(const std::string& path, const Findings& findings);
Findings read_findings(const std::string& path);  // throws, naming the file, on anything malformed

const char* outcome_name(PairOutcome o);

}  // namespace saediff
