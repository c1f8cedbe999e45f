// Dispatcher overhead and weak scaling: rank 0's chunk queue (dist/dispatch.h) with synthetic work in place of the
// reader, so that the figures are the coordination's own.
//   mpirun -np N build/bench/bench_dispatch [--chunks-per-rank C] [--docs D] [--work-us U] [--work sleep|spin]
//                                           [--jitter J] [--check] [--json]
// Each chunk holds D documents; each document "takes" U microseconds (times 1 ± J, seeded per document): `sleep`
// leaves the core idle, like a rank waiting on its GPU, so that more ranks than cores still measure the protocol;
// `spin` burns the core. Weak scaling: C chunks per rank, so the ideal wall time is the same at every rank count.
// Reports wall time against the ideal (all work, as measured around each document, spread evenly), the efficiency
// (sum of work / (wall x ranks)), the rank-time lost per chunk, and the ranks' wait. --check asserts that every chunk ran exactly once, on some rank.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/timer.h"
#include "dist/dispatch.h"
#include "dist/mpi.h"
#include "saediff/version.h"

using namespace saediff;

namespace {

double doc_us(uint64_t doc, double work_us, double jitter) {
  std::mt19937_64 rng(doc * 0x9E3779B97F4A7C15ull + 1);
  std::uniform_real_distribution<double> u(-jitter, jitter);
  return work_us * (1.0 + u(rng));
}

void work(double us, bool spin) {
  if (!spin) {
    std::this_thread::sleep_for(std::chrono::duration<double, std::micro>(us));
    return;
  }
  const Timer t;
  volatile double x = 0;
  while (t.seconds() * 1e6 < us) x = x + 1;
}

}  // namespace

int main(int argc, char** argv) {
  mpi::Environment env(&argc, &argv);
  CLI::App app{"bench_dispatch: the encode dispatcher's overhead and weak scaling"};
  int chunks_per_rank = 200, docs = 8;
  double work_us = 500, jitter = 0.5;
  std::string mode = "sleep";
  bool check = false, json = false;
  app.add_option("--chunks-per-rank", chunks_per_rank, "Chunks per rank (weak scaling)")->check(CLI::PositiveNumber);
  app.add_option("--docs", docs, "Documents per chunk")->check(CLI::PositiveNumber);
  app.add_option("--work-us", work_us, "Microseconds of work per document")->check(CLI::NonNegativeNumber);
  app.add_option("--jitter", jitter, "Relative spread of the work per document")->check(CLI::Range(0.0, 0.99));
  app.add_option("--work", mode, "sleep (idle core, like a GPU rank) or spin")->check(CLI::IsMember({"sleep", "spin"}));
  app.add_flag("--check", check, "Assert that every chunk ran exactly once");
  app.add_flag("--json", json, "Print one JSON object");
  CLI11_PARSE(app, argc, argv);
  const int rank = mpi::comm_rank(), n_rank = mpi::comm_size();
  const size_t n_chunks = static_cast<size_t>(chunks_per_rank) * static_cast<size_t>(n_rank);
  const bool spin = mode == "spin";

  std::vector<int64_t> ran;  // chunk ids this rank ran
  double my_work_us = 0;
  DispatchHooks hooks;
  hooks.pack = [&](size_t c) {
    ByteWriter w;
    w.put(static_cast<int64_t>(c));
    return std::move(w.str());
  };
  hooks.process = [&](const std::string& message, WorkProgress& progress, const std::function<void()>& poll) {
    ByteReader in(message, "chunk");
    const auto c = in.get<int64_t>();
    ran.push_back(c);
    for (int d = 0; d < docs; ++d) {
      const double us = doc_us(static_cast<uint64_t>(c) * static_cast<uint64_t>(docs) + static_cast<uint64_t>(d), work_us, jitter);
      const Timer t;
      work(us, spin);
      my_work_us += t.seconds() * 1e6;  // as done, timer slack included: what remains of the wall is coordination
      ++progress.docs;
      poll();
    }
  };
  mpi::barrier();
  const Timer wall_timer;
  const std::vector<WorkProgress> loads = dispatch_chunks(MPI_COMM_WORLD, n_chunks, hooks);
  double wall = wall_timer.seconds();
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &wall, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
  double total_work_us = my_work_us, max_work_us = my_work_us;
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &total_work_us, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD));
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &max_work_us, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
  const std::vector<int64_t> all_ran = mpi::gatherv(ran);

  int rc = 0;
  if (rank == 0) {
    if (check) {
      std::vector<int> seen(n_chunks, 0);
      for (int64_t c : all_ran) {
        if (c < 0 || static_cast<size_t>(c) >= n_chunks) rc = 1;
        else ++seen[static_cast<size_t>(c)];
      }
      for (int s : seen) rc |= s != 1;
      int64_t docs_done = 0;
      for (const WorkProgress& p : loads) docs_done += p.docs;
      rc |= docs_done != static_cast<int64_t>(n_chunks) * docs;
      std::fprintf(stderr, "check: %zu chunks on %d ranks: %s\n", n_chunks, n_rank, rc ? "FAILED" : "each ran exactly once");
    }
    const double ideal = total_work_us * 1e-6 / n_rank;  // perfect balance, zero overhead
    double max_wait = 0;
    for (const WorkProgress& p : loads) max_wait = std::max(max_wait, p.wait_s);
    const nlohmann::json out = {
        {"bench", "dispatch"}, {"commit", kGitCommit}, {"ranks", n_rank}, {"chunks", n_chunks}, {"docs_per_chunk", docs},
        {"work_us", work_us}, {"jitter", jitter}, {"work", mode}, {"wall_s", wall}, {"ideal_s", ideal},
        {"busiest_rank_work_s", max_work_us * 1e-6}, {"efficiency", wall > 0 ? ideal / wall : 0.0},
        {"overhead_per_chunk_us", (wall - ideal) * 1e6 / static_cast<double>(n_chunks) * n_rank},
        {"max_rank_wait_s", max_wait}, {"check", check ? (rc ? "failed" : "passed") : "not run"}};
    if (json) {
      std::printf("%s\n", out.dump().c_str());
    } else {
      std::printf("| ranks | chunks | work/doc | wall s | ideal s | efficiency | overhead/chunk |\n|---|---|---|---|---|---|---|\n");
      std::printf("| %d | %zu | %.0f us (%s) | %.3f | %.3f | %.1f%% | %.1f us |\n", n_rank, n_chunks, work_us, mode.c_str(), wall,
                  ideal, 100 * ideal / wall, (wall - ideal) * 1e6 / static_cast<double>(n_chunks) * n_rank);
    }
  }
  MPI_CHECK(MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD));
  return rc;
}
