#pragma once
// Encode stage: read (run_encode composes plan, dispatch, read, assemble, reduce, evidence). A rank's reader turns each
// chunk the dispatcher hands it into spool records. Per batch: tokenize and pack (host), the packed forward pass
// to layer L and the SAE and pooling of the whole batch (device), then the sparse rows, the text and the spool
// append (host). The three run as a pipeline: while batch N runs on the device, a host thread tokenizes batch N+1
// and another finishes batch N-1 (on a GPU, batch N's results come back by an asynchronous copy into pinned
// memory). Values do not depend on the pipeline: each batch is computed exactly as it would be alone.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app/encode.h"
#include "core/bytes.h"
#include "dist/dispatch.h"
#include "io/spool.h"
#include "model/llama.h"
#include "model/pooling.h"
#include "model/sae.h"
#include "text/tokenizer.h"

namespace saediff {

class ChunkReader {
 public:
  ChunkReader(const EncodeConfig& config, const LlamaModel& model, const Sae& sae, const Tokenizer& tokenizer,
              PoolScope scope, int64_t n_set, torch::Device device, std::string spool_dir);
  ~ChunkReader();

  // The dispatcher's process hook: encodes one chunk message (EncodePlan::chunk_message), appends its records to
  // this rank's spool file, makes them durable, and records their places in FILE.idx.
  void process(const std::string& message, WorkProgress& progress, const std::function<void()>& poll);
  // Closes this rank's spool file and returns its path ("" when this rank encoded nothing).
  std::string close();
  // This run's documents with pooled max > threshold, per set, on the device: [n_set, d_sae] int64.
  const torch::Tensor& counts() const { return counts_; }

 private:
  struct Batch;     // one batch's documents, tokenized
  struct Finished;  // one batch's records, appended
  Batch prepare(ByteReader& in) const;
  Batch tokenize(Batch batch) const;
  Finished finish(Batch batch, HostBatch host);

  const EncodeConfig& config_;
  const LlamaModel& model_;
  const Sae& sae_;
  const Tokenizer& tokenizer_;
  PoolScope scope_;
  torch::Device device_;
  std::string spool_dir_;
  torch::Tensor counts_;
  std::unique_ptr<spool::Writer> writer_;
};

}  // namespace saediff
