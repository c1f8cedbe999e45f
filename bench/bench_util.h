#pragma once
// Pieces the libtorch benchmarks share: their common options, the timed repetitions (slowest rank, mean ± sd),
// the header fields every --json object carries, random documents and their packing into batches, the shapes
// benchmarks run at, and the arithmetic of the reader and the SAE.
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app/device.h"
#include "core/timer.h"
#include "dist/mpi.h"
#include "model/llama.h"
#include "model/random_checkpoint.h"
#include "saediff/version.h"
#include "stats.h"

namespace saediff::bench {

// The slowest rank's seconds: a step is done when every rank is.
inline double slowest(double seconds) {
  MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return seconds;
}

// The options every libtorch benchmark takes.
struct TorchOptions {
  std::string dtype = "float32";
  std::string device = "cpu";
  int reps = 3;
  int threads = 0;
  bool json = false;
};

inline void add_torch_options(CLI::App& app, TorchOptions& o) {
  app.add_option("--reps", o.reps, "Timed repetitions (after one warm-up)")->check(CLI::Range(1, 1000));
  app.add_option("--dtype", o.dtype, "float32 or bfloat16");
  app.add_option("--device", o.device, "cpu or cuda");
  app.add_option("--threads", o.threads, "libtorch threads per rank (0: cores / local ranks)");
  app.add_flag("--json", o.json, "Print one JSON object instead of Markdown");
}

// Tokens/s over all ranks of `run` (which does `tokens_per_rank` tokens' work on each rank): one warm-up, then
// `reps` timed runs, each started after a barrier, finished after a device synchronisation, and timed by the
// slowest rank.
inline Stats tokens_per_s(int reps, int64_t tokens_per_rank, const torch::Device& device, const std::function<void()>& run) {
  int n_rank = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n_rank);
  const auto run_synced = [&] {
    run();
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  run_synced();  // warm-up
  std::vector<double> rates;
  for (int r = 0; r < reps; ++r) {
    mpi::barrier();
    const Timer timer;
    run_synced();
    rates.push_back(static_cast<double>(tokens_per_rank * n_rank) / slowest(timer.seconds()));
  }
  return stats(rates);
}

// Fields every benchmark's --json object starts with.
inline nlohmann::json header(const std::string& bench, const torch::Device& device) {
  int n_rank = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n_rank);
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return {{"bench", bench},   {"version", kVersion},    {"commit", kGitCommit},
          {"date", date},     {"device", device.str()}, {"n_rank", n_rank},
          {"threads", torch::get_num_threads()}};
}

// n_doc documents of n_token uniform random ids below `vocab`, the same for a given seed.
inline std::vector<std::vector<int32_t>> random_docs(int64_t n_doc, int64_t n_token, int64_t vocab, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(std::min<int64_t>(vocab, 128000) - 1));
  std::vector<std::vector<int32_t>> docs(static_cast<size_t>(n_doc), std::vector<int32_t>(static_cast<size_t>(n_token)));
  for (auto& d : docs)
    for (auto& t : d) t = id(rng);
  return docs;
}

// Documents packed into batches of about `budget` tokens, in order: the ids end to end and each one's length
// (as encode's batches, without the longest-first sort: benchmark documents come as they are given).
struct Batch {
  std::vector<int32_t> ids;
  std::vector<int64_t> lengths;
};

inline std::vector<Batch> pack(const std::vector<std::vector<int32_t>>& docs, int64_t budget) {
  std::vector<Batch> batches;
  int64_t load = 0;
  for (const auto& d : docs) {
    const auto n = static_cast<int64_t>(d.size());
    if (batches.empty() || load + n > budget) {
      batches.emplace_back();
      load = 0;
    }
    batches.back().ids.insert(batches.back().ids.end(), d.begin(), d.end());
    batches.back().lengths.push_back(n);
    load += n;
  }
  return batches;
}

// "llama3-8b": Llama-3.1-8B's real shape; "tiny": the demo model's (RandomLlamaSpec).
inline LlamaConfig shape_config(const std::string& shape) {
  if (shape == "llama3-8b") return LlamaConfig::llama3_8b();
  const RandomLlamaSpec s;
  LlamaConfig c = LlamaConfig::llama3_8b();  // llama3 RoPE, as the demo's config.json
  c.vocab_size = s.vocab_size;
  c.d_model = s.d_model;
  c.d_ff = s.d_ff;
  c.n_layer = s.n_layer;
  c.n_head = s.n_head;
  c.n_kv_head = s.n_kv_head;
  c.head_dim = s.d_model / s.n_head;
  return c;
}

// Multiply-adds x 2 per token of the reader's layers 0..layer for documents of `doc_tokens` tokens: the
// projections and the MLP, plus causal attention (QKᵀ and PV over on average (T + 1) / 2 keys). The embedding
// lookup, norms and RoPE are not counted.
inline double reader_flops_per_token(const LlamaConfig& c, int layer, int64_t doc_tokens) {
  const double d = static_cast<double>(c.d_model), hd = static_cast<double>(c.head_dim);
  const double proj = d * hd * static_cast<double>(c.n_head + 2 * c.n_kv_head) + hd * static_cast<double>(c.n_head) * d;
  const double mlp = 3.0 * d * static_cast<double>(c.d_ff);
  const double attention = 2.0 * static_cast<double>(c.n_head) * hd * (static_cast<double>(doc_tokens) + 1) / 2;
  return 2.0 * (proj + mlp + attention) * (layer + 1);
}

inline double sae_flops_per_token(int64_t d_model, int64_t d_sae) {
  return 2.0 * static_cast<double>(d_model) * static_cast<double>(d_sae);
}

}  // namespace saediff::bench
