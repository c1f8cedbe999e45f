// Encode throughput: reader (layers 0..L) + SAE + pooling per document, on every rank.
//   mpirun -np N build/bench/bench_encode [--model DIR --sae FILE | --shape llama3-8b] [--layer L] [--tokens T]
//                                         [--docs D] [--reps R] [--dtype float32|bfloat16] [--device cpu|cuda] [--json]
// Without --model/--sae it generates the demo checkpoints in a temporary folder; --shape llama3-8b makes random
// weights at the real Llama-3.1-8B shape (and a 65,536-feature SAE) directly on the device, no files. Prints a header with the
// build, commit, device, ranks, dtype and shapes, then tokens/s as mean ± sd over the repetitions (after a
// warm-up), timed after a barrier and taken from the slowest rank. The correctness column compares the
// pooled max of the first document with a second, independent run of the same document (determinism).
#include <torch/torch.h>

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "app/device.h"
#include "core/memory.h"
#include "core/timer.h"
#include "dist/mpi.h"
#include "model/llama.h"
#include "model/pooling.h"
#include "model/random_checkpoint.h"
#include "model/sae.h"
#include "saediff/version.h"

using namespace saediff;

int main(int argc, char** argv) {
  mpi::Environment env(&argc, &argv);
  CLI::App app{"bench_encode: reader + SAE + pooling throughput"};
  std::string model_dir, sae_path, dtype_name = "float32", device_name = "cpu", generated_dir, shape;
  int layer = 2, n_token = 256, n_doc = 8, n_rep = 5, threads = 0;
  bool json = false;
  app.add_option("--model", model_dir, "HF Llama folder (default: generated demo model)");
  app.add_option("--sae", sae_path, "SAE file (default: generated demo SAE)");
  app.add_option("--shape", shape, "Random weights at a real shape instead of files (llama3-8b)")
      ->check(CLI::IsMember({"llama3-8b"}))
      ->excludes("--model")
      ->excludes("--sae");
  app.add_option("--layer", layer, "Decoder layer");
  app.add_option("--tokens", n_token, "Tokens per document");
  app.add_option("--docs", n_doc, "Documents per rank and repetition");
  app.add_option("--reps", n_rep, "Timed repetitions (after one warm-up)");
  app.add_option("--dtype", dtype_name, "float32 or bfloat16");
  app.add_option("--device", device_name, "cpu or cuda");
  app.add_option("--threads", threads, "libtorch threads per rank (0: cores / local ranks)");
  app.add_flag("--json", json, "Print one JSON object instead of Markdown");
  CLI11_PARSE(app, argc, argv);

  const int rank = mpi::comm_rank(), n_rank = mpi::comm_size();
  set_torch_threads(threads);
  if (shape.empty() && (model_dir.empty() || sae_path.empty())) {
    const auto dir = std::filesystem::temp_directory_path() / ("saediff_bench_" + std::to_string(::getpid()));
    model_dir = (dir / "model").string();
    sae_path = (dir / "sae.safetensors").string();
    if (rank == 0) {
      std::filesystem::create_directories(model_dir);
      write_random_llama(model_dir, RandomLlamaSpec{});
      write_random_sae(sae_path, RandomSaeSpec{});
    }
    // Every rank must agree on the temporary folder: use rank 0's.
    std::string shared = dir.string();
    mpi::broadcast(shared);
    generated_dir = shared;
    model_dir = shared + "/model";
    sae_path = shared + "/sae.safetensors";
    mpi::barrier();
  }
  const torch::Device device = select_device(device_name);
  const torch::Dtype dtype = parse_dtype(dtype_name);
  Timer load_timer;
  const LlamaModel model = shape.empty() ? LlamaModel::load(model_dir, layer, dtype, device)
                                         : LlamaModel::random(LlamaConfig::llama3_8b(), layer, dtype, device, 1);
  const Sae sae = shape.empty() ? Sae::load(sae_path, dtype, device) : Sae::random(4096, 65536, dtype, device, 2);
  if (device.is_cuda()) torch::cuda::synchronize();
  const double load_seconds = load_timer.seconds();
  const std::string memory = memory_report(device);

  std::mt19937 rng(static_cast<unsigned>(1000 + rank));
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(std::min<int64_t>(model.config().vocab_size, 128000) - 1));
  std::vector<std::vector<int32_t>> docs(static_cast<size_t>(n_doc), std::vector<int32_t>(static_cast<size_t>(n_token)));
  for (auto& d : docs)
    for (auto& t : d) t = token(rng);

  torch::NoGradGuard no_grad;
  auto encode_all = [&]() {
    for (const auto& ids : docs) {
      const torch::Tensor f = sae.encode(model.forward(ids));
      pool_features(f, 0, f.size(0), 0);
    }
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  encode_all();  // warm-up
  std::vector<double> rates;
  for (int r = 0; r < n_rep; ++r) {
    mpi::barrier();
    Timer timer;
    encode_all();
    double seconds = timer.seconds();
    MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    rates.push_back(static_cast<double>(n_token) * n_doc * n_rank / seconds);
  }
  double mean = 0, var = 0;
  for (double x : rates) mean += x / static_cast<double>(rates.size());
  for (double x : rates) var += (x - mean) * (x - mean) / std::max<double>(1, static_cast<double>(rates.size()) - 1);
  // Correctness: the same document twice must pool to identical maxima.
  const PooledDoc a = pool_features(sae.encode(model.forward(docs[0])), 0, n_token, 0);
  const PooledDoc b = pool_features(sae.encode(model.forward(docs[0])), 0, n_token, 0);
  const int64_t n_wrong = a.feature == b.feature && a.max == b.max ? 0 : 1;

  const std::string memory_after = memory_report(device);
  mpi::barrier();
  if (rank != 0) return 0;
  if (!generated_dir.empty()) std::filesystem::remove_all(generated_dir);
  const auto& c = model.config();
  nlohmann::json out = {{"bench", "encode"}, {"version", kVersion}, {"commit", kGitCommit}, {"device", device.str()},
                        {"n_rank", n_rank}, {"threads", torch::get_num_threads()}, {"dtype", dtype_name},
                        {"layer", layer}, {"d_model", c.d_model}, {"d_sae", sae.d_sae()}, {"n_token", n_token},
                        {"n_doc_per_rank", n_doc}, {"reps", n_rep}, {"tokens_per_s_mean", mean},
                        {"tokens_per_s_sd", std::sqrt(var)}, {"wrong", n_wrong},
                        {"weights", shape.empty() ? model_dir : "random " + shape},
                        {"weight_bytes", model.weight_bytes()}, {"load_s", load_seconds},
                        {"memory_after_load", memory}, {"memory_after_run", memory_after}};
  if (json) {
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("# bench_encode: saediff %s (%s), device %s, %d ranks x %d threads, %s, layer %d, d_model %lld, "
                "d_sae %lld\n",
                kVersion, kGitCommit, device.str().c_str(), n_rank, torch::get_num_threads(), dtype_name.c_str(), layer,
                static_cast<long long>(c.d_model), static_cast<long long>(sae.d_sae()));
    std::printf("# weights: %s, %.2f GiB loaded in %.1f s; after load: %s; after the run: %s\n",
                shape.empty() ? model_dir.c_str() : ("random " + shape).c_str(), gib(model.weight_bytes()),
                load_seconds, memory.c_str(), memory_after.c_str());
    std::printf("| tokens/doc | docs/rank | t/s | #wrong |\n|---:|---:|---:|---:|\n| %d | %d | %.1f ± %.1f | %lld |\n",
                n_token, n_doc, mean, std::sqrt(var), static_cast<long long>(n_wrong));
  }
  return 0;
}
