#pragma once
// Encode stage: assemble (run_encode composes plan, dispatch, read, assemble, reduce, evidence). Every record's
// place - this run's, from each rank's FILE.idx, and earlier runs' - is gathered on rank 0; each rank then takes
// a contiguous run of documents, balanced by bytes, which the file's writer streams from the spool.
#include <memory>
#include <string>
#include <vector>

#include "app/encode_plan.h"
#include "io/encoded_h5.h"
#include "io/spool.h"

namespace saediff {

// This rank's share of the final file: a contiguous run of documents, read back from the spool.
class SpoolSource : public DocSource {
 public:
  SpoolSource(std::vector<SpoolEntry> entries, const std::vector<std::string>& files)
      : entries_(std::move(entries)), reader_(files) {}
  std::vector<DocSizes> sizes() const override;
  PooledDoc load(size_t i) override { return record(i).doc; }
  spool::Record record(size_t i);
  const std::vector<SpoolEntry>& entries() const { return entries_; }

 private:
  std::vector<SpoolEntry> entries_;
  spool::RecordReader reader_;
};

struct Assembly {
  std::unique_ptr<SpoolSource> source;
  int64_t n_old_files = 0;  // spool files 0..n_old_files-1 hold earlier runs' records
};

// Collective. `my_file`: this rank's spool file of this run ("" if none). Consumes plan.stored on rank 0.
Assembly place_records(EncodePlan& plan, const std::string& my_file);

}  // namespace saediff
