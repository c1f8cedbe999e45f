// The report's clustering of its top features (analysis/clusters.h): average linkage over document co-occurrence
// NPMI, by nearest-neighbour chain, at the sizes `diff --top-k K` asks for (2K features: K per direction).
//   build/bench/bench_cluster [--features 1000,4000,10000] [--docs 96] [--groups 40] [--reps 3] [--json]
// Features are drawn in groups that share documents (each feature keeps 50-100% of its group's documents, plus
// noise), so that the clustering has real structure to find. Reports seconds per size (mean ± sd over --reps after
// a warm-up), the clusters found, and the similarity matrix's bytes (m(m-1)/2 doubles); --json prints one object.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "analysis/clusters.h"
#include "core/timer.h"
#include "saediff/version.h"
#include "stats.h"

using namespace saediff;

namespace {

struct Case {
  std::vector<int32_t> features;
  std::vector<std::vector<int64_t>> docs;
};

Case make_case(size_t m, int64_t n_docs, size_t n_groups, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<bool>> group(n_groups, std::vector<bool>(static_cast<size_t>(n_docs)));
  for (auto& g : group)
    for (int64_t d = 0; d < n_docs; ++d) g[static_cast<size_t>(d)] = rng() % 5 == 0;
  Case c;
  for (size_t i = 0; i < m; ++i) {
    c.features.push_back(static_cast<int32_t>(i));
    const auto& g = group[rng() % n_groups];
    const uint64_t keep = 50 + rng() % 51;
    std::vector<int64_t> docs;
    for (int64_t d = 0; d < n_docs; ++d) {
      if ((g[static_cast<size_t>(d)] && rng() % 100 < keep) || rng() % 50 == 0) docs.push_back(d);
    }
    c.docs.push_back(std::move(docs));
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_cluster: the report's top-feature clustering (nearest-neighbour chain) by size"};
  std::string sizes_text = "1000,4000,10000";
  int64_t n_docs = 96;
  size_t n_groups = 40;
  int reps = 3;
  double min_npmi = 0.3;
  bool json = false;
  app.add_option("--features", sizes_text, "Comma-separated feature counts (diff --top-k K clusters 2K)");
  app.add_option("--docs", n_docs, "Documents (both sets; the demo has 96)")->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  app.add_option("--groups", n_groups, "Groups of co-occurring features")->check(CLI::Range(size_t{1}, size_t{1} << 20));
  app.add_option("--reps", reps, "Timed repetitions (after one warm-up)")->check(CLI::Range(1, 100));
  app.add_option("--cluster-npmi", min_npmi, "Linkage at which clusters join (diff's default 0.3)");
  app.add_flag("--json", json, "Print one JSON object");
  CLI11_PARSE(app, argc, argv);

  nlohmann::json rows = nlohmann::json::array();
  std::stringstream in(sizes_text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto m = static_cast<size_t>(std::stoll(item));
    const Case c = make_case(m, n_docs, n_groups, 42 + m);
    size_t n_clusters = cluster_features(c.features, c.docs, n_docs, min_npmi).size();  // warm-up
    std::vector<double> seconds;
    for (int r = 0; r < reps; ++r) {
      const Timer t;
      n_clusters = cluster_features(c.features, c.docs, n_docs, min_npmi).size();
      seconds.push_back(t.seconds());
    }
    const bench::Stats s = bench::stats(seconds);
    const double matrix_bytes = static_cast<double>(m) * static_cast<double>(m - 1) / 2 * sizeof(double);
    rows.push_back({{"features", m}, {"top_k", m / 2}, {"seconds_mean", s.mean}, {"seconds_sd", s.sd},
                    {"clusters", n_clusters}, {"matrix_bytes", matrix_bytes}});
    if (!json) {
      std::printf("%6zu features (--top-k %zu): %8.3f ± %.3f s, %zu clusters, matrix %.0f MB\n", m, m / 2, s.mean, s.sd,
                  n_clusters, matrix_bytes / 1e6);
    }
  }
  if (json) {
    const nlohmann::json out = {{"bench", "cluster"}, {"commit", kGitCommit}, {"docs", n_docs}, {"groups", n_groups},
                                {"reps", reps},       {"cluster_npmi", min_npmi}, {"sizes", rows}};
    std::printf("%s\n", out.dump().c_str());
  }
  return 0;
}
