#include "dist/reduce.h"

#include "dist/mpi.h"

namespace saediff {

bool nccl_usable() {
#ifdef SAEDIFF_HAVE_NCCL
  return nccl_device_present();
#else
  return false;
#endif
}

void allreduce_counts(std::vector<int64_t>& counts, MPI_Comm comm, ReduceBackend backend) {
  if (backend == ReduceBackend::nccl) {
#ifdef SAEDIFF_HAVE_NCCL
    nccl_allreduce_counts(counts, comm);
    return;
#else
    SAEDIFF_FAIL("the NCCL reduction was requested, but this saediff was built without NCCL");
#endif
  }
  SAEDIFF_CHECK(counts.size() <= static_cast<size_t>(INT32_MAX), "too many counts for one MPI_Allreduce");
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, counts.data(), static_cast<int>(counts.size()), MPI_INT64_T, MPI_SUM, comm));
}

void allreduce_counts_device(int64_t* device_counts, size_t n, MPI_Comm comm) {
#ifdef SAEDIFF_HAVE_NCCL
  nccl_allreduce_device(device_counts, n, comm);
#else
  (void)device_counts;
  (void)n;
  (void)comm;
  SAEDIFF_FAIL("the NCCL reduction was requested, but this saediff was built without NCCL");
#endif
}

}  // namespace saediff
