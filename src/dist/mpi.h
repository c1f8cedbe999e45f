#pragma once
// Thin, checked MPI wrappers. Every MPI call goes through MPI_CHECK, which throws saediff::Error
// with the call text, file:line, rank and host.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace saediff::mpi {

std::string error_string(int code);

}  // namespace saediff::mpi

#define MPI_CHECK(call)                                                                            \
  do {                                                                                             \
    const int mpi_check_rc_ = (call);                                                              \
    if (mpi_check_rc_ != MPI_SUCCESS)                                                              \
      ::saediff::throw_error(__FILE__, __LINE__,                                                   \
                             ::saediff::cat(#call, " failed: ", ::saediff::mpi::error_string(mpi_check_rc_))); \
  } while (0)

namespace saediff::mpi {

// Owns MPI_Init/MPI_Finalize; sets the log context's rank. Errors return codes (MPI_ERRORS_RETURN)
// so that MPI_CHECK can turn them into exceptions. The hooks given to at_finalize run first, in reverse
// order of registration (the NCCL communicator is destroyed there, before MPI goes away).
class Environment {
 public:
  Environment(int* argc, char*** argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
};

// True between MPI_Init and MPI_Finalize. The subcommands that need no ranks run without MPI (no singleton
// daemon is started for them); there, comm_rank() is 0, comm_size() and local_size() are 1.
bool initialized();
// True when a launcher (mpirun/mpiexec, srun, any PMI/PMIx one) started this process: MPI must then be
// initialised whatever the subcommand, so that every rank takes part.
bool launched_by_mpi();
// Runs `hook` just before MPI_Finalize (at most once; later registrations run first).
void at_finalize(void (*hook)());

int comm_rank(MPI_Comm comm = MPI_COMM_WORLD);
int comm_size(MPI_Comm comm = MPI_COMM_WORLD);
void barrier(MPI_Comm comm = MPI_COMM_WORLD);
// Ranks sharing this node (for per-node thread counts and GPU assignment).
int local_rank();
int local_size();
// Aborts every rank: the last resort after a fatal error on one rank.
[[noreturn]] void abort_all(int code);

template <typename T>
MPI_Datatype type_from();
template <> inline MPI_Datatype type_from<int32_t>() { return MPI_INT32_T; }
template <> inline MPI_Datatype type_from<int64_t>() { return MPI_INT64_T; }
template <> inline MPI_Datatype type_from<uint64_t>() { return MPI_UINT64_T; }
template <> inline MPI_Datatype type_from<float>() { return MPI_FLOAT; }
template <> inline MPI_Datatype type_from<double>() { return MPI_DOUBLE; }
template <> inline MPI_Datatype type_from<char>() { return MPI_CHAR; }

// Sends/receives a whole vector (its length first).
template <typename T>
void send_vector(const std::vector<T>& v, int dest, int tag, MPI_Comm comm = MPI_COMM_WORLD) {
  const int64_t n = static_cast<int64_t>(v.size());
  MPI_CHECK(MPI_Send(&n, 1, MPI_INT64_T, dest, tag, comm));
  SAEDIFF_CHECK(n <= INT32_MAX, "message of ", n, " elements is too large for one MPI_Send");
  if (n > 0) MPI_CHECK(MPI_Send(v.data(), static_cast<int>(n), type_from<T>(), dest, tag, comm));
}
template <typename T>
std::vector<T> recv_vector(int source, int tag, MPI_Comm comm = MPI_COMM_WORLD) {
  int64_t n = 0;
  MPI_CHECK(MPI_Recv(&n, 1, MPI_INT64_T, source, tag, comm, MPI_STATUS_IGNORE));
  std::vector<T> v(static_cast<size_t>(n));
  if (n > 0) MPI_CHECK(MPI_Recv(v.data(), static_cast<int>(n), type_from<T>(), source, tag, comm, MPI_STATUS_IGNORE));
  return v;
}
// Broadcasts a vector or string from `root` to every rank (resizing on the receivers).
template <typename T>
void broadcast(std::vector<T>& v, int root = 0, MPI_Comm comm = MPI_COMM_WORLD) {
  int64_t n = static_cast<int64_t>(v.size());
  MPI_CHECK(MPI_Bcast(&n, 1, MPI_INT64_T, root, comm));
  v.resize(static_cast<size_t>(n));
  SAEDIFF_CHECK(n <= INT32_MAX, "broadcast of ", n, " elements is too large");
  if (n > 0) MPI_CHECK(MPI_Bcast(v.data(), static_cast<int>(n), type_from<T>(), root, comm));
}
void broadcast(std::string& s, int root = 0, MPI_Comm comm = MPI_COMM_WORLD);
// Gathers every rank's vector on every rank, concatenated in rank order.
template <typename T>
std::vector<T> allgatherv(const std::vector<T>& mine, MPI_Comm comm = MPI_COMM_WORLD) {
  const int n_rank = comm_size(comm);
  const int n_mine = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<size_t>(n_rank)), displs(static_cast<size_t>(n_rank));
  MPI_CHECK(MPI_Allgather(&n_mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm));
  int64_t total = 0;
  for (int r = 0; r < n_rank; ++r) {
    displs[static_cast<size_t>(r)] = static_cast<int>(total);
    total += counts[static_cast<size_t>(r)];
  }
  SAEDIFF_CHECK(total <= INT32_MAX, "allgatherv of ", total, " elements is too large");
  std::vector<T> all(static_cast<size_t>(total));
  MPI_CHECK(MPI_Allgatherv(mine.data(), n_mine, type_from<T>(), all.data(), counts.data(), displs.data(),
                           type_from<T>(), comm));
  return all;
}

// Gathers every rank's vector on `root`, concatenated in rank order (empty elsewhere). `counts` receives each
// rank's length on the root when given.
template <typename T>
std::vector<T> gatherv(const std::vector<T>& mine, int root = 0, MPI_Comm comm = MPI_COMM_WORLD,
                       std::vector<int>* counts_out = nullptr) {
  const int n_rank = comm_size(comm), rank = comm_rank(comm);
  SAEDIFF_CHECK(mine.size() <= static_cast<size_t>(INT32_MAX), "gatherv of ", mine.size(), " elements is too large");
  const int n_mine = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<size_t>(n_rank)), displs(static_cast<size_t>(n_rank));
  MPI_CHECK(MPI_Gather(&n_mine, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm));
  int64_t total = 0;
  for (int r = 0; r < n_rank; ++r) {
    displs[static_cast<size_t>(r)] = static_cast<int>(total);
    total += counts[static_cast<size_t>(r)];
  }
  SAEDIFF_CHECK(rank != root || total <= INT32_MAX, "gatherv of ", total, " elements is too large");
  std::vector<T> all(rank == root ? static_cast<size_t>(total) : 0);
  MPI_CHECK(MPI_Gatherv(mine.data(), n_mine, type_from<T>(), all.data(), counts.data(), displs.data(), type_from<T>(), root, comm));
  if (counts_out) *counts_out = counts;
  return all;
}
// Scatters parts[r] from `root` to rank r (parts is read on the root only).
template <typename T>
std::vector<T> scatterv(const std::vector<std::vector<T>>& parts, int root = 0, MPI_Comm comm = MPI_COMM_WORLD) {
  const int n_rank = comm_size(comm), rank = comm_rank(comm);
  std::vector<int> counts(static_cast<size_t>(n_rank), 0), displs(static_cast<size_t>(n_rank), 0);
  std::vector<T> flat;
  if (rank == root) {
    SAEDIFF_CHECK(parts.size() == static_cast<size_t>(n_rank), "scatterv needs one part per rank");
    for (int r = 0; r < n_rank; ++r) {
      displs[static_cast<size_t>(r)] = static_cast<int>(flat.size());
      counts[static_cast<size_t>(r)] = static_cast<int>(parts[static_cast<size_t>(r)].size());
      flat.insert(flat.end(), parts[static_cast<size_t>(r)].begin(), parts[static_cast<size_t>(r)].end());
      SAEDIFF_CHECK(flat.size() <= static_cast<size_t>(INT32_MAX), "scatterv of ", flat.size(), " elements is too large");
    }
  }
  int n_mine = 0;
  MPI_CHECK(MPI_Scatter(counts.data(), 1, MPI_INT, &n_mine, 1, MPI_INT, root, comm));
  std::vector<T> mine(static_cast<size_t>(n_mine));
  MPI_CHECK(MPI_Scatterv(flat.data(), counts.data(), displs.data(), type_from<T>(), mine.data(), n_mine, type_from<T>(), root, comm));
  return mine;
}

}  // namespace saediff::mpi
