#include "analysis/report.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "io/prompts.h"
#include "saediff/version.h"

namespace saediff {
namespace {

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

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

struct Evidence {
  std::string doc_id;
  float max = 0.0f;
};

// The documents of `set` with the highest pooled max for `feature`.
std::vector<Evidence> top_documents(const EncodedSet& set, int32_t feature, int k) {
  std::vector<Evidence> all;
  for (size_t r = 0; r + 1 < set.max.indptr.size(); ++r) {
    const auto b = set.max.indices.begin() + set.max.indptr[r];
    const auto e = set.max.indices.begin() + set.max.indptr[r + 1];
    const auto it = std::lower_bound(b, e, feature);
    if (it != e && *it == feature) {
      all.push_back({set.doc_ids[r], set.max.values[static_cast<size_t>(it - set.max.indices.begin())]});
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Evidence& a, const Evidence& b) { return a.max > b.max; });
  if (all.size() > static_cast<size_t>(k)) all.resize(static_cast<size_t>(k));
  return all;
}

std::string evidence_cell(const std::vector<Evidence>& ev) {
  std::string out;
  for (const Evidence& e : ev) out += (out.empty() ? "" : ", ") + md_escape(e.doc_id) + " (" + fixed(e.max, 2) + ")";
  return out.empty() ? "–" : out;
}

void feature_table(std::ostringstream& md, const std::vector<const FeatureDiff*>& rows, const EncodedSet& base,
                   const EncodedSet& cand, const std::vector<std::string>& labels, const DiffConfig& config) {
  md << "| rank | feature | label | freq " << md_escape(config.baseline) << " | freq " << md_escape(config.candidate)
     << " | diff | q | top " << md_escape(config.baseline) << " docs (max) | top " << md_escape(config.candidate)
     << " docs (max) |\n|---:|---:|---|---:|---:|---:|---:|---|---|\n";
  int rank = 0;
  for (const FeatureDiff* d : rows) {
    md << "| " << ++rank << " | " << d->feature << " | " << md_escape(labels[static_cast<size_t>(d->feature)]) << " | "
       << fixed(d->freq_baseline, 3) << " (" << d->count_baseline << ") | " << fixed(d->freq_candidate, 3) << " ("
       << d->count_candidate << ") | " << (d->diff > 0 ? "+" : "") << fixed(d->diff, 3) << " | " << general(d->q_value)
       << " | "
       << evidence_cell(top_documents(base, d->feature, config.top_docs)) << " | "
       << evidence_cell(top_documents(cand, d->feature, config.top_docs)) << " |\n";
  }
  if (rows.empty()) md << "| – | | | | | | | | |\n";
}

std::string html_escape(const std::string& in) {
  std::string out;
  for (char c : in) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string html_evidence(const std::vector<Evidence>& ev) {
  std::string out;
  for (const Evidence& e : ev) out += (out.empty() ? "" : ", ") + html_escape(e.doc_id) + " (" + fixed(e.max, 2) + ")";
  return out.empty() ? "–" : out;
}

void html_feature_table(std::ostringstream& h, const std::vector<const FeatureDiff*>& rows, const EncodedSet& base,
                        const EncodedSet& cand, const std::vector<std::string>& labels, const DiffConfig& config) {
  h << "<table><tr><th>rank</th><th>feature</th><th>label</th><th>freq " << html_escape(config.baseline)
    << "</th><th>freq " << html_escape(config.candidate) << "</th><th>diff</th><th>q</th><th>top "
    << html_escape(config.baseline) << " docs (max)</th><th>top " << html_escape(config.candidate)
    << " docs (max)</th></tr>\n";
  int rank = 0;
  for (const FeatureDiff* d : rows) {
    h << "<tr><td>" << ++rank << "</td><td class=\"feature\">" << d->feature << "</td><td>"
      << html_escape(labels[static_cast<size_t>(d->feature)]) << "</td><td>" << fixed(d->freq_baseline, 3) << " ("
      << d->count_baseline << ")</td><td>" << fixed(d->freq_candidate, 3) << " (" << d->count_candidate << ")</td><td>"
      << (d->diff > 0 ? "+" : "") << fixed(d->diff, 3) << "</td><td>" << general(d->q_value) << "</td><td>"
      << html_evidence(top_documents(base, d->feature, config.top_docs)) << "</td><td>"
      << html_evidence(top_documents(cand, d->feature, config.top_docs)) << "</td></tr>\n";
  }
  h << "</table>\n";
}

// Scatter of every listed feature's frequency in the two sets; the top features are drawn in colour.
std::string scatter_svg(const std::vector<FeatureDiff>& rows, const std::vector<const FeatureDiff*>& up,
                        const std::vector<const FeatureDiff*>& down, const DiffConfig& config) {
  constexpr double kSize = 420, kPad = 50, kPlot = kSize - 2 * kPad;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kSize << "\" height=\"" << kSize
      << "\" viewBox=\"0 0 " << kSize << ' ' << kSize << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect x=\"" << kPad << "\" y=\"" << kPad << "\" width=\"" << kPlot << "\" height=\"" << kPlot
      << "\" fill=\"none\" stroke=\"#888\"/>\n"
      << "<line x1=\"" << kPad << "\" y1=\"" << kPad + kPlot << "\" x2=\"" << kPad + kPlot << "\" y2=\"" << kPad
      << "\" stroke=\"#ccc\"/>\n";
  auto circle = [&](double fb, double fc, double r, const char* colour, const std::string& title) {
    svg << "<circle cx=\"" << fixed(kPad + fb * kPlot, 1) << "\" cy=\"" << fixed(kPad + (1 - fc) * kPlot, 1)
        << "\" r=\"" << fixed(r, 1) << "\" fill=\"" << colour << "\" fill-opacity=\"0.5\"><title>" << title
        << "</title></circle>\n";
  };
  // Frequencies are count/n, so features pile up on a grid: one circle per (count, count) cell, its area
  // proportional to the number of features there. Keeps the figure small for 65,536 features.
  std::map<std::pair<int64_t, int64_t>, std::pair<const FeatureDiff*, int64_t>> cells;
  for (const FeatureDiff& d : rows) {
    auto& cell = cells[{d.count_baseline, d.count_candidate}];
    if (cell.first == nullptr) cell.first = &d;
    ++cell.second;
  }
  for (const auto& [key, cell] : cells) {
    circle(cell.first->freq_baseline, cell.first->freq_candidate, 1.5 + std::sqrt(static_cast<double>(cell.second)) / 2,
           "#999", cat(cell.second, " features"));
  }
  for (const FeatureDiff* d : up) circle(d->freq_baseline, d->freq_candidate, 3, "#c0392b", cat("feature ", d->feature));
  for (const FeatureDiff* d : down) circle(d->freq_baseline, d->freq_candidate, 3, "#2471a3", cat("feature ", d->feature));
  svg << "<text x=\"" << kSize / 2 << "\" y=\"" << kSize - 12 << "\" text-anchor=\"middle\">freq "
      << html_escape(config.baseline) << "</text>\n<text x=\"14\" y=\"" << kSize / 2
      << "\" text-anchor=\"middle\" transform=\"rotate(-90 14 " << kSize / 2 << ")\">freq "
      << html_escape(config.candidate) << "</text>\n<text x=\"" << kPad << "\" y=\"" << kPad - 10
      << "\">feature frequency, " << rows.size() << " features (top ones in colour)</text>\n</svg>\n";
  return svg.str();
}

}  // namespace

std::vector<std::string> read_labels(const std::string& path, int64_t d_sae) {
  std::vector<std::string> labels(static_cast<size_t>(d_sae));
  if (path.empty()) return labels;
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot open labels file '", path, "'");
  std::stringstream buf;
  buf << in.rdbuf();
  const auto rows = parse_csv(buf.str());
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
    int64_t f = -1;
    try {
      f = std::stoll(rows[i][c_feature]);
    } catch (const std::exception&) {
      SAEDIFF_FAIL(path, ": row ", i + 1, ": feature '", rows[i][c_feature], "' is not an integer");
    }
    SAEDIFF_CHECK(f >= 0 && f < d_sae, path, ": row ", i + 1, ": feature ", f, " outside [0, ", d_sae, ")");
    labels[static_cast<size_t>(f)] = rows[i][c_label];
  }
  return labels;
}

void write_features_csv(const std::string& path, const std::vector<FeatureDiff>& rows,
                        const std::vector<std::string>& labels) {
  std::ostringstream csv;
  csv << "feature,label,freq_baseline,freq_candidate,diff,count_baseline,count_candidate,p_value,q_value\n";
  for (const FeatureDiff& d : rows) {
    csv << d.feature << ',' << csv_escape(labels[static_cast<size_t>(d.feature)]) << ',' << fixed(d.freq_baseline) << ','
        << fixed(d.freq_candidate) << ',' << fixed(d.diff) << ',' << d.count_baseline << ',' << d.count_candidate << ','
        << general(d.p_value) << ',' << general(d.q_value) << '\n';
  }
  write_file_atomic(path, csv.str());
}

DiffSummary run_diff(const DiffConfig& config, const std::string& resolved_config) {
  SAEDIFF_CHECK(!config.encoded.empty(), "diff needs --encoded FILE.h5");
  SAEDIFF_CHECK(!config.out.empty(), "diff needs --out DIR");
  SAEDIFF_CHECK(config.baseline != config.candidate, "baseline and candidate are the same set '", config.baseline, "'");
  const EncodedFile file = read_encoded_h5(config.encoded);
  const EncodedSet& base = file.set(config.baseline);
  const EncodedSet& cand = file.set(config.candidate);
  const std::vector<std::string> labels = read_labels(config.labels, file.d_sae);

  const std::vector<int64_t> counts_b = active_counts(base, file.d_sae, config.threshold);
  const std::vector<int64_t> counts_c = active_counts(cand, file.d_sae, config.threshold);
  // The counts reduced across ranks at encode time must agree with the stored rows.
  for (const auto* pair : {&base, &cand}) {
    if (pair->active_threshold == config.threshold) {
      const auto& mine = pair == &base ? counts_b : counts_c;
      SAEDIFF_CHECK(mine == pair->active_docs, "set '", pair->name,
                    "': active_docs in the file disagree with the stored max rows (corrupt or mixed file)");
    }
  }
  const auto n_b = static_cast<int64_t>(base.doc_ids.size());
  const auto n_c = static_cast<int64_t>(cand.doc_ids.size());
  const std::vector<FeatureDiff> rows = diff_sets(counts_b, n_b, counts_c, n_c);

  std::filesystem::create_directories(config.out);
  write_features_csv((std::filesystem::path(config.out) / "features.csv").string(), rows, labels);

  std::vector<const FeatureDiff*> up, down;
  for (const FeatureDiff& d : rows) {
    if (d.diff > 0 && up.size() < static_cast<size_t>(config.top_k)) up.push_back(&d);
    if (d.diff < 0 && down.size() < static_cast<size_t>(config.top_k)) down.push_back(&d);
  }

  std::ostringstream md;
  md << "# saediff report: " << config.candidate << " vs " << config.baseline << "\n\n";
  md << "Feature frequencies of the candidate set **" << config.candidate << "** against the baseline set **"
     << config.baseline << "**. A document has a feature when the feature's pooled max activation is above "
     << config.threshold << "; a feature's frequency is the fraction of the set's documents that have it; diff = "
     << "freq(" << config.candidate << ") − freq(" << config.baseline << ").\n\n";
  md << "| | " << md_escape(config.baseline) << " | " << md_escape(config.candidate) << " |\n|---|---:|---:|\n";
  md << "| documents encoded | " << n_b << " | " << n_c << " |\n";
  md << "| responses that failed to collect (not encoded) | " << base.failed_doc_ids.size() << " | "
     << cand.failed_doc_ids.size() << " |\n";
  md << "| answers cut by max_tokens (finish_reason length; encoded) | " << base.truncated_doc_ids.size() << " | "
     << cand.truncated_doc_ids.size() << " |\n";
  int64_t tok_b = 0, tok_c = 0;
  for (int64_t t : base.n_pooled) tok_b += t;
  for (int64_t t : cand.n_pooled) tok_c += t;
  md << "| tokens pooled | " << tok_b << " | " << tok_c << " |\n\n";
  const auto attr = [&](const char* k) {
    auto it = file.attrs.text.find(k);
    return it == file.attrs.text.end() ? std::string("?") : it->second;
  };
  const auto iattr = [&](const char* k) {
    auto it = file.attrs.integer.find(k);
    return it == file.attrs.integer.end() ? std::string("?") : std::to_string(it->second);
  };
  md << "Reader `" << attr("model") << "` layer " << iattr("layer") << ", SAE `" << attr("sae") << "` ("
     << file.d_sae << " features), pooling `" << attr("pooling") << "`, dtype `" << attr("dtype")
     << "`. Features active in either set: " << rows.size() << ".\n\n";
  int64_t n_significant = 0;
  for (const FeatureDiff& d : rows) n_significant += d.q_value < 0.05 ? 1 : 0;
  md << "Significance: two-sided Fisher exact test per feature, Benjamini-Hochberg q-values over the " << rows.size()
     << " features tested; " << n_significant << " have q < 0.05. The test treats documents as independent "
     << "draws; it says nothing about whether a feature means what its label says.\n\n";
  if (n_b < 30 || n_c < 30) {
    md << "> With fewer than 30 documents in a set, a frequency difference of one document is "
       << fixed(1.0 / static_cast<double>(std::min(n_b, n_c)), 3) << ": read small diffs as noise.\n\n";
  }
  md << "## Features more frequent in " << md_escape(config.candidate) << "\n\n";
  feature_table(md, up, base, cand, labels, config);
  md << "\n## Features more frequent in " << md_escape(config.baseline) << "\n\n";
  feature_table(md, down, base, cand, labels, config);
  const auto failed_list = [&](const EncodedSet& s) {
    std::string out;
    for (const auto& id : s.failed_doc_ids) out += (out.empty() ? "" : ", ") + md_escape(id);
    return out.empty() ? std::string("none") : out;
  };
  md << "\n## Failed responses\n\n- " << md_escape(config.baseline) << ": " << failed_list(base) << "\n- "
     << md_escape(config.candidate) << ": " << failed_list(cand) << "\n\n";
  const auto truncated_list = [&](const EncodedSet& s) {
    std::string out;
    for (const auto& id : s.truncated_doc_ids) out += (out.empty() ? "" : ", ") + md_escape(id);
    return out.empty() ? std::string("none") : out;
  };
  md << "## Truncated answers\n\nCut off by max_tokens (finish_reason `length`). They are encoded, but a cut answer "
     << "can lack features of its ending (conclusions, sign-offs); if one set has many more, raise max_tokens and "
     << "collect again.\n\n- " << md_escape(config.baseline) << ": " << truncated_list(base) << "\n- "
     << md_escape(config.candidate) << ": " << truncated_list(cand) << "\n\n";
  md << "## Configuration\n\n```toml\n" << resolved_config << "```\n\nsaediff " << kVersion << " (" << kGitCommit
     << ")\n";
  write_file_atomic((std::filesystem::path(config.out) / "report.md").string(), md.str());

  const std::string svg = scatter_svg(rows, up, down, config);
  write_file_atomic((std::filesystem::path(config.out) / "freq_scatter.svg").string(), svg);
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>saediff: "
       << html_escape(config.candidate) << " vs " << html_escape(config.baseline) << "</title>\n<style>"
       << "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
       << "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}"
       << "th{background:#f4f4f4}pre{background:#f8f8f8;padding:1em;overflow:auto}</style></head><body>\n"
       << "<h1>saediff report: " << html_escape(config.candidate) << " vs " << html_escape(config.baseline) << "</h1>\n"
       << "<p>A document has a feature when its pooled max activation is above " << config.threshold
       << "; frequency is the fraction of a set's documents that have it; diff = freq(" << html_escape(config.candidate)
       << ") − freq(" << html_escape(config.baseline) << "). q: Benjamini-Hochberg over the " << rows.size()
       << " features tested (two-sided Fisher exact test); " << n_significant << " have q &lt; 0.05.</p>\n"
       << "<table><tr><th></th><th>" << html_escape(config.baseline) << "</th><th>" << html_escape(config.candidate)
       << "</th></tr><tr><td>documents encoded</td><td>" << n_b << "</td><td>" << n_c << "</td></tr>"
       << "<tr><td>responses that failed to collect</td><td>" << base.failed_doc_ids.size() << "</td><td>"
       << cand.failed_doc_ids.size() << "</td></tr><tr><td>answers cut by max_tokens (encoded)</td><td>"
       << base.truncated_doc_ids.size() << "</td><td>" << cand.truncated_doc_ids.size() << "</td></tr><tr><td>tokens pooled</td><td>" << tok_b << "</td><td>" << tok_c
       << "</td></tr></table>\n" << svg << "<h2>Features more frequent in " << html_escape(config.candidate) << "</h2>\n";
  html_feature_table(html, up, base, cand, labels, config);
  html << "<h2>Features more frequent in " << html_escape(config.baseline) << "</h2>\n";
  html_feature_table(html, down, base, cand, labels, config);
  html << "<h2>Configuration</h2>\n<pre>" << html_escape(resolved_config) << "</pre>\n<p>saediff " << kVersion << " ("
       << kGitCommit << ")</p>\n</body></html>\n";
  write_file_atomic((std::filesystem::path(config.out) / "report.html").string(), html.str());

  nlohmann::json summary;
  summary["baseline"] = {{"set", config.baseline}, {"n_docs", n_b}, {"n_failed", base.failed_doc_ids.size()},
                         {"n_truncated", base.truncated_doc_ids.size()}, {"n_tokens_pooled", tok_b}};
  summary["candidate"] = {{"set", config.candidate}, {"n_docs", n_c}, {"n_failed", cand.failed_doc_ids.size()},
                          {"n_truncated", cand.truncated_doc_ids.size()}, {"n_tokens_pooled", tok_c}};
  summary["threshold"] = config.threshold;
  summary["d_sae"] = file.d_sae;
  summary["n_features_active"] = rows.size();
  summary["n_features_q_below_0.05"] = n_significant;
  summary["encoded"] = file.attrs.text;
  summary["encoded_int"] = file.attrs.integer;
  nlohmann::json top = nlohmann::json::array();
  for (size_t i = 0; i < rows.size() && i < 100; ++i) {
    const FeatureDiff& d = rows[i];
    top.push_back({{"feature", d.feature}, {"label", labels[static_cast<size_t>(d.feature)]},
                   {"freq_baseline", d.freq_baseline}, {"freq_candidate", d.freq_candidate}, {"diff", d.diff},
                   {"count_baseline", d.count_baseline}, {"count_candidate", d.count_candidate},
                   {"p_value", d.p_value}, {"q_value", d.q_value}});
  }
  summary["top_features"] = top;
  summary["version"] = kVersion;
  summary["commit"] = kGitCommit;
  write_file_atomic((std::filesystem::path(config.out) / "summary.json").string(), summary.dump(2) + "\n");

  log_info("diff: ", n_b, " ", config.baseline, " vs ", n_c, " ", config.candidate, " documents, ", rows.size(),
           " active features; report in ", config.out);
  DiffSummary s;
  s.n_baseline = n_b;
  s.n_candidate = n_c;
  s.n_failed_baseline = static_cast<int64_t>(base.failed_doc_ids.size());
  s.n_failed_candidate = static_cast<int64_t>(cand.failed_doc_ids.size());
  s.n_features = static_cast<int64_t>(rows.size());
  return s;
}

}  // namespace saediff
