// Encode throughput: reader (layers 0..L) + SAE + pooling, on every rank, as `saediff encode` runs them: documents
// packed into batches of about --batch-tokens for the reader, then the SAE, pooling and per-token top-k of each
// batch as one (pool_batch), and one copy of its results to the host. Also counts the ATen operations per batch
// (ops_per_batch: saediff's calls; nested_ops_per_batch: with the operators' internal calls).
//   mpirun -np N build/bench/bench_encode [--model DIR --sae FILE | --shape tiny|llama3-8b] [--layer L]
//                                         [--tokens T --docs D | --ids FILE.jsonl] [--batch-tokens B] [--reps R]
//                                         [--dtype float32|bfloat16] [--device cpu|cuda] [--peak-tflops P]
//                                         [--check-fp32] [--json]
// Without --model/--sae/--shape it generates the demo checkpoints in a temporary folder; --shape makes random
// weights at that shape directly on the device (llama3-8b: the real Llama-3.1-8B shape and a 65,536-feature SAE
// whose bias, scaled by the reader output's RMS on the first batch, makes ~0.5% of the features fire per token). --ids reads the documents (one JSON array of token ids
// per line; every rank runs all of them) instead of D random documents of T tokens. Prints a header with the
// build, commit, device, ranks, dtype and shapes, then tokens/s as mean ± sd over the repetitions (after a
// warm-up), timed after a barrier and taken from the slowest rank, and TFLOP/s (reader + SAE, bench_util.h).
// Correctness: the last document of the first batch encoded alone must pool to the maxima it pools to there
// (relative difference; wrong above 1e-4 in float32, 3e-2 in bfloat16) and to identical maxima twice. With
// --check-fp32 (bfloat16 runs) the same weights also run in float32, and the share of (document, feature)
// decisions "pooled max > 0.5" that agree between the two is reported: the issue's >= 99% target.
#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "app/device.h"
#include "bench_util.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/timer.h"
#include "dist/mpi.h"
#include "model/llama.h"
#include "model/op_counter.h"
#include "model/pooling.h"
#include "model/random_checkpoint.h"
#include "model/sae.h"

using namespace saediff;

namespace {

std::vector<std::vector<int32_t>> read_ids(const std::string& path) {
  std::ifstream in(path);
  SAEDIFF_CHECK(in, "cannot open '", path, "'");
  std::vector<std::vector<int32_t>> docs;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    SAEDIFF_CHECK(j.is_array() && !j.empty(), path, ":", docs.size() + 1, ": expected a non-empty JSON array of token ids");
    docs.push_back(j.get<std::vector<int32_t>>());
  }
  SAEDIFF_CHECK(!docs.empty(), path, ": no documents");
  return docs;
}

// Every document of `batches` as encode runs it: one packed forward pass per batch, the SAE and pooling of its
// batch queued on the device as one, one copy of the batch's results to the host. Returns per batch its documents'
// dense pooled maxima [docs, d_sae] (float32, on the device) and adds up the pooled features kept.
std::vector<torch::Tensor> encode_batches(const LlamaModel& model, const Sae& sae, const std::vector<bench::Batch>& batches,
                                          int64_t topk, int64_t* nnz = nullptr) {
  std::vector<torch::Tensor> maxima;
  for (const bench::Batch& b : batches) {
    const torch::Tensor x = model.forward_packed(b.ids, b.lengths, LlamaModel::kMaxScoreElements, model.dtype());
    std::vector<PoolRange> ranges;
    int64_t row = 0;
    for (const int64_t n : b.lengths) {
      ranges.push_back({row, n, 0, n, 0});
      row += n;
    }
    const PendingBatch pending = pool_batch(sae, x, std::move(ranges), topk);
    maxima.push_back(pending.max);
    for (const PooledDoc& d : finish_batch(pending)) {
      if (nnz) *nnz += static_cast<int64_t>(d.feature.size());
    }
  }
  return maxima;
}

// The root mean square of the reader's output over the first batch: the random SAE's bias is scaled by it, so
// that ~0.5% of the features fire per token whatever the residual stream's size (random weights make it grow
// with depth).
double reader_rms(const LlamaModel& model, const bench::Batch& b) {
  const torch::Tensor x = model.forward_packed(b.ids, b.lengths);
  return std::sqrt(x.to(torch::kDouble).pow(2).mean().item<double>());
}

}  // namespace

int main(int argc, char** argv) {
  mpi::Environment env(&argc, &argv);
  CLI::App app{"bench_encode: reader + SAE + pooling throughput"};
  std::string model_dir, sae_path, generated_dir, shape, ids_path;
  int layer = -1;
  int64_t n_token = 256, n_doc = 8, batch_tokens = 8192, topk = 16;
  double peak_tflops = 0;
  bool check_fp32 = false;
  bench::TorchOptions o;
  o.reps = 5;
  app.add_option("--model", model_dir, "HF Llama folder (default: generated demo model)");
  app.add_option("--sae", sae_path, "SAE file (default: generated demo SAE)");
  app.add_option("--shape", shape, "Random weights at a real shape instead of files (tiny, llama3-8b)")
      ->check(CLI::IsMember({"tiny", "llama3-8b"}))
      ->excludes("--model")
      ->excludes("--sae");
  app.add_option("--layer", layer, "Decoder layer (default: 19 at llama3-8b, else 2)");
  app.add_option("--tokens", n_token, "Tokens per document")->check(CLI::PositiveNumber);
  app.add_option("--docs", n_doc, "Documents per rank and repetition")->check(CLI::PositiveNumber);
  app.add_option("--ids", ids_path, "Documents: one JSON array of token ids per line (instead of --tokens/--docs)")
      ->check(CLI::ExistingFile);
  app.add_option("--batch-tokens", batch_tokens, "Tokens per packed reader batch, as encode's --batch-tokens")
      ->check(CLI::PositiveNumber);
  app.add_option("--topk", topk, "Per-token top-k, as encode's --token-topk")->check(CLI::Range(0, 1024));
  app.add_option("--peak-tflops", peak_tflops, "The device's peak TFLOP/s in --dtype, for the fraction of peak");
  app.add_flag("--check-fp32", check_fp32, "Also run the same weights in float32 and compare the decisions");
  bench::add_torch_options(app, o);
  CLI11_PARSE(app, argc, argv);

  const int rank = mpi::comm_rank(), n_rank = mpi::comm_size();
  set_torch_threads(o.threads);
  if (layer < 0) layer = shape == "llama3-8b" ? 19 : 2;
  if (shape.empty() && (model_dir.empty() || sae_path.empty())) {
    const auto dir = std::filesystem::temp_directory_path() / ("saediff_bench_" + std::to_string(::getpid()));
    if (rank == 0) {
      std::filesystem::create_directories(dir / "model");
      write_random_llama((dir / "model").string(), RandomLlamaSpec{});
      write_random_sae((dir / "sae.safetensors").string(), RandomSaeSpec{});
    }
    // Every rank must agree on the temporary folder: use rank 0's.
    std::string shared = dir.string();
    mpi::broadcast(shared);
    generated_dir = shared;
    model_dir = shared + "/model";
    sae_path = shared + "/sae.safetensors";
    mpi::barrier();
  }
  const torch::Device device = select_device(o.device);
  const torch::Dtype dtype = parse_dtype(o.dtype);
  Timer load_timer;
  const LlamaModel model = shape.empty() ? LlamaModel::load(model_dir, layer, dtype, device)
                                         : LlamaModel::random(bench::shape_config(shape), layer, dtype, device, 1);
  const int64_t d_model = model.config().d_model, d_sae_random = shape == "llama3-8b" ? 65536 : RandomSaeSpec{}.d_sae;
  const auto docs = ids_path.empty() ? bench::random_docs(n_doc, n_token, model.config().vocab_size,
                                                          static_cast<unsigned>(1000 + rank))
                                     : read_ids(ids_path);
  int64_t doc_tokens = 0;
  for (const auto& d : docs) doc_tokens += static_cast<int64_t>(d.size());
  const std::vector<bench::Batch> batches = bench::pack(docs, batch_tokens);
  torch::NoGradGuard no_grad;
  double rms = NAN;  // of the reader's output, rank 0's first batch (random shapes only)
  if (!shape.empty()) {
    rms = reader_rms(model, batches[0]);
    MPI_Bcast(&rms, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  }
  const Sae sae = shape.empty() ? Sae::load(sae_path, dtype, device)
                                : Sae::random(d_model, d_sae_random, dtype, device, 2,
                                              -2.58 * 0.02 * std::sqrt(static_cast<double>(d_model)) * rms);
  if (device.is_cuda()) torch::cuda::synchronize();
  const double load_seconds = load_timer.seconds();
  const std::string memory = memory_report(device);

  const bench::Stats s = bench::tokens_per_s(o.reps, doc_tokens, device, [&] { encode_batches(model, sae, batches, topk); });
  // The ATen operations a batch queues (one untimed pass; saediff's own calls, and with the operators' internal
  // calls), which must not grow with the documents in a batch.
  double ops_per_batch = 0, nested_ops_per_batch = 0;
  {
    const OpCounter counter;
    encode_batches(model, sae, batches, topk);
    ops_per_batch = static_cast<double>(counter.count()) / static_cast<double>(batches.size());
    nested_ops_per_batch = static_cast<double>(counter.nested()) / static_cast<double>(batches.size());
  }

  // Correctness: the last document of the first batch alone against itself in its batch (the first document
  // would not see a leak across documents), and twice alone.
  const size_t last = batches[0].lengths.size() - 1;
  const std::vector<bench::Batch> alone = bench::pack({docs[last]}, 1);
  const torch::Tensor a = encode_batches(model, sae, alone, 0)[0][0], b = encode_batches(model, sae, alone, 0)[0][0];
  int64_t nnz = 0;
  const torch::Tensor in_batch = encode_batches(model, sae, {batches[0]}, 0, &nnz)[0][static_cast<int64_t>(last)];
  const double pooled_per_doc = static_cast<double>(nnz) / static_cast<double>(batches[0].lengths.size());
  const double scale = std::max(1e-30, a.abs().max().item<double>());
  const double packed_rel = (in_batch - a).abs().max().item<double>() / scale;
  const bool repeatable = torch::equal(a, b);
  const int64_t n_wrong = (packed_rel > (dtype == torch::kFloat32 ? 1e-4 : 3e-2) ? 1 : 0) + (repeatable ? 0 : 1);

  // bfloat16 against float32 on the same weights: pooled-max decisions at 0.5.
  double agree = NAN, agree_active = NAN;
  int64_t n_active = 0;
  if (check_fp32) {
    const LlamaModel model32 = model.to(torch::kFloat32);
    const Sae sae32 = sae.to(torch::kFloat32);
    const std::vector<torch::Tensor> m16 = encode_batches(model, sae, batches, 0), m32 = encode_batches(model32, sae32, batches, 0);
    int64_t sums[4] = {0, 0, 0, 0};  // agreeing, pairs, active in either, agreeing among those
    for (size_t i = 0; i < m16.size(); ++i) {
      const torch::Tensor x = m16[i].to(torch::kDouble).gt(0.5), y = m32[i].to(torch::kDouble).gt(0.5);
      sums[0] += x.eq(y).sum().item<int64_t>();
      sums[1] += x.numel();
      sums[2] += x.logical_or(y).sum().item<int64_t>();
      sums[3] += x.eq(y).logical_and(x.logical_or(y)).sum().item<int64_t>();
    }
    MPI_Allreduce(MPI_IN_PLACE, sums, 4, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    agree = static_cast<double>(sums[0]) / static_cast<double>(sums[1]);
    agree_active = sums[2] > 0 ? static_cast<double>(sums[3]) / static_cast<double>(sums[2]) : 1.0;
    n_active = sums[2];
  }

  const std::string memory_after = memory_report(device);
  mpi::barrier();
  if (rank != 0) return 0;
  if (!generated_dir.empty()) std::filesystem::remove_all(generated_dir);
  const auto& c = model.config();
  const int64_t mean_len = doc_tokens / static_cast<int64_t>(docs.size());
  const double flops = bench::reader_flops_per_token(c, layer, mean_len) + bench::sae_flops_per_token(c.d_model, sae.d_sae());
  const double tflops = s.mean / n_rank * flops / 1e12;
  nlohmann::json out = bench::header("encode", device);
  out.update({{"dtype", o.dtype}, {"layer", layer}, {"d_model", c.d_model}, {"d_sae", sae.d_sae()},
              {"n_token", mean_len}, {"n_doc_per_rank", docs.size()}, {"ids", ids_path}, {"batch_tokens", batch_tokens},
              {"batches_per_rank", batches.size()}, {"reps", o.reps}, {"tokens_per_s_mean", s.mean},
              {"tokens_per_s_sd", s.sd}, {"flops_per_token", flops}, {"tflops_per_rank", tflops},
              {"peak_tflops", peak_tflops}, {"fraction_of_peak", peak_tflops > 0 ? tflops / peak_tflops : 0.0},
              {"ops_per_batch", ops_per_batch}, {"nested_ops_per_batch", nested_ops_per_batch},
              {"packed_vs_alone_rel", packed_rel}, {"repeatable", repeatable}, {"wrong", n_wrong},
              {"pooled_features_per_doc", pooled_per_doc}, {"reader_rms", std::isnan(rms) ? nlohmann::json() : nlohmann::json(rms)},
              {"decisions_agree_with_float32", check_fp32 ? nlohmann::json(agree) : nlohmann::json()},
              {"active_decisions_agree_with_float32", check_fp32 ? nlohmann::json(agree_active) : nlohmann::json()},
              {"active_decisions", n_active},
              {"weights", !generated_dir.empty() ? "generated demo checkpoint" : shape.empty() ? model_dir : "random " + shape}, {"weight_bytes", model.weight_bytes()},
              {"load_s", load_seconds}, {"memory_after_load", memory}, {"memory_after_run", memory_after}});
  if (o.json) {
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("# bench_encode: saediff %s (%s), device %s, %d ranks x %d threads, %s, layer %d, d_model %lld, "
              "d_sae %lld, %.2f GFLOP/token\n",
              kVersion, kGitCommit, device.str().c_str(), n_rank, torch::get_num_threads(), o.dtype.c_str(), layer,
              static_cast<long long>(c.d_model), static_cast<long long>(sae.d_sae()), flops / 1e9);
  std::printf("# weights: %s, %.2f GiB loaded in %.1f s; after load: %s; after the run: %s\n",
              out["weights"].get<std::string>().c_str(), gib(model.weight_bytes()), load_seconds, memory.c_str(),
              memory_after.c_str());
  std::printf("| tokens/doc | docs/rank | batch tokens | tokens/s | TFLOP/s per rank | of peak | packed vs alone | #wrong |\n"
              "|---:|---:|---:|---:|---:|---:|---:|---:|\n| %lld | %zu | %lld | %.1f ± %.1f | %.3f | %s | %.1e | %lld |\n",
              static_cast<long long>(mean_len), docs.size(), static_cast<long long>(batch_tokens), s.mean, s.sd, tflops,
              peak_tflops > 0 ? (std::to_string(static_cast<int>(100 * tflops / peak_tflops)) + "%").c_str() : "-",
              packed_rel, static_cast<long long>(n_wrong));
  std::printf("# pooled features per document (first batch): %.0f of %lld\n", pooled_per_doc,
              static_cast<long long>(sae.d_sae()));
  std::printf("# ATen operations per batch: %.0f called (%.0f with the operators' internal calls)\n", ops_per_batch,
              nested_ops_per_batch);
  if (check_fp32) {
    std::printf("# %s against float32 on the same weights: decisions max > 0.5 agree for %.4f%% of (doc, feature) "
                "pairs, %.4f%% of the %lld active in either\n",
                o.dtype.c_str(), 100 * agree, 100 * agree_active, static_cast<long long>(n_active));
  }
  return 0;
}
