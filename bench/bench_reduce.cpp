// The count reduction: per-set, per-feature document counts (int64 [sets x d_sae]) summed over the ranks, with
// MPI_Allreduce on host memory and, in a build with NCCL on ranks with GPUs, ncclAllReduce on device memory.
//   mpirun -np N build/bench/bench_reduce [--sets S] [--d-sae F] [--reps R] [--check] [--json]
// Every rank fills its counts from a seeded generator; --check compares each backend's sum with the exact sum
// computed on every rank from all ranks' seeds (the reduction must be exact, so equality is the test) and the
// two backends with each other. Reports the mean ± sd time of one reduction over R repetitions (after a warm-up)
// and the bus bandwidth in nccl-tests' sense (2 (n-1)/n x bytes / time).
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>

#include "core/timer.h"
#include "dist/mpi.h"
#include "dist/reduce.h"
#include "stats.h"
#include "saediff/version.h"

#ifdef SAEDIFF_HAVE_NCCL
#include <cuda_runtime.h>
#endif

using namespace saediff;

namespace {

std::vector<int64_t> rank_counts(int rank, size_t n) {
  std::mt19937_64 rng(static_cast<uint64_t>(rank) * 7919 + 17);
  std::vector<int64_t> v(n);
  for (auto& x : v) x = static_cast<int64_t>(rng() % 1000);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  mpi::Environment env(&argc, &argv);
  CLI::App app{"bench_reduce: feature-count reduction over the ranks (MPI, NCCL)"};
  int sets = 2, reps = 20;
  int64_t d_sae = 65536;
  bool check = false, json = false;
  app.add_option("--sets", sets, "Sets (rows of counts)")->check(CLI::PositiveNumber);
  app.add_option("--d-sae", d_sae, "SAE features")->check(CLI::PositiveNumber);
  app.add_option("--reps", reps, "Timed repetitions")->check(CLI::PositiveNumber);
  app.add_flag("--check", check, "Check every backend's result against the exact sum");
  app.add_flag("--json", json, "Print one JSON object");
  CLI11_PARSE(app, argc, argv);
  const int rank = mpi::comm_rank(), n_rank = mpi::comm_size();
  const size_t n = static_cast<size_t>(sets) * static_cast<size_t>(d_sae);
  std::vector<int64_t> expected(n, 0);
  for (int r = 0; r < n_rank; ++r) {
    const auto c = rank_counts(r, n);
    for (size_t i = 0; i < n; ++i) expected[i] += c[i];
  }
  const std::vector<int64_t> mine = rank_counts(rank, n);
  nlohmann::json out = {{"bench", "reduce"}, {"commit", kGitCommit}, {"ranks", n_rank}, {"sets", sets}, {"d_sae", d_sae},
                        {"bytes", n * sizeof(int64_t)}, {"reps", reps}};
  int rc = 0;
  const auto run = [&](const std::string& name, const std::function<std::vector<int64_t>()>& reduce_once) {
    std::vector<int64_t> result = reduce_once();  // warm-up (and the NCCL communicator's set-up)
    bool exact = result == expected;
    std::vector<double> times;
    for (int i = 0; i < reps; ++i) {
      mpi::barrier();
      const Timer t;
      result = reduce_once();
      double s = t.seconds();
      MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &s, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
      times.push_back(s);
      exact = exact && result == expected;
    }
    int all_exact = exact ? 1 : 0;
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &all_exact, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
    if (check && !all_exact) rc = 1;
    const bench::Stats s = bench::stats(times);
    const double bus = n_rank > 1 ? 2.0 * (n_rank - 1) / n_rank * static_cast<double>(n * sizeof(int64_t)) / s.mean : 0.0;
    out[name] = {{"mean_s", s.mean}, {"sd_s", s.sd}, {"bus_gb_per_s", bus / 1e9}, {"exact", all_exact == 1}};
  };
  run("mpi", [&] {
    std::vector<int64_t> v = mine;
    allreduce_counts(v, MPI_COMM_WORLD, ReduceBackend::mpi);
    return v;
  });
  if (nccl_usable()) {
#ifdef SAEDIFF_HAVE_NCCL
    int64_t* device = nullptr;
    std::vector<int64_t> host(n);
    run("nccl_device", [&] {
      if (!device) {
        int n_device = 0;
        cudaGetDeviceCount(&n_device);
        cudaSetDevice(mpi::local_rank() % n_device);
        cudaMalloc(&device, n * sizeof(int64_t));
      }
      cudaMemcpy(device, mine.data(), n * sizeof(int64_t), cudaMemcpyHostToDevice);
      allreduce_counts_device(device, n, MPI_COMM_WORLD);
      cudaMemcpy(host.data(), device, n * sizeof(int64_t), cudaMemcpyDeviceToHost);
      return host;
    });
    cudaFree(device);
#endif
  } else {
    out["nccl_device"] = "not run: this build has no NCCL or this rank sees no GPU";
  }
  if (rank == 0) {
    if (json) {
      std::printf("%s\n", out.dump().c_str());
    } else {
      std::printf("bench_reduce: %d ranks, %d sets x %lld features int64 (%.2f MiB)\n", n_rank, sets,
                  static_cast<long long>(d_sae), static_cast<double>(n * 8) / (1 << 20));
      for (const char* name : {"mpi", "nccl_device"}) {
        if (!out[name].is_object()) {
          std::printf("  %-12s %s\n", name, out[name].get<std::string>().c_str());
          continue;
        }
        std::printf("  %-12s %9.3f ms ± %.3f  bus %.2f GB/s  exact: %s\n", name, out[name]["mean_s"].get<double>() * 1e3,
                    out[name]["sd_s"].get<double>() * 1e3, out[name]["bus_gb_per_s"].get<double>(),
                    out[name]["exact"].get<bool>() ? "yes" : "NO");
      }
    }
    if (check) std::fprintf(stderr, "check: %s\n", rc ? "FAILED: a reduction differs from the exact sum" : "every backend exact");
  }
  MPI_CHECK(MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD));
  return rc;
}
