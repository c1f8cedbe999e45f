#pragma once
// `saediff interpret`: hypotheses about how the candidate's answers differ from the baseline's, proposed by an
// LLM from the discovery part of the prompts and tested by an LLM judge on the held-out part (findings.h).
//   1. The prompts are split by seed, stratified by category, into discovery and held-out parts.
//   2. On the discovery part only: the frequency diff, the top features with their labels and marked excerpts;
//      the proposer turns them into up to N one-sentence hypotheses. A second request gives it raw discovery
//      answer pairs and no features (the LLM-only baseline of Kempf et al.).
//   3. On the held-out part only: for every hypothesis and every prompt both sets answered, the judge sees the
//      hypothesis and the two answers as A and B, in both orders, and says which shows the property more.
//   4. Per hypothesis: wins, ties, share with a Wilson interval, a sign test, BH within its source; verified is
//      q < alpha in the stated direction (the candidate shows it more).
// Every request goes through the collector (collect/ask.h): retries, resume, --rpm, key handling, usage.
#include <cstdint>
#include <string>

#include "collect/collector.h"

namespace saediff {

struct InterpretConfig {
  std::string encoded;          // encoded.h5 (with text and token rows)
  std::string report;           // the diff's report folder: summary.json (sets, threshold), features.csv (labels)
  std::string responses;        // responses.jsonl: the prompts, categories and whole answers
  std::string out;              // folder: findings.json, interpret_summary.json, requests/ (resumable)
  std::string proposer;         // provider id of the model that proposes hypotheses
  std::string judge;            // provider id of the model that judges answer pairs
  int hypotheses = 8;           // per source, at most
  double held_out_fraction = 0.5;
  uint64_t seed = 1;
  double alpha = 0.05;
  int features = 20;            // top discovery features shown to the proposer (by |diff|)
  int excerpts = 2;             // marked excerpts per feature
  int window = 16;              // tokens either side of an excerpt's strongest token
  int baseline_pairs = 20;      // raw discovery pairs shown to the proposer for the baseline hypotheses
  int answer_bytes = 6000;      // an answer shown to the judge is cut to this many bytes (1,500 for the proposer)
  bool no_baseline = false;     // skip the LLM-only baseline
  bool use_llm_labels = false;  // show features.csv's llm_label too (`label` wrote them from documents of both parts)
  CollectConfig client;         // base_url, concurrency, timeouts, rpm, key, temperature, max_tokens
};

struct InterpretSummary {
  int64_t n_hypotheses = 0, n_verified = 0;
  int64_t n_failed = 0;         // requests still failing after retries (run again to retry them)
  int64_t n_unparsed = 0;       // proposer answers without hypotheses JSON, judge answers without a verdict
};

InterpretSummary run_interpret(const InterpretConfig& config);

}  // namespace saediff
