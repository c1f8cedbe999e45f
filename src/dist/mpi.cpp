#include "dist/mpi.h"

#include <cstdio>
#include <cstdlib>

#include "core/log.h"

namespace saediff::mpi {

std::string error_string(int code) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return cat("MPI error ", code);
  return std::string(text, static_cast<size_t>(len));
}

Environment::Environment(int* argc, char*** argv) {
  int provided = 0;
  // FUNNELED: only the main thread calls MPI; libtorch and libcurl threads never do.
  const int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  if (rc != MPI_SUCCESS) {
    std::fprintf(stderr, "saediff: MPI_Init_thread failed: %s\n", error_string(rc).c_str());
    std::exit(1);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  set_log_context(comm_rank(), comm_size());
}

namespace {
std::vector<void (*)()>& finalize_hooks() {
  static std::vector<void (*)()> hooks;
  return hooks;
}
}  // namespace

void at_finalize(void (*hook)()) { finalize_hooks().push_back(hook); }

Environment::~Environment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  std::vector<void (*)()>& hooks = finalize_hooks();
  while (!hooks.empty()) {
    void (*hook)() = hooks.back();
    hooks.pop_back();
    hook();
  }
  MPI_Finalize();
}

bool initialized() {
  int init = 0, finalized = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&finalized);
  return init && !finalized;
}

bool launched_by_mpi() {
  // Open MPI's mpirun, PMIx launchers (Open MPI 5, srun --mpi=pmix), PMI-1/2 (MPICH, Intel MPI, srun --mpi=pmi2),
  // and srun itself (a step's task, whatever plugin).
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "PMI_FD", "SLURM_STEP_ID"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

int comm_rank(MPI_Comm comm) {
  if (!initialized()) return 0;
  int rank = 0;
  MPI_CHECK(MPI_Comm_rank(comm, &rank));
  return rank;
}

int comm_size(MPI_Comm comm) {
  if (!initialized()) return 1;
  int size = 0;
  MPI_CHECK(MPI_Comm_size(comm, &size));
  return size;
}

void barrier(MPI_Comm comm) { MPI_CHECK(MPI_Barrier(comm)); }

namespace {
MPI_Comm node_comm() {
  static MPI_Comm comm = MPI_COMM_NULL;
  if (comm == MPI_COMM_NULL) {
    MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, comm_rank(), MPI_INFO_NULL, &comm));
  }
  return comm;
}
}  // namespace

int local_rank() { return initialized() ? comm_rank(node_comm()) : 0; }
int local_size() { return initialized() ? comm_size(node_comm()) : 1; }

void abort_all(int code) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

void broadcast(std::string& s, int root, MPI_Comm comm) {
  std::vector<char> buf(s.begin(), s.end());
  broadcast(buf, root, comm);
  s.assign(buf.begin(), buf.end());
}

}  // namespace saediff::mpi
