// SAE encode and pooling throughput, and the precision of bfloat16 against float32 on the same inputs.
//   mpirun -np N build/bench/bench_sae [--d-model 4096] [--d-sae 65536] [--tokens 512] [--docs D] [--topk 16]
//                                      [--bias B] [--reps R] [--dtype float32|bfloat16] [--device cpu|cuda] [--json]
// Inputs are random residual vectors (N(0, 1)) of documents of T tokens; the SAE is random (N(0, 0.02^2) weights,
// every bias --bias, by default -2.58 x 0.02 x sqrt(d_model) (-3.3 at 4096): about 0.5% of the features fire per token, sparse as trained SAEs
// are). Two rows: the encode alone (f = ReLU(x Wᵀ + b), one document at a time, as encode runs it), and encode +
// pooling (max, sum, count, the sparse host copy) + per-token top-k, in blocks (encode_and_pool, as encode runs it). Correctness: the first document's pooled
// maxima against a float64 computation on the CPU (max |diff|; wrong above 1e-4 relative in float32, 2e-2 in
// bfloat16), and in bfloat16 the share of (document, feature) decisions "pooled max > --threshold" that agree
// with the float32 path on the same inputs and weights (the target: >= 99%).
#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>

#include "app/device.h"
#include "bench_util.h"
#include "core/timer.h"
#include "dist/mpi.h"
#include "io/encoded_h5.h"
#include "model/pooling.h"
#include "model/sae.h"

using namespace saediff;

int main(int argc, char** argv) {
  mpi::Environment env(&argc, &argv);
  CLI::App app{"bench_sae: SAE encode + pooling throughput"};
  bench::TorchOptions o;
  int64_t d_model = 4096, d_sae = 65536, n_token = 512, n_doc = 8, topk = 16;
  double bias = std::nan(""), threshold = 0.5;
  app.add_option("--d-model", d_model, "Input width (Llama-3.1-8B: 4096)")->check(CLI::PositiveNumber);
  app.add_option("--d-sae", d_sae, "Features (Goodfire's SAE: 65536)")->check(CLI::PositiveNumber);
  app.add_option("--tokens", n_token, "Tokens per document")->check(CLI::PositiveNumber);
  app.add_option("--docs", n_doc, "Documents per rank and repetition")->check(CLI::PositiveNumber);
  app.add_option("--topk", topk, "Per-token top-k kept (encode's --token-topk)")->check(CLI::Range(0, 1024));
  app.add_option("--bias", bias, "Every encoder bias (default: -2.58 x 0.02 x sqrt(d_model), ~0.5% firing per token)");
  app.add_option("--threshold", threshold, "Threshold of the pooled-max decisions compared across dtypes");
  bench::add_torch_options(app, o);
  CLI11_PARSE(app, argc, argv);

  const int rank = mpi::comm_rank(), n_rank = mpi::comm_size();
  set_torch_threads(o.threads);
  const torch::Device device = select_device(o.device);
  const torch::Dtype dtype = parse_dtype(o.dtype);
  if (std::isnan(bias)) bias = -2.58 * 0.02 * std::sqrt(static_cast<double>(d_model));  // N(0,1) x: 0.5% above
  const Sae sae32 = Sae::random(d_model, d_sae, torch::kFloat32, device, 2, bias);
  const Sae sae = dtype == torch::kFloat32 ? sae32 : sae32.to(dtype);
  torch::manual_seed(static_cast<uint64_t>(100 + rank));
  std::vector<torch::Tensor> xs;  // [T, d_model] float32 per document
  for (int64_t d = 0; d < n_doc; ++d) xs.push_back(torch::randn({n_token, d_model}, torch::TensorOptions().device(device)));

  torch::NoGradGuard no_grad;
  const auto time_rows = [&](const std::function<void(const torch::Tensor&)>& work) {
    return bench::tokens_per_s(o.reps, n_doc * n_token, device, [&] {
      for (const auto& x : xs) work(x);
    });
  };
  const bench::Stats encode_only = time_rows([&](const torch::Tensor& x) { sae.encode(x); });
  int64_t nnz = 0;
  const bench::Stats encode_pool = time_rows([&](const torch::Tensor& x) {
    nnz = static_cast<int64_t>(encode_and_pool(sae, x, 0, n_token, topk, 0).feature.size());
  });

  // Against float64 on the CPU: the first document's pooled maxima.
  const torch::Tensor x0 = xs[0].to(torch::kCPU, torch::kDouble);
  const PooledDoc mine = encode_and_pool(sae, xs[0], 0, n_token, 0, 0);
  torch::Tensor ref_max;
  double max_err = 0, ref_scale = 0;
  {
    const torch::Tensor wt = sae32.weight().to(torch::kCPU, torch::kDouble), bt = sae32.bias().to(torch::kCPU, torch::kDouble);
    const torch::Tensor f = torch::relu(torch::addmm(bt, x0, wt.t()));  // [T, d_sae] float64
    ref_max = std::get<0>(f.max(0));                                     // [d_sae]
    const torch::Tensor dense = torch::zeros({d_sae}, torch::kDouble);
    const torch::Tensor idx = torch::tensor(std::vector<int64_t>(mine.feature.begin(), mine.feature.end()), torch::kLong);
    if (idx.numel() > 0) dense.index_put_({idx}, torch::tensor(mine.max, torch::kFloat).to(torch::kDouble));
    max_err = (dense - ref_max).abs().max().item<double>();
    ref_scale = ref_max.abs().max().item<double>();
  }
  const double tolerance = (dtype == torch::kFloat32 ? 1e-4 : 2e-2) * std::max(1.0, ref_scale);
  // bfloat16 against float32 decisions, every document of this rank.
  int64_t agree = 0, pairs = 0, active_either = 0, agree_active = 0;
  for (const auto& x : xs) {
    const torch::Tensor a = std::get<0>(sae32.encode(x).max(0)).to(torch::kDouble).gt(threshold);
    const torch::Tensor b = std::get<0>(sae.encode(x).max(0)).to(torch::kDouble).gt(threshold);
    agree += a.eq(b).sum().item<int64_t>();
    pairs += d_sae;
    const torch::Tensor either = a.logical_or(b);
    active_either += either.sum().item<int64_t>();
    agree_active += a.eq(b).logical_and(either).sum().item<int64_t>();
  }
  int64_t sums[4] = {agree, pairs, active_either, agree_active};
  MPI_Allreduce(MPI_IN_PLACE, sums, 4, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  mpi::barrier();
  if (rank != 0) return 0;
  const double flops = bench::sae_flops_per_token(d_model, d_sae);
  nlohmann::json out = bench::header("sae", device);
  out.update({{"dtype", o.dtype}, {"d_model", d_model}, {"d_sae", d_sae}, {"doc_tokens", n_token},
              {"docs_per_rank", n_doc}, {"topk", topk}, {"bias", bias}, {"reps", o.reps}, {"flops_per_token", flops},
              {"encode", {{"tokens_per_s_mean", encode_only.mean}, {"tokens_per_s_sd", encode_only.sd},
                          {"tflops_per_rank", encode_only.mean / n_rank * flops / 1e12}}},
              {"encode_pool", {{"tokens_per_s_mean", encode_pool.mean}, {"tokens_per_s_sd", encode_pool.sd},
                               {"tflops_per_rank", encode_pool.mean / n_rank * flops / 1e12}}},
              {"pooled_features_doc0", nnz},
              {"max_abs_err_vs_float64", max_err}, {"tolerance", tolerance}, {"wrong", max_err > tolerance ? 1 : 0},
              {"threshold", threshold},
              {"decisions_agree_with_float32", static_cast<double>(sums[0]) / static_cast<double>(sums[1])},
              {"active_decisions_agree_with_float32",
               sums[2] > 0 ? static_cast<double>(sums[3]) / static_cast<double>(sums[2]) : 1.0}});
  if (o.json) {
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("# bench_sae: saediff %s (%s), device %s, %d ranks x %d threads, %s, [%lld tokens x %lld] -> %lld "
              "features, bias %.2f, top-%lld\n",
              kVersion, kGitCommit, device.str().c_str(), n_rank, torch::get_num_threads(), o.dtype.c_str(),
              static_cast<long long>(n_token), static_cast<long long>(d_model), static_cast<long long>(d_sae), bias,
              static_cast<long long>(topk));
  std::printf("| step | tokens/s | TFLOP/s per rank | #wrong |\n|---|---:|---:|---:|\n");
  std::printf("| encode | %.1f ± %.1f | %.3f | - |\n", encode_only.mean, encode_only.sd, encode_only.mean / n_rank * flops / 1e12);
  std::printf("| encode + pool + top-%lld | %.1f ± %.1f | %.3f | %d |\n", static_cast<long long>(topk), encode_pool.mean,
              encode_pool.sd, encode_pool.mean / n_rank * flops / 1e12, max_err > tolerance ? 1 : 0);
  std::printf("# pooled max vs float64: max |diff| %.3g (tolerance %.3g); decisions max > %.2f agreeing with float32: "
              "%.4f%% of all, %.4f%% of those active in either\n",
              max_err, tolerance, threshold, 100 * out["decisions_agree_with_float32"].get<double>(),
              100 * out["active_decisions_agree_with_float32"].get<double>());
  return 0;
}
