#include "analysis/search.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "analysis/diff.h"
#include "analysis/evidence.h"
#include "analysis/labels.h"
#include "analysis/report_doc.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "io/encoded_h5.h"

namespace saediff {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string fmt(const char* f, double v) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

}  // namespace

SearchSummary run_search(const SearchConfig& c) {
  SAEDIFF_CHECK(!c.encoded.empty(), "search needs --encoded FILE.h5");
  SAEDIFF_CHECK((c.feature >= 0) != !c.label.empty(), "search needs exactly one of --feature ID and --label TEXT");
  SAEDIFF_CHECK(c.label.empty() || (!c.labels.empty() && c.labels != "none"),
                "search --label needs the labels to search: --labels FILE.json|FILE.csv, or --labels hf");
  SAEDIFF_CHECK(c.docs > 0 && c.max_features > 0 && (c.window > 0 || c.window == -1),
                "search: --docs and --max-features must be > 0, --window > 0 or -1 (the whole document)");
  std::string format;
  if (!c.out.empty()) {
    const std::string ext = lower(std::filesystem::path(c.out).extension().string());
    SAEDIFF_CHECK(ext == ".md" || ext == ".html", "search --out '", c.out, "': the name must end in .md or .html");
    format = ext.substr(1);
    check_output_path(c.out, OutputKind::file, "search --out");
  }
  const EncodedFile file = read_encoded_h5(c.encoded);
  const FeatureLabels labels = load_feature_labels(c.labels, file.d_sae);
  SearchSummary summary;
  if (c.feature >= 0) {
    SAEDIFF_CHECK(c.feature < file.d_sae, "search --feature ", c.feature, " is outside the SAE's ", file.d_sae, " features");
    summary.features.push_back(c.feature);
  } else {
    const std::string needle = lower(c.label);
    for (int32_t f = 0; f < file.d_sae; ++f) {
      if (lower(labels.labels[static_cast<size_t>(f)]).find(needle) == std::string::npos) continue;
      ++summary.n_matched;
      if (static_cast<int>(summary.features.size()) < c.max_features) summary.features.push_back(f);
    }
    SAEDIFF_CHECK(summary.n_matched > 0, "search: no label in ", labels.source, " contains '", c.label, "' (",
                  labels.n_labelled, " features labelled)");
  }
  std::vector<const EncodedSet*> sets;
  if (c.sets.empty()) {
    for (const EncodedSet& s : file.sets) sets.push_back(&s);
  } else {
    for (const std::string& name : c.sets) sets.push_back(&file.set(name));
  }
  for (const EncodedSet* s : sets) {
    SAEDIFF_CHECK(s->texts.size() == s->doc_ids.size(), c.encoded, ": set '", s->name,
                  "' has no document text (written by an older saediff): encode again to search it");
  }

  ReportDoc doc;
  const std::string title = c.feature >= 0 ? cat("saediff search: feature ", c.feature) : cat("saediff search: label \"", c.label, "\"");
  doc.heading(1, md_escape(title));
  std::string intro = cat("From `", md_escape(c.encoded), "`. A document has the feature when its pooled max exceeds ",
                          file.attrs.threshold, ". In the excerpts, ⟦text|value⟧ (Markdown) or shading (HTML) marks the "
                          "tokens where the feature fires.");
  if (summary.n_matched > static_cast<int64_t>(summary.features.size())) {
    intro += cat(" ", summary.n_matched, " labels match; the first ", summary.features.size(), " by id are shown (--max-features).");
  }
  doc.paragraph(intro);
  std::cout << title << "\n";
  for (int32_t f : summary.features) {
    const std::string& label = labels.labels.empty() ? std::string() : labels.labels[static_cast<size_t>(f)];
    doc.heading(2, cat("Feature ", f, label.empty() ? std::string() : ": " + md_escape(label)), cat("f", f));
    std::cout << "\n== feature " << f << (label.empty() ? "" : ": " + label) << " ==\n";
    for (const EncodedSet* s : sets) {
      const std::vector<int64_t> counts = active_counts(*s, file.d_sae, file.attrs.threshold);
      const int64_t n = static_cast<int64_t>(s->doc_ids.size()), k = counts[static_cast<size_t>(f)];
      const std::string line = cat("set ", s->name, ": active in ", k, " of ", n, " documents (",
                                   fmt("%.1f%%", n > 0 ? 100.0 * static_cast<double>(k) / static_cast<double>(n) : 0.0), ")");
      doc.heading(3, md_escape(line));
      std::cout << "-- " << line << "\n";
      const std::vector<EvidenceDoc> top = top_documents(*s, f, c.docs);
      if (top.empty()) {
        doc.paragraph("The feature never fires in this set.");
        std::cout << "   (never fires)\n";
      }
      for (size_t i = 0; i < top.size(); ++i) {
        const TokenWindow w = token_window(*s, top[i].row, f, c.window);
        const std::string head = cat(i + 1, ". ", top[i].doc_id, " (pooled max ", fmt("%.3f", top[i].max),
                                     w.exact ? ", exact per-token values" : w.found ? ", per-token top-k" : ", not among the stored per-token top-k",
                                     ")");
        doc.excerpt(md_escape(head), w, top[i].max);
        std::string text = window_text(w, true);
        for (size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 7)) text.replace(at, 1, "\n      ");
        std::cout << "   " << head << "\n      " << text << "\n";
      }
    }
  }
  if (!c.out.empty()) {
    write_file_atomic(c.out, format == "md" ? doc.markdown() : doc.html(title));
    log_info("search: wrote ", c.out);
  }
  return summary;
}

}  // namespace saediff
