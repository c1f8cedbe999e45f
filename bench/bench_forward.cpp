// Reader throughput: layers 0..L of the Llama reader over packed batches, at several batch token budgets.
//   mpirun -np N build/bench/bench_forward [--shape tiny|llama3-8b | --model DIR] [--layer L] [--tokens T]
//                                          [--budgets 512,2048,8192] [--batch-tokens-total N] [--reps R]
//                                          [--dtype float32|bfloat16] [--device cpu|cuda] [--peak-tflops P]
//                                          [--unfused residual,mlp,norm] [--json]
// Documents of T random tokens are packed, without padding, into batches of floor(budget / T) documents (at least
// one) and run through LlamaModel::forward_packed, as encode does. Each budget runs the same documents (enough
// for the largest budget, or --batch-tokens-total), once to warm up and then R timed times; the slowest rank's
// time counts. TFLOP/s counts the projections, the MLP and causal attention (bench_util.h); with --peak-tflops
// (H100 SXM bf16 dense: 989) it also prints the fraction of peak. The correctness column runs the first
// document alone and compares its rows with its rows in the packed batch (max |diff| relative to max |x|; wrong
// above 1e-4 in float32, 3e-2 in bfloat16). --unfused turns fusions off (LlamaModel::Fusion), to measure what each
// one pays: residual (the residual add inside addmm), mlp (SiLU * up in place), norm (at::rms_norm).
#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <sstream>

#include "app/device.h"
#include "bench_util.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/timer.h"
#include "dist/mpi.h"
#include "model/llama.h"

using namespace saediff;

int main(int argc, char** argv) {
  mpi::Environment env(&argc, &argv);
  CLI::App app{"bench_forward: reader tokens/s over packed batches"};
  std::string shape = "tiny", model_dir, budgets_text = "512,2048,8192", unfused_text;
  int layer = -1;
  int64_t n_token = 512, total_tokens = 0;
  double peak_tflops = 0;
  bench::TorchOptions o;
  app.add_option("--shape", shape, "Random weights at this shape: tiny (the demo's) or llama3-8b")
      ->check(CLI::IsMember({"tiny", "llama3-8b"}));
  app.add_option("--model", model_dir, "HF Llama folder instead of random weights")->excludes("--shape");
  app.add_option("--layer", layer, "Decoder layer (default: 19 at llama3-8b, else 2)");
  app.add_option("--tokens", n_token, "Tokens per document")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("--budgets", budgets_text, "Batch token budgets, comma-separated");
  app.add_option("--batch-tokens-total", total_tokens, "Tokens per repetition (default: the largest budget)");
  app.add_option("--peak-tflops", peak_tflops, "The device's peak TFLOP/s in --dtype, for the fraction of peak");
  app.add_option("--unfused", unfused_text, "Fusions to turn off, comma-separated: residual, mlp, norm");
  bench::add_torch_options(app, o);
  CLI11_PARSE(app, argc, argv);

  const int rank = mpi::comm_rank(), n_rank = mpi::comm_size();
  set_torch_threads(o.threads);
  std::vector<int64_t> budgets;
  {
    std::stringstream in(budgets_text);
    for (std::string item; std::getline(in, item, ',');) budgets.push_back(std::stoll(item));
  }
  SAEDIFF_CHECK(!budgets.empty(), "--budgets needs at least one value");
  if (layer < 0) layer = shape == "llama3-8b" && model_dir.empty() ? 19 : 2;
  const torch::Device device = select_device(o.device);
  const torch::Dtype dtype = parse_dtype(o.dtype);
  Timer load_timer;
  LlamaModel model = model_dir.empty() ? LlamaModel::random(bench::shape_config(shape), layer, dtype, device, 1)
                                       : LlamaModel::load(model_dir, layer, dtype, device);
  {
    LlamaModel::Fusion fusion;
    std::stringstream in(unfused_text);
    for (std::string item; std::getline(in, item, ',');) {
      if (item == "residual") fusion.residual_addmm = false;
      else if (item == "mlp") fusion.inplace_mlp = false;
      else if (item == "norm") fusion.rms_norm_op = false;
      else SAEDIFF_FAIL("--unfused: unknown fusion '" + item + "' (residual, mlp or norm)");
    }
    model.set_fusion(fusion);
  }
  if (device.is_cuda()) torch::cuda::synchronize();
  const double load_s = load_timer.seconds();
  const LlamaConfig& c = model.config();

  if (total_tokens <= 0) total_tokens = *std::max_element(budgets.begin(), budgets.end());
  const int64_t n_doc = std::max<int64_t>(1, total_tokens / n_token);
  const auto docs = bench::random_docs(n_doc, n_token, c.vocab_size, static_cast<unsigned>(1000 + rank));
  const double flops_per_token = bench::reader_flops_per_token(c, layer, n_token);
  const double tolerance = dtype == torch::kFloat32 ? 1e-4 : 3e-2;

  torch::NoGradGuard no_grad;
  nlohmann::json rows = nlohmann::json::array();
  for (const int64_t budget : budgets) {
    const std::vector<bench::Batch> batches = bench::pack(docs, budget);
    const auto per_batch = static_cast<int64_t>(batches[0].lengths.size());
    const bench::Stats s = bench::tokens_per_s(o.reps, n_doc * n_token, device, [&] {
      for (const bench::Batch& b : batches) model.forward_packed(b.ids, b.lengths, LlamaModel::kMaxScoreElements, dtype);
    });
    // Correctness: the last document of the first packed batch alone against its rows there (the first one
    // would not see a leak across documents or positions that fail to restart).
    const int64_t last = per_batch - 1;
    const torch::Tensor alone = model.forward(docs[static_cast<size_t>(last)]);
    const torch::Tensor in_batch = model.forward_packed(batches[0].ids, batches[0].lengths).slice(0, last * n_token, (last + 1) * n_token);
    const double rel = (in_batch - alone).abs().max().item<double>() / std::max(1e-30, alone.abs().max().item<double>());
    const double tflops = s.mean / static_cast<double>(n_rank) * flops_per_token / 1e12;  // per rank
    rows.push_back({{"batch_tokens", per_batch * n_token}, {"docs_per_batch", per_batch},
                    {"tokens_per_s_mean", s.mean}, {"tokens_per_s_sd", s.sd}, {"tflops_per_rank", tflops},
                    {"fraction_of_peak", peak_tflops > 0 ? tflops / peak_tflops : 0.0},
                    {"packed_vs_alone_rel", rel}, {"wrong", rel > tolerance ? 1 : 0}});
  }
  const std::string memory = memory_report(device);
  mpi::barrier();
  if (rank != 0) return 0;
  nlohmann::json out = bench::header("forward", device);
  out.update({{"dtype", o.dtype}, {"weights", model_dir.empty() ? "random " + shape : model_dir}, {"layer", layer},
              {"d_model", c.d_model}, {"d_ff", c.d_ff}, {"n_head", c.n_head}, {"n_kv_head", c.n_kv_head},
              {"doc_tokens", n_token}, {"docs_per_rank", n_doc}, {"reps", o.reps}, {"flops_per_token", flops_per_token},
              {"peak_tflops", peak_tflops}, {"unfused", unfused_text}, {"weight_bytes", model.weight_bytes()}, {"load_s", load_s},
              {"memory", memory}, {"rows", rows}});
  if (o.json) {
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("# bench_forward: saediff %s (%s), device %s, %d ranks x %d threads, %s, %s, layers 0..%d, d_model %lld, "
              "%.2f GFLOP/token at %lld-token documents\n# %.2f GiB of weights in %.1f s; %s\n",
              kVersion, kGitCommit, device.str().c_str(), n_rank, torch::get_num_threads(), o.dtype.c_str(),
              out["weights"].get<std::string>().c_str(), layer, static_cast<long long>(c.d_model), flops_per_token / 1e9,
              static_cast<long long>(n_token), gib(model.weight_bytes()), load_s, memory.c_str());
  std::printf("| batch tokens | docs/batch | tokens/s | TFLOP/s per rank | of peak | packed vs alone | #wrong |\n"
              "|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows) {
    std::printf("| %lld | %lld | %.1f ± %.1f | %.3f | %s | %.1e | %d |\n", r["batch_tokens"].get<long long>(),
                r["docs_per_batch"].get<long long>(), r["tokens_per_s_mean"].get<double>(),
                r["tokens_per_s_sd"].get<double>(), r["tflops_per_rank"].get<double>(),
                peak_tflops > 0 ? (std::to_string(static_cast<int>(100 * r["fraction_of_peak"].get<double>())) + "%").c_str() : "-",
                r["packed_vs_alone_rel"].get<double>(), r["wrong"].get<int>());
  }
  return 0;
}
