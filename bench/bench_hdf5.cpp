// encoded.h5 write throughput: every rank writes its documents into one file with parallel HDF5, as encode does.
//   mpirun -np N build/bench/bench_hdf5 [--docs D] [--features F] [--tokens T] [--topk K] [--d-sae S] [--reps R]
//                                       [--dir DIR] [--json]
// Each rank makes D synthetic pooled documents (F active features, T pooled tokens with K top-k slots, ~4 bytes
// of text per token) and all ranks write them with write_encoded_h5 (collective, through a .tmp renamed at the
// end) R times after a warm-up, a fresh file each time. MB/s = the file's bytes over the slowest rank's time.
// Rank 0 then reads the file back (read_encoded_h5, serial) and compares every document's max, sum, count,
// text and token rows (ids, end bytes, top-k features and values) with what was written; #wrong = documents
// that differ.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <random>

#include <unistd.h>

#include "bench_util.h"
#include "core/timer.h"
#include "dist/mpi.h"
#include "io/encoded_h5.h"

using namespace saediff;

namespace {

PooledDoc synthetic_doc(int64_t index, int64_t n_feature, int64_t n_pooled, int64_t k, int64_t d_sae) {
  std::mt19937_64 rng(static_cast<uint64_t>(index) * 7919 + 1);
  std::uniform_real_distribution<float> value(0.01f, 8.0f);
  PooledDoc d;
  d.doc_index = index;
  d.n_token = n_pooled + 31;
  d.n_pooled = n_pooled;
  const int64_t stride = std::max<int64_t>(1, d_sae / std::max<int64_t>(1, n_feature));
  for (int64_t i = 0; i < n_feature && i * stride < d_sae; ++i) {
    d.feature.push_back(static_cast<int32_t>(i * stride + static_cast<int64_t>(rng() % static_cast<uint64_t>(stride))));
    d.max.push_back(value(rng));
    d.sum.push_back(d.max.back() * 3);
    d.count.push_back(static_cast<float>(1 + rng() % static_cast<uint64_t>(std::max<int64_t>(1, n_pooled))));
  }
  for (int64_t t = 0; t < n_pooled; ++t) {
    for (int64_t j = 0; j < k; ++j) {
      d.topk_feature.push_back(d.feature.empty() ? -1 : d.feature[static_cast<size_t>(j) % d.feature.size()]);
      d.topk_value.push_back(value(rng));
    }
    d.text += " tok";
    d.token_id.push_back(static_cast<int32_t>(rng() % 128000));
    d.token_end.push_back(static_cast<int64_t>(d.text.size()));
  }
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  mpi::Environment env(&argc, &argv);
  CLI::App app{"bench_hdf5: encoded.h5 parallel write throughput"};
  int64_t n_doc = 2000, n_feature = 2000, n_token = 256, k = 16, d_sae = 65536;
  int n_rep = 3;
  std::string dir = std::filesystem::temp_directory_path().string();
  bool json = false;
  app.add_option("--docs", n_doc, "Documents per rank")->check(CLI::PositiveNumber);
  app.add_option("--features", n_feature, "Active features per document")->check(CLI::NonNegativeNumber);
  app.add_option("--tokens", n_token, "Pooled tokens per document")->check(CLI::NonNegativeNumber);
  app.add_option("--topk", k, "Top-k slots per token (encode's --token-topk)")->check(CLI::Range(0, 1024));
  app.add_option("--d-sae", d_sae, "Features of the SAE")->check(CLI::PositiveNumber);
  app.add_option("--reps", n_rep, "Timed repetitions (after one warm-up)")->check(CLI::Range(1, 1000));
  app.add_option("--dir", dir, "Folder for the file (the file system under test)");
  app.add_flag("--json", json, "Print one JSON object instead of Markdown");
  CLI11_PARSE(app, argc, argv);

  const int rank = mpi::comm_rank(), n_rank = mpi::comm_size();
  std::vector<SetLayout> sets(1);
  SetLayout& s = sets[0];
  s.name = "bench";
  s.n_docs = n_doc * n_rank;
  s.active_docs.assign(static_cast<size_t>(d_sae), 1);
  if (rank == 0) {
    for (int64_t i = 0; i < s.n_docs; ++i) {
      s.doc_ids.push_back("p" + std::to_string(i));
      s.categories.push_back("bench");
      s.prompts.push_back("prompt " + std::to_string(i));
    }
  }
  std::vector<PooledDoc> mine;
  for (int64_t i = 0; i < n_doc; ++i) mine.push_back(synthetic_doc(rank * n_doc + i, n_feature, n_token, k, d_sae));
  EncodedAttrs attrs;
  attrs.text = {{"model", "bench"}, {"sae", "bench"}, {"pooling", "content"}, {"dtype", "float32"}, {"config", ""}};
  attrs.integer = {{"layer", 19}, {"d_model", 4096}, {"token_topk", k}};
  std::string path = (std::filesystem::path(dir) / ("saediff_bench_" + std::to_string(::getpid()) + ".h5")).string();
  mpi::broadcast(path);

  std::vector<double> seconds;
  for (int r = 0; r <= n_rep; ++r) {  // r = 0: warm-up
    if (rank == 0) std::filesystem::remove(path);
    mpi::barrier();
    const Timer timer;
    write_encoded_h5(path, MPI_COMM_WORLD, sets, mine, attrs, d_sae);
    const double t = bench::slowest(timer.seconds());
    if (r > 0) seconds.push_back(t);
  }
  mpi::barrier();
  if (rank != 0) return 0;
  const auto bytes = static_cast<double>(std::filesystem::file_size(path));
  std::vector<double> rates;
  for (double t : seconds) rates.push_back(bytes / t / 1e6);
  const bench::Stats write = bench::stats(rates);
  const Timer read_timer;
  const EncodedFile f = read_encoded_h5(path);
  const double read_s = read_timer.seconds();
  // Every document back as written (rank 0 rebuilds each rank's documents from their seeds).
  const EncodedSet& got = f.set("bench");
  int64_t wrong = 0;
  for (int64_t i = 0; i < s.n_docs; ++i) {
    const PooledDoc d = synthetic_doc(i, n_feature, n_token, k, d_sae);
    const auto row = [&](const CsrMatrix& m, const std::vector<float>& want) {
      const auto b = static_cast<size_t>(m.indptr[static_cast<size_t>(i)]), e = static_cast<size_t>(m.indptr[static_cast<size_t>(i) + 1]);
      return std::vector<int32_t>(m.indices.begin() + static_cast<std::ptrdiff_t>(b), m.indices.begin() + static_cast<std::ptrdiff_t>(e)) == d.feature &&
             std::vector<float>(m.values.begin() + static_cast<std::ptrdiff_t>(b), m.values.begin() + static_cast<std::ptrdiff_t>(e)) == want;
    };
    const auto first_token = static_cast<std::ptrdiff_t>(got.tokens.indptr[static_cast<size_t>(i)]);
    const auto t0 = first_token * static_cast<std::ptrdiff_t>(k);
    const bool topk_ok = k == 0 || (std::equal(d.topk_value.begin(), d.topk_value.end(), got.tokens.topk_value.begin() + t0) &&
                                    std::equal(d.topk_feature.begin(), d.topk_feature.end(), got.tokens.topk_feature.begin() + t0));
    const bool tokens_ok = std::equal(d.token_id.begin(), d.token_id.end(), got.tokens.id.begin() + first_token) &&
                           std::equal(d.token_end.begin(), d.token_end.end(), got.tokens.end.begin() + first_token);
    if (!row(got.max, d.max) || !row(got.sum, d.sum) || !row(got.count, d.count) || got.texts.row(static_cast<size_t>(i)) != d.text ||
        !topk_ok || !tokens_ok || got.n_pooled[static_cast<size_t>(i)] != d.n_pooled) {
      ++wrong;
    }
  }
  std::filesystem::remove(path);
  nlohmann::json out = bench::header("hdf5", torch::Device(torch::kCPU));
  out.update({{"docs_per_rank", n_doc}, {"features_per_doc", n_feature}, {"tokens_per_doc", n_token}, {"topk", k},
              {"d_sae", d_sae}, {"reps", n_rep}, {"dir", dir}, {"file_bytes", bytes},
              {"write_mb_per_s_mean", write.mean}, {"write_mb_per_s_sd", write.sd},
              {"write_s_mean", bench::stats(seconds).mean}, {"read_s", read_s}, {"read_mb_per_s", bytes / read_s / 1e6},
              {"wrong", wrong}});
  if (json) {
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("# bench_hdf5: saediff %s (%s), %d ranks, %lld documents/rank x %lld features, %lld pooled tokens x "
              "top-%lld, d_sae %lld, in %s\n",
              kVersion, kGitCommit, n_rank, static_cast<long long>(n_doc), static_cast<long long>(n_feature),
              static_cast<long long>(n_token), static_cast<long long>(k), static_cast<long long>(d_sae), dir.c_str());
  std::printf("| file MB | write MB/s (all ranks) | write s | read MB/s (rank 0, serial) | #wrong docs |\n"
              "|---:|---:|---:|---:|---:|\n| %.1f | %.1f ± %.1f | %.2f | %.1f | %lld |\n",
              bytes / 1e6, write.mean, write.sd, bench::stats(seconds).mean, bytes / read_s / 1e6,
              static_cast<long long>(wrong));
  return 0;
}
