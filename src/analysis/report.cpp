#include "analysis/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "analysis/clusters.h"
#include "analysis/evidence.h"
#include "analysis/figures.h"
#include "analysis/labels.h"
#include "analysis/notebook.h"
#include "analysis/report_doc.h"
#include "analysis/report_findings.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "io/prompts.h"
#include "saediff/version.h"

namespace saediff {
namespace {

namespace fs = std::filesystem;

std::string fixed(double v, int digits = 6) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string general(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string short_g(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2g", v);
  return buf;
}

std::string pct(double v) { return fixed(100 * v, 1) + "%"; }
std::string pp(double v) { return (v > 0 ? "+" : "") + fixed(100 * v, 1) + " pp"; }

// How a q-value is worded in the findings.
std::string confidence_words(double q, double alpha) {
  if (q < 0.001) return "strong evidence";
  if (q < 0.01) return "moderate evidence";
  if (q < alpha) return "weak evidence";
  return "not significant";
}

struct LengthStats {
  int64_t min = 0, p25 = 0, median = 0, p75 = 0, max = 0;
  double mean = 0;
};

LengthStats length_stats(std::vector<int64_t> v) {
  LengthStats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const auto q = [&](double f) { return v[static_cast<size_t>(std::floor(f * static_cast<double>(v.size() - 1)))]; };
  s.min = v.front();
  s.p25 = q(0.25);
  s.median = q(0.5);
  s.p75 = q(0.75);
  s.max = v.back();
  double sum = 0;
  for (int64_t x : v) sum += static_cast<double>(x);
  s.mean = sum / static_cast<double>(v.size());
  return s;
}

struct CategoryRow {
  std::string category;
  int64_t k_b = 0, n_b = 0, k_c = 0, n_c = 0;
};

// Everything the report shows, computed once.
struct Analysis {
  Analysis(const DiffConfig& c, const EncodedFile& f, const EncodedSet& b, const EncodedSet& k)
      : config(c), file(f), base(b), cand(k) {}
  const DiffConfig& config;
  const EncodedFile& file;
  const EncodedSet& base;
  const EncodedSet& cand;
  int64_t n_b = 0, n_c = 0;
  std::vector<FeatureDiff> rows;
  std::vector<const FeatureDiff*> up, down, by_sig, by_rel;
  FeatureLabels labels;
  LlmLabels llm;
  std::map<int32_t, const LlmLabel*> llm_by_feature;
  FeatureAnnotations notes;
  LengthStrata strata;
  std::vector<FeatureCluster> clusters;
  int64_t n_significant = 0, n_sig_up = 0, n_sig_down = 0, n_confounded = 0;

  std::string name(int32_t f) const {
    const std::string& l = labels.labels[static_cast<size_t>(f)];
    return "#" + std::to_string(f) + (l.empty() ? "" : " " + l);
  }
};

// Whether `feature`'s pooled max in row r of `set` exceeds the threshold.
bool active_in(const EncodedSet& set, size_t r, int32_t feature, double threshold) {
  const auto b = set.max.indices.begin() + set.max.indptr[r];
  const auto e = set.max.indices.begin() + set.max.indptr[r + 1];
  const auto it = std::lower_bound(b, e, feature);
  return it != e && *it == feature && set.max.values[static_cast<size_t>(it - set.max.indices.begin())] > threshold;
}

std::vector<CategoryRow> category_rows(const Analysis& a, int32_t feature) {
  std::map<std::string, CategoryRow> by;
  const double t = a.config.threshold;
  for (size_t r = 0; r < a.base.categories.size(); ++r) {
    CategoryRow& c = by[a.base.categories[r]];
    ++c.n_b;
    c.k_b += active_in(a.base, r, feature, t) ? 1 : 0;
  }
  for (size_t r = 0; r < a.cand.categories.size(); ++r) {
    CategoryRow& c = by[a.cand.categories[r]];
    ++c.n_c;
    c.k_c += active_in(a.cand, r, feature, t) ? 1 : 0;
  }
  std::vector<CategoryRow> out;
  for (auto& [name, row] : by) {
    row.category = name;
    out.push_back(row);
  }
  return out;
}

void cluster_top_features(Analysis& a) {
  std::vector<int32_t> features;
  for (const auto* list : {&a.up, &a.down})
    for (const FeatureDiff* d : *list) features.push_back(d->feature);
  std::map<int32_t, size_t> index;
  for (size_t i = 0; i < features.size(); ++i) index[features[i]] = i;
  std::vector<std::vector<int64_t>> docs(features.size());
  int64_t offset = 0;
  for (const EncodedSet* set : {&a.base, &a.cand}) {
    for (size_t r = 0; r + 1 < set->max.indptr.size(); ++r) {
      for (auto k = static_cast<size_t>(set->max.indptr[r]); k < static_cast<size_t>(set->max.indptr[r + 1]); ++k) {
        const auto it = index.find(set->max.indices[k]);
        if (it != index.end() && set->max.values[k] > a.config.threshold) docs[it->second].push_back(offset + static_cast<int64_t>(r));
      }
    }
    offset += static_cast<int64_t>(set->doc_ids.size());
  }
  a.clusters = cluster_features(features, docs, a.n_b + a.n_c, a.config.cluster_npmi);
  for (size_t c = 0; c < a.clusters.size(); ++c)
    for (int32_t f : a.clusters[c].features) a.notes.cluster[f] = static_cast<int>(c) + 1;
}

std::vector<std::string> key_findings(const Analysis& a) {
  const DiffConfig& c = a.config;
  std::vector<std::string> out;
  out.push_back(cat("Of ", a.rows.size(), " features active in either set, **", a.n_significant, "** differ in frequency at q < ",
                    c.alpha, " (two-sided Fisher exact test, Benjamini-Hochberg): ", a.n_sig_up, " are more frequent in **",
                    md_escape(c.candidate), "** and ", a.n_sig_down, " in **", md_escape(c.baseline), "**.",
                    a.rows.empty() || a.rows.front().n_pairs == 0
                        ? std::string()
                        : cat(" Paired by prompt (", a.rows.front().n_pairs, " prompts answered by both; exact McNemar test), ",
                              std::count_if(a.rows.begin(), a.rows.end(), [&](const FeatureDiff& d) { return d.q_paired < c.alpha; }),
                              " differ at q < ", c.alpha, ".")));
  // The strongest significant differences; features with the same counts (common when one set is much
  // shorter or a model always does something) are stated together.
  std::vector<std::vector<const FeatureDiff*>> groups;
  for (const FeatureDiff& d : a.rows) {
    if (d.q_value >= c.alpha) continue;
    const FeatureDiff* g = groups.empty() ? nullptr : groups.back().front();
    if (g != nullptr && g->count_baseline == d.count_baseline && g->count_candidate == d.count_candidate &&
        g->length_confounded == d.length_confounded) {
      groups.back().push_back(&d);
    } else if (groups.size() < 6) {
      groups.push_back({&d});
    } else {
      break;
    }
  }
  for (const auto& group : groups) {
    const FeatureDiff& d = *group.front();
    std::string names;
    for (size_t i = 0; i < group.size() && i < 8; ++i) names += (i == 0 ? "" : ", ") + cat("**", md_escape(a.name(group[i]->feature)), "**");
    if (group.size() > 8) names += cat(" and ", group.size() - 8, " more");
    std::string s = cat(names, group.size() > 1 ? " are each" : " is", " in ", pct(d.freq_baseline), " of ", md_escape(c.baseline),
                        " answers and ", pct(d.freq_candidate), " of ", md_escape(c.candidate), " answers (", pp(d.diff),
                        ", 95% CI ", pp(d.diff_ci_low), " to ", pp(d.diff_ci_high), "; q = ", short_g(d.q_value), "): ",
                        confidence_words(d.q_value, c.alpha), ".");
    if (d.length_confounded && !std::isfinite(d.diff_length_adjusted)) {
      s += " But no answers of the two sets share a length range, so length cannot be controlled for: the difference "
           "may be entirely one of answer length.";
    } else if (d.length_confounded) {
      s += cat(" But among answers of similar length the difference is ", pp(d.diff_length_adjusted), " (CMH q = ",
               short_g(d.q_cmh_significant), "): it may reflect answer length rather than content.");
    }
    for (const FeatureDiff* g : group) {
      const auto llm = a.llm_by_feature.find(g->feature);
      if (llm != a.llm_by_feature.end()) s += cat(" LLM label of #", g->feature, ": \"", md_escape(llm->second->label), "\".");
    }
    out.push_back(s);
  }
  // With labels, the labelled features that differ are the readable findings: name the ones not stated above.
  {
    std::set<int32_t> named;
    for (const auto& group : groups)
      for (const FeatureDiff* g : group) named.insert(g->feature);
    std::string listed;
    int n_listed = 0;
    for (const FeatureDiff& d : a.rows) {
      if (d.q_value >= c.alpha || named.count(d.feature) || a.labels.labels[static_cast<size_t>(d.feature)].empty()) continue;
      if (++n_listed > 12) continue;
      listed += cat(listed.empty() ? "" : "; ", "**", md_escape(a.name(d.feature)), "** (", pct(d.freq_baseline), " → ",
                    pct(d.freq_candidate), ", ", pp(d.diff), ", q = ", short_g(d.q_value),
                    d.length_confounded ? ", length-confounded" : "", ")");
    }
    if (n_listed > 0) {
      out.push_back(cat("Labelled features that also differ at q < ", c.alpha, " (", md_escape(c.baseline), " → ",
                        md_escape(c.candidate), "): ", listed, n_listed > 12 ? cat("; and ", n_listed - 12, " more") : "", "."));
    }
  }
  if (a.n_significant == 0) {
    out.push_back(cat("No feature differs at q < ", c.alpha, ". The largest differences are within what chance gives with ",
                      a.n_b, " and ", a.n_c, " documents; collect more prompts before reading them as changes."));
  }
  for (const FeatureCluster& cl : a.clusters) {
    if (cl.features.size() < 2) continue;
    int rising = 0;
    std::string names;
    for (int32_t f : cl.features) {
      const auto it = std::find_if(a.rows.begin(), a.rows.end(), [&](const FeatureDiff& d) { return d.feature == f; });
      rising += it != a.rows.end() && it->diff > 0 ? 1 : 0;
      names += (names.empty() ? "" : ", ") + md_escape(a.name(f));
    }
    const auto n = static_cast<int>(cl.features.size());
    out.push_back(cat("These ", n, " top features fire in the same documents (mean NPMI ", fixed(cl.mean_npmi, 2), ")",
                      rising == n ? cat(" and all are more frequent in ", md_escape(c.candidate),
                                        ", so they likely describe one behaviour: ")
                      : rising == 0 ? cat(" and all are more frequent in ", md_escape(c.baseline),
                                          ", so they likely describe one behaviour: ")
                                    : " but move in different directions, so they are related rather than one change: ",
                      names, "."));
    if (out.size() > 12) break;
  }
  const LengthStats lb = length_stats(a.base.n_pooled), lc = length_stats(a.cand.n_pooled);
  if (lb.median > 0 && lc.median > 0) {
    const double ratio = static_cast<double>(lc.median) / static_cast<double>(lb.median);
    if (ratio > 1.25 || ratio < 0.8) {
      out.push_back(cat("Answer length differs: the median ", md_escape(c.candidate), " answer has ", lc.median,
                        " tokens against ", lb.median, " for ", md_escape(c.baseline), ". Max pooling rewards long texts; ",
                        a.n_confounded, " of the ", a.n_significant,
                        " significant features lose their difference under length control (flagged below)."));
    }
  }
  return out;
}

std::string cell_freq(int64_t k, int64_t n) {
  return n == 0 ? "–" : cat(pct(static_cast<double>(k) / static_cast<double>(n)), " (", k, "/", n, ")");
}

void feature_table(ReportDoc& doc, const Analysis& a, const std::vector<const FeatureDiff*>& rows) {
  const DiffConfig& c = a.config;
  std::vector<std::vector<std::string>> cells;
  for (const FeatureDiff* d : rows) {
    std::string label = md_escape(a.labels.labels[static_cast<size_t>(d->feature)]);
    const auto llm = a.llm_by_feature.find(d->feature);
    if (llm != a.llm_by_feature.end()) label += (label.empty() ? "" : " · ") + std::string("LLM: ") + md_escape(llm->second->label);
    const auto cl = a.notes.cluster.find(d->feature);
    cells.push_back({std::to_string(d->rank_abs), cat("#", d->feature), label, cell_freq(d->count_baseline, a.n_b),
                     cell_freq(d->count_candidate, a.n_c), pp(d->diff), cat(pp(d->diff_ci_low), " … ", pp(d->diff_ci_high)),
                     short_g(d->q_value), fixed(d->cohens_h, 2),
                     std::isfinite(d->diff_length_adjusted) ? pp(d->diff_length_adjusted) : "–",
                     d->length_confounded ? "**yes**" : "", cl == a.notes.cluster.end() ? "" : std::to_string(cl->second)});
  }
  doc.table({"rank", "feature", "label", "freq " + md_escape(c.baseline), "freq " + md_escape(c.candidate), "diff",
             "95% CI", "q", "h", "length-adj. diff", "length?", "cluster"},
            cells, "rrlrrrrrrrlr");
}

void feature_card(ReportDoc& doc, const Analysis& a, const FeatureDiff& d) {
  const DiffConfig& c = a.config;
  doc.heading(3, md_escape(a.name(d.feature)), cat("f", d.feature));
  doc.paragraph(cat(md_escape(c.baseline), ": ", pct(d.freq_baseline), " [", pct(d.ci_low_baseline), ", ", pct(d.ci_high_baseline),
                    "] of ", a.n_b, " documents → ", md_escape(c.candidate), ": ", pct(d.freq_candidate), " [",
                    pct(d.ci_low_candidate), ", ", pct(d.ci_high_candidate), "] of ", a.n_c, ". Diff **", pp(d.diff),
                    "** (95% CI ", pp(d.diff_ci_low), " to ", pp(d.diff_ci_high), "), p = ", short_g(d.p_value), ", q = ",
                    short_g(d.q_value), " (", confidence_words(d.q_value, c.alpha), "); Cohen's h ", fixed(d.cohens_h, 2),
                    ", log odds ratio ", fixed(d.log_odds_ratio, 2), " [", fixed(d.lor_ci_low, 2), ", ", fixed(d.lor_ci_high, 2),
                    "].", d.n_pairs > 0 ? cat(" Paired by prompt (", d.n_pairs, " prompts answered by both): only ",
                                             md_escape(c.baseline), " has it in ", d.only_baseline, ", only ", md_escape(c.candidate),
                                             " in ", d.only_candidate, "; exact McNemar q = ", short_g(d.q_paired), ".")
                                       : std::string(),
                    " Length-controlled diff ",
                    std::isfinite(d.diff_length_adjusted) ? pp(d.diff_length_adjusted) : std::string("n/a"), " (CMH q = ",
                    std::isfinite(d.q_cmh_significant)
                        ? cat(short_g(d.q_cmh_significant), " among the features significant before control; ",
                              short_g(d.q_cmh), " over all features")
                        : short_g(d.q_cmh),
                    ")."));
  if (d.length_confounded) {
    doc.note(std::isfinite(d.diff_length_adjusted)
                 ? "Length-confounded: significant overall, but not among answers of similar length. Read it as a "
                   "difference in answer length before reading it as a difference in content."
                 : "Length-confounded: no answers of the two sets share a length range, so length cannot be controlled "
                   "for. Read it as a difference in answer length before reading it as a difference in content.");
  }
  const auto llm = a.llm_by_feature.find(d.feature);
  if (llm != a.llm_by_feature.end()) {
    const LlmLabel& l = *llm->second;
    doc.paragraph(cat("LLM label (", md_escape(a.llm.model), "): **", md_escape(l.label), "**",
                      l.explanation.empty() ? "" : " — " + md_escape(l.explanation),
                      l.score >= 0 ? cat(" (held-out detection accuracy ", fixed(l.score, 2), " on ", l.n_scored, " examples)") : ""));
  }
  if (!a.base.categories.empty() && !a.cand.categories.empty()) {
    std::vector<std::vector<std::string>> cells;
    for (const CategoryRow& r : category_rows(a, d.feature)) {
      const double diff = r.n_b > 0 && r.n_c > 0 ? static_cast<double>(r.k_c) / static_cast<double>(r.n_c) -
                                                       static_cast<double>(r.k_b) / static_cast<double>(r.n_b)
                                                 : std::nan("");
      cells.push_back({md_escape(r.category), cell_freq(r.k_b, r.n_b), cell_freq(r.k_c, r.n_c),
                       std::isfinite(diff) ? pp(diff) : "–"});
    }
    doc.table({"category", md_escape(c.baseline), md_escape(c.candidate), "diff"}, cells, "lrrr");
  }
  float scale = 0.0f;
  std::vector<std::pair<const EncodedSet*, EvidenceDoc>> evidence;
  for (const EncodedSet* set : {&a.cand, &a.base}) {
    for (const EvidenceDoc& e : top_documents(*set, d.feature, c.top_docs)) {
      evidence.emplace_back(set, e);
      scale = std::max(scale, e.max);
    }
  }
  for (const auto& [set, e] : evidence) {
    const TokenWindow w = token_window(*set, e.row, d.feature, 40);
    const std::string category = set->categories.empty() ? "" : " · " + md_escape(set->categories[e.row]);
    std::string title = cat(md_escape(set->name), " · ", md_escape(e.doc_id), category, " · max ", fixed(e.max, 2));
    if (!set->tokens.empty() && !w.found) title += " · (not among any token's stored top features: unmarked)";
    else if (w.found && !w.exact) title += " · (marks from the tokens' stored top features)";
    doc.excerpt(title, w, scale);
  }
  if (evidence.empty()) doc.paragraph("No document has this feature active.");
}

void methodology(ReportDoc& doc, const Analysis& a) {
  const DiffConfig& c = a.config;
  const auto attr = [&](const char* k) {
    const auto it = a.file.attrs.text.find(k);
    return it == a.file.attrs.text.end() ? std::string("?") : it->second;
  };
  const auto iattr = [&](const char* k) {
    const auto it = a.file.attrs.integer.find(k);
    return it == a.file.attrs.integer.end() ? std::string("?") : std::to_string(it->second);
  };
  doc.heading(2, "Methodology and limitations", "methodology");
  doc.bullets({
      cat("**Reading.** Each answer, wrapped in the Llama 3.1 chat template, is read by `", md_escape(attr("model")),
          "` up to decoder layer ", iattr("layer"), "; the SAE `", md_escape(attr("sae")), "` (", a.file.d_sae,
          " features) encodes every token. Pooling `", md_escape(attr("pooling")), "`, dtype `", md_escape(attr("dtype")), "`."),
      cat("**Frequency.** A document has a feature when the feature's max over the pooled tokens exceeds ", c.threshold,
          "; a feature's frequency is the fraction of a set's documents that have it. Intervals are Wilson 95%; the diff's "
          "interval is Newcombe's hybrid score interval."),
      cat("**Significance.** Two-sided Fisher exact test per feature, Benjamini-Hochberg q-values over all ", a.rows.size(),
          " features active in either set, treating documents as independent draws; and, pairing the two answers to each "
          "prompt, the exact McNemar test of the prompts where only one answer has the feature (q_paired), which "
          "uses the design's pairing and is the sharper test when answers to one prompt are alike."),
      cat("**Length control.** Documents are split into ", a.strata.n_strata(),
          " strata by quantiles of pooled tokens (both sets together); the length-controlled diff is the stratum-size-weighted "
          "mean of per-stratum diffs, tested with the Cochran-Mantel-Haenszel test. A feature is flagged when it is "
          "significant overall but not under length control, or keeps less than half its diff."),
      cat("**Clusters.** The top features are grouped by average-linkage clustering of their document co-occurrence (NPMI >= ",
          c.cluster_npmi, ", at least 3 shared documents)."),
      "**Lens.** The SAE was trained on Llama's residual stream; it reads Gemini's text through Llama's eyes. A feature "
      "that fires more often says the text changed in a way Llama represents, not that Gemini has that feature.",
      "**Labels** are automated descriptions of what a feature responds to. They can be wrong or too broad: check the "
      "evidence excerpts before trusting one.",
      "**Correlation, not causation.** A frequency difference describes the two sets of answers to these prompts; it does "
      "not say why the checkpoints differ, nor that the difference holds on other prompts.",
  });
}

void dataset_summary(ReportDoc& doc, const Analysis& a) {
  const DiffConfig& c = a.config;
  std::set<std::string> prompts(a.base.doc_ids.begin(), a.base.doc_ids.end());
  prompts.insert(a.cand.doc_ids.begin(), a.cand.doc_ids.end());
  prompts.insert(a.base.failed_doc_ids.begin(), a.base.failed_doc_ids.end());
  prompts.insert(a.cand.failed_doc_ids.begin(), a.cand.failed_doc_ids.end());
  std::set<std::string> categories(a.base.categories.begin(), a.base.categories.end());
  categories.insert(a.cand.categories.begin(), a.cand.categories.end());
  doc.heading(2, "Dataset", "dataset");
  const LengthStats lb = length_stats(a.base.n_pooled), lc = length_stats(a.cand.n_pooled);
  int64_t tok_b = 0, tok_c = 0;
  for (int64_t t : a.base.n_pooled) tok_b += t;
  for (int64_t t : a.cand.n_pooled) tok_c += t;
  const auto range = [](const EncodedSet& s) {
    return s.collected_first.empty() ? std::string("?")
                                     : s.collected_first == s.collected_last ? s.collected_first
                                                                             : s.collected_first + " – " + s.collected_last;
  };
  const auto lengths = [](const LengthStats& s) {
    return cat(s.min, " / ", s.p25, " / ", s.median, " / ", s.p75, " / ", s.max, " (mean ", fixed(s.mean, 1), ")");
  };
  doc.table({"", md_escape(c.baseline), md_escape(c.candidate)},
            {{"model", "`" + md_escape(a.base.model_id.empty() ? "?" : a.base.model_id) + "`",
              "`" + md_escape(a.cand.model_id.empty() ? "?" : a.cand.model_id) + "`"},
             {"collected", md_escape(range(a.base)), md_escape(range(a.cand))},
             {"documents encoded", std::to_string(a.n_b), std::to_string(a.n_c)},
             {"responses that failed to collect (not encoded)", std::to_string(a.base.failed_doc_ids.size()),
              std::to_string(a.cand.failed_doc_ids.size())},
             {"answers cut by max_tokens (finish_reason length; encoded)", std::to_string(a.base.truncated_doc_ids.size()),
              std::to_string(a.cand.truncated_doc_ids.size())},
             {"documents longer than encode's --max-doc-tokens (read up to it)", std::to_string(a.base.cut_doc_ids.size()),
              std::to_string(a.cand.cut_doc_ids.size())},
             {"tokens pooled", std::to_string(tok_b), std::to_string(tok_c)},
             {"tokens per document: min / p25 / median / p75 / max", lengths(lb), lengths(lc)}},
            "lrr");
  std::string cats;
  for (const std::string& cat_name : categories) cats += (cats.empty() ? "" : ", ") + md_escape(cat_name);
  doc.paragraph(cat(prompts.size(), " prompts", categories.empty() ? std::string(".") : cat(" in ", categories.size(), " categories: ", cats, ".")));
  const auto id_list = [](const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) out += (out.empty() ? "" : ", ") + md_escape(id);
    return out.empty() ? std::string("none") : out;
  };
  doc.bullets({cat("Failed to collect, ", md_escape(c.baseline), ": ", id_list(a.base.failed_doc_ids)),
               cat("Failed to collect, ", md_escape(c.candidate), ": ", id_list(a.cand.failed_doc_ids)),
               cat("Cut by max_tokens, ", md_escape(c.baseline), ": ", id_list(a.base.truncated_doc_ids)),
               cat("Cut by max_tokens, ", md_escape(c.candidate), ": ", id_list(a.cand.truncated_doc_ids))});
  if (!a.base.truncated_doc_ids.empty() || !a.cand.truncated_doc_ids.empty()) {
    doc.note("Cut answers are encoded, but can lack features of their ending (conclusions, sign-offs); if one set has "
             "many more, raise max_tokens and collect again.");
  }
  if (!a.base.cut_doc_ids.empty() || !a.cand.cut_doc_ids.empty()) {
    const auto cut_list = [](const EncodedSet& s) {
      std::string out;
      for (size_t i = 0; i < s.cut_doc_ids.size(); ++i) {
        out += cat(out.empty() ? "" : ", ", md_escape(s.cut_doc_ids[i]), " (", s.cut_doc_tokens[i], " tokens)");
      }
      return out.empty() ? std::string("none") : out;
    };
    doc.bullets({cat("Longer than --max-doc-tokens, ", md_escape(c.baseline), ": ", cut_list(a.base)),
                 cat("Longer than --max-doc-tokens, ", md_escape(c.candidate), ": ", cut_list(a.cand))});
    doc.note("These documents were read only up to encode's --max-doc-tokens (the model's max_position_embeddings by "
             "default): features of their later text are missing, as for answers cut by max_tokens.");
  }
}

nlohmann::json row_json(const FeatureDiff& d, const FeatureAnnotations& notes) {
  nlohmann::json j = {{"feature", d.feature}, {"label", notes.labels[static_cast<size_t>(d.feature)]},
                      {"freq_baseline", d.freq_baseline}, {"freq_candidate", d.freq_candidate}, {"diff", d.diff},
                      {"count_baseline", d.count_baseline}, {"count_candidate", d.count_candidate},
                      {"p_value", d.p_value}, {"q_value", d.q_value},
                      {"ci_baseline", {d.ci_low_baseline, d.ci_high_baseline}},
                      {"ci_candidate", {d.ci_low_candidate, d.ci_high_candidate}},
                      {"diff_ci", {d.diff_ci_low, d.diff_ci_high}}, {"log2_ratio", d.log2_ratio}, {"cohens_h", d.cohens_h},
                      {"log_odds_ratio", d.log_odds_ratio}, {"log_odds_ratio_ci", {d.lor_ci_low, d.lor_ci_high}},
                      {"p_cmh", d.p_cmh}, {"q_cmh", d.q_cmh}, {"length_confounded", d.length_confounded},
                      {"rank_abs", d.rank_abs}, {"rank_rel", d.rank_rel}, {"rank_sig", d.rank_sig},
                      {"n_pairs", d.n_pairs}, {"only_baseline", d.only_baseline}, {"only_candidate", d.only_candidate},
                      {"p_paired", d.p_paired}, {"q_paired", d.q_paired}};
  j["diff_length_adjusted"] = std::isfinite(d.diff_length_adjusted) ? nlohmann::json(d.diff_length_adjusted) : nlohmann::json();
  j["q_cmh_significant"] = std::isfinite(d.q_cmh_significant) ? nlohmann::json(d.q_cmh_significant) : nlohmann::json();
  const auto cl = notes.cluster.find(d.feature);
  if (cl != notes.cluster.end()) j["cluster"] = cl->second;
  if (!notes.llm_labels.empty() && !notes.llm_labels[static_cast<size_t>(d.feature)].empty())
    j["llm_label"] = notes.llm_labels[static_cast<size_t>(d.feature)];
  return j;
}

}  // namespace

void write_features_csv(const std::string& path, const std::vector<FeatureDiff>& rows, const FeatureAnnotations& notes) {
  std::string csv =
      "feature,label,freq_baseline,freq_candidate,diff,count_baseline,count_candidate,p_value,q_value,"
      "ci_low_baseline,ci_high_baseline,ci_low_candidate,ci_high_candidate,diff_ci_low,diff_ci_high,log2_ratio,cohens_h,"
      "log_odds_ratio,log_odds_ratio_ci_low,log_odds_ratio_ci_high,diff_length_adjusted,p_cmh,q_cmh,length_confounded,"
      "rank_abs,rank_rel,rank_sig,cluster,llm_label,n_pairs,only_baseline,only_candidate,p_paired,q_paired,q_cmh_significant\n";
  for (const FeatureDiff& d : rows) {
    const auto f = static_cast<size_t>(d.feature);
    const auto cl = notes.cluster.find(d.feature);
    csv += cat(d.feature, ',', csv_escape(notes.labels[f]), ',', fixed(d.freq_baseline), ',', fixed(d.freq_candidate), ',',
               fixed(d.diff), ',', d.count_baseline, ',', d.count_candidate, ',', general(d.p_value), ',', general(d.q_value), ',',
               fixed(d.ci_low_baseline), ',', fixed(d.ci_high_baseline), ',', fixed(d.ci_low_candidate), ',',
               fixed(d.ci_high_candidate), ',', fixed(d.diff_ci_low), ',', fixed(d.diff_ci_high), ',', fixed(d.log2_ratio), ',',
               fixed(d.cohens_h), ',', fixed(d.log_odds_ratio), ',', fixed(d.lor_ci_low), ',', fixed(d.lor_ci_high), ',',
               std::isfinite(d.diff_length_adjusted) ? fixed(d.diff_length_adjusted) : std::string(), ',', general(d.p_cmh), ',',
               general(d.q_cmh), ',', d.length_confounded ? 1 : 0, ',', d.rank_abs, ',', d.rank_rel, ',', d.rank_sig, ',',
               cl == notes.cluster.end() ? std::string() : std::to_string(cl->second), ',',
               notes.llm_labels.empty() ? std::string() : csv_escape(notes.llm_labels[f]), ',', d.n_pairs, ',',
               d.only_baseline, ',', d.only_candidate, ',', d.n_pairs > 0 ? general(d.p_paired) : std::string(), ',',
               d.n_pairs > 0 ? general(d.q_paired) : std::string(), ',',
               std::isfinite(d.q_cmh_significant) ? general(d.q_cmh_significant) : std::string(), '\n');
  }
  write_file_atomic(path, csv);
}

DiffSummary run_diff(const DiffConfig& config, const std::string& resolved_config) {
  SAEDIFF_CHECK(!config.encoded.empty(), "diff needs --encoded FILE.h5");
  SAEDIFF_CHECK(!config.out.empty(), "diff needs --out DIR");
  SAEDIFF_CHECK(config.baseline != config.candidate, "baseline and candidate are the same set '", config.baseline, "'");
  SAEDIFF_CHECK(config.top_k > 0 && config.top_docs >= 0, "--top-k must be > 0 and --top-docs >= 0");
  check_output_path(config.out, OutputKind::folder, "diff --out");
  const EncodedFile file = read_encoded_h5(config.encoded);
  Analysis a(config, file, file.set(config.baseline), file.set(config.candidate));
  a.labels = load_feature_labels(config.labels, file.d_sae);
  if (a.labels.source.empty()) log_warn("diff: no feature labels: ", a.labels.missing_reason);
  else log_info("diff: labels for ", a.labels.n_labelled, " of ", file.d_sae, " features from ", a.labels.source);
  a.notes.labels = a.labels.labels;
  if (!config.llm_labels.empty()) {
    a.llm = read_llm_labels(config.llm_labels);
    a.notes.llm_labels.assign(static_cast<size_t>(file.d_sae), "");
    for (const LlmLabel& l : a.llm.features) {
      SAEDIFF_CHECK(l.feature >= 0 && l.feature < file.d_sae, config.llm_labels, ": feature ", l.feature, " outside [0, ",
                    file.d_sae, ")");
      a.llm_by_feature[l.feature] = &l;
      a.notes.llm_labels[static_cast<size_t>(l.feature)] = l.label;
    }
  }

  Findings findings;
  bool has_findings = !config.findings.empty();
  if (has_findings) {
    findings = read_findings(config.findings);
    std::string mismatch;
    if (findings.baseline != config.baseline || findings.candidate != config.candidate) {
      mismatch = cat("the findings compare '", findings.candidate, "' with '", findings.baseline, "', this diff '",
                     config.candidate, "' with '", config.baseline, "'");
    } else if (findings.encoded_fingerprint != set_fingerprint(a.base) + "-" + set_fingerprint(a.cand)) {
      mismatch = cat("the findings were made from other data than ", config.encoded,
                     " (its sets' documents or features differ): run interpret again");
    }
    if (!mismatch.empty()) {
      SAEDIFF_CHECK(config.findings_optional, config.findings, ": ", mismatch);
      log_warn("diff: ", config.findings, " left out of the report: ", mismatch);
      has_findings = false;
    }
  }

  const OutputLock lock(config.out, "diff --out");  // everything that can refuse the run has passed
  const std::vector<int64_t> counts_b = active_counts(a.base, file.d_sae, config.threshold);
  const std::vector<int64_t> counts_c = active_counts(a.cand, file.d_sae, config.threshold);
  // The counts reduced across ranks at encode time must agree with the stored rows.
  for (const EncodedSet* set : {&a.base, &a.cand}) {
    if (set->active_threshold == config.threshold) {
      SAEDIFF_CHECK((set == &a.base ? counts_b : counts_c) == set->active_docs, "set '", set->name,
                    "': active_docs in the file disagree with the stored max rows (corrupt or mixed file)");
    }
  }
  a.n_b = static_cast<int64_t>(a.base.doc_ids.size());
  a.n_c = static_cast<int64_t>(a.cand.doc_ids.size());
  a.rows = diff_sets(counts_b, a.n_b, counts_c, a.n_c);
  a.strata = length_strata(a.base.n_pooled, a.cand.n_pooled, config.length_bins);
  apply_length_control(a.rows, a.base, a.cand, a.strata, config.threshold, config.alpha);
  apply_pairing(a.rows, a.base, a.cand, config.threshold);
  for (const FeatureDiff& d : a.rows) {
    if (d.diff > 0 && a.up.size() < static_cast<size_t>(config.top_k)) a.up.push_back(&d);
    if (d.diff < 0 && a.down.size() < static_cast<size_t>(config.top_k)) a.down.push_back(&d);
    if (d.q_value < config.alpha) {
      ++a.n_significant;
      ++(d.diff > 0 ? a.n_sig_up : a.n_sig_down);
      a.n_confounded += d.length_confounded ? 1 : 0;
    }
  }
  for (const FeatureDiff& d : a.rows) {
    if (d.rank_sig <= 10) a.by_sig.push_back(&d);
    if (d.rank_rel <= 10) a.by_rel.push_back(&d);
  }
  std::sort(a.by_sig.begin(), a.by_sig.end(), [](auto* x, auto* y) { return x->rank_sig < y->rank_sig; });
  std::sort(a.by_rel.begin(), a.by_rel.end(), [](auto* x, auto* y) { return x->rank_rel < y->rank_rel; });
  cluster_top_features(a);

  const fs::path out(config.out);
  fs::create_directories(out);
  write_features_csv((out / "features.csv").string(), a.rows, a.notes);

  // Figures, written beside the report and inlined into the HTML.
  const FigureNames names{config.baseline, config.candidate};
  const std::string svg_scatter = scatter_svg(a.rows, a.up, a.down, names, a.labels.labels);
  const std::string svg_volcano = volcano_svg(a.rows, a.up, a.down, config.alpha, names, a.labels.labels);
  const std::string svg_bars = top_diff_bars_svg(a.up, a.down, a.labels.labels, names);
  const std::string svg_lengths = length_hist_svg(a.base.n_pooled, a.cand.n_pooled, names);
  for (const auto& [file_name, svg] : {std::pair{"freq_scatter.svg", &svg_scatter}, std::pair{"volcano.svg", &svg_volcano},
                                       std::pair{"top_diff.svg", &svg_bars}, std::pair{"lengths.svg", &svg_lengths}}) {
    write_file_atomic((out / file_name).string(), *svg);
  }

  ReportDoc doc;
  const std::string title = cat("saediff report: ", config.candidate, " vs ", config.baseline);
  doc.heading(1, md_escape(title));
  doc.paragraph(cat("Which SAE features fire in more or fewer of **", md_escape(config.candidate), "**'s answers than of **",
                    md_escape(config.baseline), "**'s. A document has a feature when its pooled max activation exceeds ",
                    config.threshold, "; diff = freq(", md_escape(config.candidate), ") − freq(", md_escape(config.baseline),
                    "), in percentage points (pp)."));
  if (a.labels.source.empty()) doc.note(cat("**No feature labels.** ", md_escape(a.labels.missing_reason), "."));
  if (a.n_b < 30 || a.n_c < 30) {
    doc.note(cat("With fewer than 30 documents in a set, one document moves a frequency by ",
                 pct(1.0 / static_cast<double>(std::min(a.n_b, a.n_c))), ": read small diffs as noise."));
  }
  if (has_findings) verified_findings_section(doc, findings, a.labels.labels);
  doc.heading(2, "Key findings", "findings");
  doc.bullets(key_findings(a));
  dataset_summary(doc, a);
  doc.figure("lengths.svg", svg_lengths, "Tokens per document (pooled), per set.");
  doc.heading(2, "Overview", "overview");
  doc.figure("top_diff.svg", svg_bars, "Top features by |diff|, with Newcombe 95% intervals.");
  doc.figure("volcano.svg", svg_volcano, cat("Diff against significance (−log10 q); dashed: q = ", config.alpha, "."));
  doc.figure("freq_scatter.svg", svg_scatter, "Frequency of every active feature in the two sets.");
  doc.heading(2, cat("Features more frequent in ", md_escape(config.candidate)), "up");
  feature_table(doc, a, a.up);
  doc.heading(2, cat("Features more frequent in ", md_escape(config.baseline)), "down");
  feature_table(doc, a, a.down);
  doc.heading(2, "Other rankings", "rankings");
  doc.paragraph("By significance (p-value): a small change in a common feature can be more certain than a large one in a "
                "rare feature.");
  feature_table(doc, a, a.by_sig);
  doc.paragraph("By relative change (|log2 ratio| of smoothed frequencies): rare features that appear or vanish.");
  feature_table(doc, a, a.by_rel);

  doc.heading(2, "Features that agree", "clusters");
  if (a.clusters.empty()) {
    doc.paragraph(cat("No group of top features co-occurs with NPMI >= ", config.cluster_npmi, "."));
  } else {
    std::vector<std::vector<std::string>> cells;
    for (size_t i = 0; i < a.clusters.size(); ++i) {
      std::string members;
      for (int32_t f : a.clusters[i].features) members += (members.empty() ? "" : "; ") + md_escape(a.name(f));
      cells.push_back({std::to_string(i + 1), std::to_string(a.clusters[i].features.size()), fixed(a.clusters[i].mean_npmi, 2), members});
    }
    doc.table({"cluster", "features", "mean NPMI", "members"}, cells, "rrrl");
  }

  doc.heading(2, "Length control", "length");
  {
    std::vector<int64_t> docs_b(static_cast<size_t>(a.strata.n_strata()), 0), docs_c(docs_b.size(), 0);
    for (int32_t s : a.strata.baseline) ++docs_b[static_cast<size_t>(s)];
    for (int32_t s : a.strata.candidate) ++docs_c[static_cast<size_t>(s)];
    std::vector<std::vector<std::string>> cells;
    for (size_t s = 0; s < docs_b.size(); ++s) {
      const int64_t lo = s == 0 ? 0 : a.strata.edges[s - 1] + 1;
      cells.push_back({std::to_string(s + 1), cat(lo, "–", a.strata.edges[s]), std::to_string(docs_b[s]), std::to_string(docs_c[s])});
    }
    doc.table({"stratum", "tokens pooled", md_escape(config.baseline), md_escape(config.candidate)}, cells, "rrrr");
    int64_t shared = 0;
    for (size_t s = 0; s < docs_b.size(); ++s) shared += docs_b[s] > 0 && docs_c[s] > 0 ? docs_b[s] + docs_c[s] : 0;
    const double share = static_cast<double>(shared) / static_cast<double>(a.n_b + a.n_c);
    if (share < 0.5) {
      doc.note(cat("Only ", pct(share), " of the documents are in strata that hold both sets: answer length and set are "
                   "nearly inseparable here, so the length control has little power and flags most differences."));
    }
    std::vector<const FeatureDiff*> flagged;
    for (const FeatureDiff& d : a.rows)
      if (d.length_confounded && flagged.size() < static_cast<size_t>(config.top_k)) flagged.push_back(&d);
    doc.paragraph(cat(a.n_confounded, " of the ", a.n_significant, " significant features are length-confounded",
                      flagged.empty() ? "." : "; the largest:"));
    if (!flagged.empty()) feature_table(doc, a, flagged);
  }

  doc.heading(2, "Feature cards", "cards");
  doc.paragraph(cat("For each top feature: frequencies with Wilson intervals, tests, effect sizes, the breakdown by prompt "
                    "category, and the documents where it is strongest in each set. In the excerpts, ⟦text|value⟧ (Markdown) "
                    "or shading (HTML) marks the tokens where the feature fires, with its activation: exact values from "
                    "the encode stage's evidence pass where it covered the feature and document, otherwise the tokens "
                    "where the feature is among the ",
                    file.attrs.integer.count("token_topk") ? std::to_string(file.attrs.integer.at("token_topk")) : std::string("stored"),
                    " strongest features (said in the excerpt's title)."));
  for (const auto* list : {&a.up, &a.down})
    for (const FeatureDiff* d : *list) feature_card(doc, a, *d);
  methodology(doc, a);
  doc.heading(2, "Configuration", "config");
  doc.code(resolved_config);
  doc.paragraph(cat("saediff ", kVersion, " (", kGitCommit, ")"));
  write_file_atomic((out / "report.md").string(), doc.markdown());
  write_file_atomic((out / "report.html").string(), doc.html(title));

  // The notebook finds the files relative to its folder when it can.
  std::error_code ec;
  fs::path encoded_rel = fs::relative(fs::absolute(config.encoded), fs::absolute(out), ec);
  if (ec || encoded_rel.empty()) encoded_rel = fs::absolute(config.encoded);
  write_file_atomic((out / "analysis.ipynb").string(),
                    analysis_notebook(encoded_rel.string(), "features.csv", config.baseline, config.candidate, config.threshold));

  nlohmann::json summary;
  const auto set_json = [&](const EncodedSet& s, int64_t n) {
    int64_t tokens = 0;
    for (int64_t t : s.n_pooled) tokens += t;
    const LengthStats l = length_stats(s.n_pooled);
    return nlohmann::json{{"set", s.name}, {"model", s.model_id}, {"n_docs", n}, {"n_failed", s.failed_doc_ids.size()},
                          {"n_truncated", s.truncated_doc_ids.size()}, {"n_cut", s.cut_doc_ids.size()},
                          {"n_tokens_pooled", tokens},
                          {"tokens_per_doc", {{"min", l.min}, {"p25", l.p25}, {"median", l.median}, {"p75", l.p75},
                                              {"max", l.max}, {"mean", l.mean}}},
                          {"collected", {s.collected_first, s.collected_last}}};
  };
  summary["baseline"] = set_json(a.base, a.n_b);
  summary["candidate"] = set_json(a.cand, a.n_c);
  summary["threshold"] = config.threshold;
  summary["alpha"] = config.alpha;
  summary["d_sae"] = file.d_sae;
  summary["n_features_active"] = a.rows.size();
  summary["n_features_q_below_0.05"] = std::count_if(a.rows.begin(), a.rows.end(), [](const FeatureDiff& d) { return d.q_value < 0.05; });
  summary["n_significant"] = a.n_significant;
  summary["n_significant_up"] = a.n_sig_up;
  summary["n_significant_down"] = a.n_sig_down;
  summary["n_length_confounded"] = a.n_confounded;
  summary["length_strata"] = {{"edges", a.strata.edges}};
  summary["labels"] = {{"source", a.labels.source}, {"n_labelled", a.labels.n_labelled}, {"missing_reason", a.labels.missing_reason}};
  if (!config.llm_labels.empty()) summary["llm_labels"] = {{"source", config.llm_labels}, {"model", a.llm.model}};
  nlohmann::json clusters = nlohmann::json::array();
  for (const FeatureCluster& c : a.clusters) clusters.push_back({{"features", c.features}, {"mean_npmi", c.mean_npmi}});
  summary["clusters"] = clusters;
  summary["key_findings"] = key_findings(a);
  if (has_findings) {
    int64_t n_verified = 0;
    for (const Finding& h : findings.hypotheses) n_verified += h.verified ? 1 : 0;
    summary["verified_findings"] = {{"source", config.findings}, {"n_hypotheses", findings.hypotheses.size()},
                                    {"n_verified", n_verified}, {"verified", verified_finding_lines(findings)}};
  }
  summary["encoded"] = file.attrs.text;
  summary["encoded_int"] = file.attrs.integer;
  nlohmann::json top = nlohmann::json::array();
  for (size_t i = 0; i < a.rows.size() && i < 100; ++i) top.push_back(row_json(a.rows[i], a.notes));
  summary["top_features"] = top;
  summary["version"] = kVersion;
  summary["commit"] = kGitCommit;
  write_file_atomic((out / "summary.json").string(), summary.dump(2) + "\n");

  log_info("diff: ", a.n_b, " ", config.baseline, " vs ", a.n_c, " ", config.candidate, " documents, ", a.rows.size(),
           " active features, ", a.n_significant, " significant (", a.n_confounded, " length-confounded); report in ",
           config.out);
  DiffSummary s;
  s.n_baseline = a.n_b;
  s.n_candidate = a.n_c;
  s.n_failed_baseline = static_cast<int64_t>(a.base.failed_doc_ids.size());
  s.n_failed_candidate = static_cast<int64_t>(a.cand.failed_doc_ids.size());
  s.n_features = static_cast<int64_t>(a.rows.size());
  return s;
}

}  // namespace saediff
