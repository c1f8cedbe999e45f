#pragma once
// The report's "Verified findings" section, from interpret's findings.json.
#include <string>
#include <vector>

#include "analysis/findings.h"
#include "analysis/report_doc.h"

namespace saediff {

// Verified hypotheses first (direction, share with CI, q, the features behind them, two held-out pairs), then
// those not verified, then how the SAE and the LLM-only sources compare. `labels` [d_sae] names features.
void verified_findings_section(ReportDoc& doc, const Findings& findings, const std::vector<std::string>& labels);

// One line per verified finding, for the key findings and summary.json.
std::vector<std::string> verified_finding_lines(const Findings& findings);

}  // namespace saediff
