#include "collect/ask.h"

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "io/prompts.h"
#include "io/responses.h"

namespace saediff {

AskResult ask_model(const CollectConfig& client, const std::string& model_id, const std::string& folder,
                    const std::vector<std::pair<std::string, std::string>>& prompts, const std::string& what) {
  namespace fs = std::filesystem;
  fs::create_directories(folder);
  std::string csv = "id,category,prompt\n";
  for (const auto& [id, text] : prompts) csv += csv_escape(id) + "," + csv_escape(what) + "," + csv_escape(text) + "\n";
  const std::string csv_path = (fs::path(folder) / "prompts.csv").string();
  write_file_atomic(csv_path, csv);
  CollectConfig c = client;
  c.prompts = csv_path;
  c.out = folder;
  c.models = {{what, model_id}};
  AskResult result;
  result.summary = collect_responses(c);
  SAEDIFF_CHECK(result.summary.interrupted_by == 0, what, ": interrupted by signal ", result.summary.interrupted_by,
                "; run again to resume (recorded answers are not requested again)");
  const ReadResponsesResult read = read_responses((fs::path(folder) / "responses.jsonl").string());
  for (const ResponseRecord& r : latest_outcomes(read.records))
    if (r.ok()) result.answers[r.prompt_id] = *r.response;
  return result;
}

void AskTotals::add(const CollectSummary& s) {
  n_requested += s.n_ok + s.n_failed;
  n_resumed += s.n_skipped;
  n_failed += s.n_failed;
  n_retries += s.n_retries;
  for (const auto& [set, u] : s.usage) {
    usage.n_ok += u.n_ok;
    usage.n_failed += u.n_failed;
    usage.n_truncated += u.n_truncated;
    usage.prompt_tokens += u.prompt_tokens;
    usage.completion_tokens += u.completion_tokens;
    usage.reasoning_tokens += u.reasoning_tokens;
    usage.cost += u.cost;
    usage.has_cost = usage.has_cost || u.has_cost;
  }
}

}  // namespace saediff
