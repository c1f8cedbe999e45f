#include "dist/dispatch.h"

#include <algorithm>
#include <chrono>
#include <list>
#include <numeric>
#include <thread>

#include "core/memory.h"
#include "core/timer.h"
#include "dist/mpi.h"

namespace saediff {
namespace {

constexpr int kTagRequest = 201;
constexpr int kTagChunk = 202;
constexpr int kFields = 8;

void to_wire(const WorkProgress& p, int64_t* out) {
  out[0] = p.chunks;
  out[1] = p.docs;
  out[2] = p.tokens;
  out[3] = static_cast<int64_t>(p.busy_s * 1e6);
  out[4] = static_cast<int64_t>(p.wait_s * 1e6);
  out[5] = p.rss_bytes;
  out[6] = p.peak_rss_bytes;
  out[7] = p.bytes;
}

WorkProgress from_wire(const int64_t* in) {
  WorkProgress p;
  p.chunks = in[0];
  p.docs = in[1];
  p.tokens = in[2];
  p.busy_s = static_cast<double>(in[3]) * 1e-6;
  p.wait_s = static_cast<double>(in[4]) * 1e-6;
  p.rss_bytes = in[5];
  p.peak_rss_bytes = in[6];
  p.bytes = in[7];
  return p;
}

void sample_memory(WorkProgress& p) {
  p.rss_bytes = current_host_bytes();
  p.peak_rss_bytes = peak_host_bytes();
}

}  // namespace

std::vector<std::vector<size_t>> plan_chunks(const std::vector<int64_t>& n_tokens, int64_t token_budget) {
  SAEDIFF_CHECK(token_budget > 0, "the chunk token budget must be positive");
  std::vector<size_t> order(n_tokens.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return n_tokens[a] > n_tokens[b]; });
  std::vector<std::vector<size_t>> chunks;
  int64_t load = 0;
  for (size_t doc : order) {
    const int64_t n = std::max<int64_t>(n_tokens[doc], 1);
    if (chunks.empty() || load + n > token_budget) {
      chunks.emplace_back();
      load = 0;
    }
    chunks.back().push_back(doc);
    load += n;
  }
  return chunks;
}

std::vector<WorkProgress> dispatch_chunks(MPI_Comm comm, size_t n_chunks, const DispatchHooks& hooks) {
  const int rank = mpi::comm_rank(comm), n_rank = mpi::comm_size(comm);
  WorkProgress mine;
  const auto no_poll = [] {};

  if (rank != 0) {
    int64_t wire[kFields];
    const auto request = [&] {
      sample_memory(mine);
      to_wire(mine, wire);
      MPI_CHECK(MPI_Send(wire, kFields, MPI_INT64_T, 0, kTagRequest, comm));
    };
    const auto receive = [&] {
      const Timer wait;
      MPI_Status status;
      MPI_CHECK(MPI_Probe(0, kTagChunk, comm, &status));
      int n = 0;
      MPI_CHECK(MPI_Get_count(&status, MPI_CHAR, &n));
      std::string message(static_cast<size_t>(n), '\0');
      MPI_CHECK(MPI_Recv(message.data(), n, MPI_CHAR, 0, kTagChunk, comm, MPI_STATUS_IGNORE));
      mine.wait_s += wait.seconds();
      return message;
    };
    request();
    std::string current = receive();
    while (!current.empty()) {
      request();  // ask for the next chunk now: its reply arrives while this one runs
      const Timer busy;
      hooks.process(current, mine, no_poll);
      mine.busy_s += busy.seconds();
      ++mine.chunks;
      current = receive();
    }
  }

  std::vector<WorkProgress> ranks(static_cast<size_t>(n_rank));
  if (rank == 0) {
    size_t next = 0;
    int active = n_rank - 1;  // workers not yet told that the queue is empty
    struct Outgoing {
      MPI_Request request = MPI_REQUEST_NULL;
      std::string message;
    };
    // A list, so that Isend buffers never move; owned by a pointer that is deleted only after every send has
    // completed. If this rank throws meanwhile, the buffers stay alive (leaked) until the CLI aborts the job.
    auto* pending = new std::list<Outgoing>();
    std::list<Outgoing>& outgoing = *pending;
    Timer since_report;
    const auto report = [&] {
      if (!hooks.report || since_report.seconds() < hooks.report_seconds) return;
      sample_memory(mine);
      ranks[0] = mine;
      hooks.report(ranks);
      since_report.reset();
    };
    const auto answer = [&](const MPI_Status& status) {
      int64_t wire[kFields];
      MPI_CHECK(MPI_Recv(wire, kFields, MPI_INT64_T, status.MPI_SOURCE, kTagRequest, comm, MPI_STATUS_IGNORE));
      ranks[static_cast<size_t>(status.MPI_SOURCE)] = from_wire(wire);
      Outgoing& out = outgoing.emplace_back();
      if (next < n_chunks) {
        out.message = hooks.pack(next++);
        SAEDIFF_CHECK(!out.message.empty(), "an empty chunk message (reserved for 'no more work')");
      } else {
        --active;
      }
      SAEDIFF_CHECK(out.message.size() <= static_cast<size_t>(INT32_MAX), "chunk message too large");
      MPI_CHECK(MPI_Isend(out.message.data(), static_cast<int>(out.message.size()), MPI_CHAR, status.MPI_SOURCE,
                          kTagChunk, comm, &out.request));
      for (auto it = outgoing.begin(); it != outgoing.end();) {  // release the buffers of completed sends
        int done = 0;
        MPI_CHECK(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE));
        it = done ? outgoing.erase(it) : std::next(it);
      }
    };
    const auto poll = [&] {
      for (;;) {
        int flag = 0;
        MPI_Status status;
        MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, kTagRequest, comm, &flag, &status));
        if (!flag) break;
        answer(status);
      }
      report();
    };
    for (;;) {
      poll();
      if (next >= n_chunks) break;
      const std::string message = hooks.pack(next++);
      const Timer busy;
      hooks.process(message, mine, poll);
      mine.busy_s += busy.seconds();
      ++mine.chunks;
    }
    while (active > 0) {  // the queue is empty: tell every worker as it asks
      // Probing without blocking, so that the progress line keeps coming while the last chunks run.
      MPI_Status status;
      const Timer wait;
      for (int flag = 0; !flag;) {
        MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, kTagRequest, comm, &flag, &status));
        if (!flag) {
          report();
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
      mine.wait_s += wait.seconds();
      answer(status);
      report();
    }
    for (Outgoing& out : outgoing) MPI_CHECK(MPI_Wait(&out.request, MPI_STATUS_IGNORE));
    delete pending;
  }

  // Everyone's final figures, on rank 0.
  sample_memory(mine);
  int64_t wire[kFields];
  to_wire(mine, wire);
  std::vector<int64_t> all(static_cast<size_t>(kFields * n_rank));
  MPI_CHECK(MPI_Gather(wire, kFields, MPI_INT64_T, all.data(), kFields, MPI_INT64_T, 0, comm));
  if (rank != 0) return {mine};
  for (int r = 0; r < n_rank; ++r) ranks[static_cast<size_t>(r)] = from_wire(all.data() + kFields * r);
  return ranks;
}

}  // namespace saediff
