#pragma once
// Dynamic work distribution: rank 0 holds a queue of chunks and hands the next one to whichever rank asks.
// Every rank, rank 0 included, encodes. Rank 0 answers requests between its own documents (poll()), and each
// worker asks for its next chunk as it starts the current one, so a reply is waiting when it finishes: rank 0
// being busy with a long document delays no one by more than one of its documents.
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace saediff {

// Chunks of documents for the queue: documents in descending length (ties: lower index first), cut into runs of
// at most `token_budget` tokens (a document longer than the budget is a chunk of its own). Longest first, so that
// the last chunks handed out are the shortest and the ranks finish together. Deterministic.
std::vector<std::vector<size_t>> plan_chunks(const std::vector<int64_t>& n_tokens, int64_t token_budget);

// What a rank has done so far; workers send theirs with every request.
struct WorkProgress {
  int64_t chunks = 0;
  int64_t docs = 0;
  int64_t tokens = 0;
  int64_t bytes = 0;     // of input text: what rank 0's ETA is measured in
  double busy_s = 0.0;   // encoding
  double wait_s = 0.0;   // waiting for work
  int64_t rss_bytes = 0; // resident memory now
  int64_t peak_rss_bytes = 0;
};

struct DispatchHooks {
  // Rank 0: the message that carries chunk i.
  std::function<std::string(size_t chunk)> pack;
  // Any rank: encodes one chunk's message, updating `progress` (docs, tokens) as it goes and calling `poll`
  // between documents (rank 0 serves requests there; elsewhere it does nothing).
  std::function<void(const std::string& message, WorkProgress& progress, const std::function<void()>& poll)> process;
  // Rank 0: called from poll() at most every `report_seconds` with every rank's latest progress.
  std::function<void(const std::vector<WorkProgress>& ranks)> report;
  double report_seconds = 10.0;
};

// Collective. Rank 0 hands out chunks 0..n_chunks-1 (n_chunks is read on rank 0 only) until none are left.
// Returns every rank's final progress on rank 0 (its own entry elsewhere).
std::vector<WorkProgress> dispatch_chunks(MPI_Comm comm, size_t n_chunks, const DispatchHooks& hooks);

}  // namespace saediff
