#include "analysis/report_findings.h"

#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace saediff {
namespace {

std::string num(const char* f, double v) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

std::string share_cell(const HypothesisStats& s) {
  if (!std::isfinite(s.share)) return "–";
  return cat(num("%.0f%%", 100 * s.share), " [", num("%.0f", 100 * s.ci_low), "–", num("%.0f", 100 * s.ci_high), "%]");
}

std::string wins_cell(const HypothesisStats& s) { return cat(s.wins_candidate, " / ", s.wins_baseline, " / ", s.ties); }

std::string features_cell(const Finding& h, const std::vector<std::string>& labels) {
  std::string out;
  for (int32_t f : h.features) {
    const bool has = f >= 0 && static_cast<size_t>(f) < labels.size() && !labels[static_cast<size_t>(f)].empty();
    out += (out.empty() ? "" : "; ") + cat("#", f, has ? " " + md_escape(labels[static_cast<size_t>(f)]) : std::string());
  }
  return out.empty() ? (h.source == "baseline" ? "(raw pairs)" : "–") : out;
}

std::string direction(const Finding& h, const Findings& f) {
  if (h.stats.wins_candidate > h.stats.wins_baseline) return cat("**", md_escape(f.candidate), "** fits it better");
  if (h.stats.wins_baseline > h.stats.wins_candidate) return cat("**", md_escape(f.baseline), "** fits it better (against)");
  return "no lean";
}

}  // namespace

std::vector<std::string> verified_finding_lines(const Findings& f) {
  std::vector<std::string> out;
  for (const Finding& h : f.hypotheses) {
    if (!h.verified) continue;
    out.push_back(cat(md_escape(h.text), " (", h.source, "; ", f.candidate, "'s answer fits it better in ",
                      num("%.0f%%", 100 * h.stats.share), " of ", h.stats.wins_candidate + h.stats.wins_baseline,
                      " decided held-out pairs, q = ", num("%.3g", h.q), ")"));
  }
  return out;
}

void verified_findings_section(ReportDoc& doc, const Findings& f, const std::vector<std::string>& labels) {
  doc.heading(2, "Verified findings", "verified");
  int64_t n_sae = 0, n_base = 0, v_sae = 0, v_base = 0;
  for (const Finding& h : f.hypotheses) {
    (h.source == "sae" ? n_sae : n_base) += 1;
    (h.source == "sae" ? v_sae : v_base) += h.verified ? 1 : 0;
  }
  doc.paragraph(cat(
      "Hypotheses about how **", md_escape(f.candidate), "**'s answers differ from **", md_escape(f.baseline),
      "**'s, proposed by `", md_escape(f.proposer), "` from the discovery part of the prompts (", f.discovery.size(),
      ") and tested by `", md_escape(f.judge), "` on the held-out part only (", f.held_out.size(), " prompts, ",
      f.held_out_pairs.size(), " answered by both; split by seed ", f.seed, ", stratified by category). The judge sees each "
      "hypothesis with the two answers to a prompt as A and B, in both orders; a pair counts for a model only when both "
      "orders pick its answer, else it is a tie. Share: the candidate's share of decided pairs, with a Wilson 95% interval; "
      "p: two-sided exact sign test; q: Benjamini-Hochberg within each source. **Verified** means q < ", f.alpha,
      " with the candidate's answers fitting the hypothesis better. Source `sae`: from the top features of the discovery "
      "part; `baseline`: from raw discovery answer pairs alone, no features (the LLM-only baseline)."));
  std::vector<const Finding*> verified, rest;
  for (const Finding& h : f.hypotheses) (h.verified ? verified : rest).push_back(&h);
  if (f.hypotheses.empty()) {
    doc.note(cat("**No hypothesis was tested**: the proposer gave none (", f.n_failed_proposals, " request(s) failed, ",
                 f.n_unparsed_proposals, " answer(s) held no hypotheses JSON; see the interpret log)."));
  } else if (verified.empty()) {
    doc.note(cat("**No hypothesis was verified** (", f.hypotheses.size(), " tested on ", f.held_out_pairs.size(),
                 " held-out pairs). The feature differences below are not confirmed as behaviour an LLM judge can see."));
  } else {
    std::vector<std::vector<std::string>> cells;
    for (size_t i = 0; i < verified.size(); ++i) {
      const Finding& h = *verified[i];
      cells.push_back({std::to_string(i + 1), md_escape(h.text), h.source, direction(h, f), share_cell(h.stats),
                       wins_cell(h.stats), num("%.3g", h.q), features_cell(h, labels)});
    }
    doc.table({"#", "hypothesis", "source", "direction", "candidate share [95% CI]",
               cat("wins ", md_escape(f.candidate), " / ", md_escape(f.baseline), " / ties"), "q", "features"},
              cells, "rlllrrrl");
    for (size_t i = 0; i < verified.size(); ++i) {
      const Finding& h = *verified[i];
      doc.heading(3, cat("Finding ", i + 1, ": ", md_escape(h.text)), cat("verified-", h.id));
      for (const FindingExample& e : h.examples) {
        doc.paragraph(cat("Held-out prompt `", md_escape(e.prompt_id), "`: judged for **",
                          e.winner == "candidate" ? md_escape(f.candidate) : e.winner == "baseline" ? md_escape(f.baseline) : "neither (tie)",
                          "**."));
        doc.code(cat("Prompt: ", e.prompt, "\n\n--- ", f.candidate, " ---\n", e.candidate, "\n\n--- ", f.baseline, " ---\n",
                     e.baseline));
      }
    }
  }
  if (!rest.empty()) {
    doc.paragraph(cat("**Not verified** (", rest.size(), "):"));
    std::vector<std::vector<std::string>> cells;
    for (const Finding* h : rest) {
      cells.push_back({md_escape(h->text), h->source, direction(*h, f), share_cell(h->stats), wins_cell(h->stats),
                       num("%.3g", h->q), features_cell(*h, labels)});
    }
    doc.table({"hypothesis", "source", "lean", "candidate share [95% CI]", "wins / ties", "q", "features"}, cells, "lllrrrl");
  }
  std::vector<std::string> compare = {
      cat("From SAE features: **", v_sae, "** of ", n_sae, " hypotheses verified."),
      cat("From raw answer pairs alone (no features): **", v_base, "** of ", n_base, " verified.")};
  for (const FindingOverlap& o : f.overlaps) {
    std::string a, b;
    for (const Finding& h : f.hypotheses) {
      if (h.id == o.sae) a = h.text;
      if (h.id == o.baseline) b = h.text;
    }
    compare.push_back(cat("Overlap: \"", md_escape(a), "\" (sae) and \"", md_escape(b), "\" (baseline) pick the same answer in ",
                          num("%.0f%%", 100 * o.agreement), " of the ", o.n_both, " held-out pairs both decided."));
  }
  if (f.overlaps.empty() && n_sae > 0 && n_base > 0) {
    compare.push_back("No SAE hypothesis and baseline hypothesis agree on 80% or more of the pairs both decided.");
  }
  int64_t missing = 0, unparsed = 0;
  for (const Finding& h : f.hypotheses) {
    missing += h.n_missing;
    unparsed += h.n_unparsed;
  }
  if (missing > 0) {
    compare.push_back(cat(missing, " (hypothesis, pair) judgments are missing: their requests failed (run interpret again to "
                          "ask them); those pairs are left out of n_pairs."));
  }
  if (unparsed > 0) compare.push_back(cat(unparsed, " judge answers held no verdict and counted as \"neither\"."));
  if (f.n_unparsed_proposals > 0) {
    compare.push_back(cat(f.n_unparsed_proposals, " proposer answer(s) held no hypotheses JSON (see the interpret log)."));
  }
  doc.bullets(compare);
}

}  // namespace saediff
