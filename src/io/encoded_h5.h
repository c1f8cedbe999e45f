#pragma once
// encoded.h5: pooled SAE features per document, one group per set (layout in README "encoded.h5").
//   /sets/<set>/doc_id          [N]      strings (the prompt ids)
//   /sets/<set>/n_tokens        [N]      int64: tokens the reader saw (template included)
//   /sets/<set>/n_pooled        [N]      int64: tokens pooled (--pool content: the response's own)
//   /sets/<set>/{max,sum,count}/{indptr [N+1] int64, indices [nnz] int32, values [nnz] float32}
//   /sets/<set>/active_docs     [d_sae]  int64: documents whose max > attr `threshold` (reduced across ranks)
//   /sets/<set>/failed_doc_id   [n]      strings: responses that failed to collect (never encoded)
//   /sets/<set>/truncated_doc_id [n]     strings: encoded responses cut by max_tokens (finish_reason "length")
#include <mpi.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace saediff {

// One document's pooled features: only features whose max over the pooled tokens is > 0.
struct PooledDoc {
  int64_t doc_index = 0;         // global index: sets are contiguous, in set order
  int64_t n_token = 0;           // tokens run through the reader
  int64_t n_pooled = 0;          // tokens pooled
  std::vector<int32_t> feature;  // [nnz] ascending feature ids
  std::vector<float> max;        // [nnz] max over pooled tokens
  std::vector<float> sum;        // [nnz] sum over pooled tokens
  std::vector<float> count;      // [nnz] number of pooled tokens > 0
};

struct SetLayout {
  std::string name;
  int64_t first_doc = 0;                     // global index of this set's first document
  std::vector<std::string> doc_ids;          // [N] in row order
  std::vector<std::string> failed_doc_ids;   // responses that failed to collect
  std::vector<std::string> truncated_doc_ids;  // encoded, but cut by max_tokens (finish_reason "length")
  std::vector<int64_t> active_docs;          // [d_sae] reduced counts (same on every rank)
};

struct EncodedAttrs {
  std::map<std::string, std::string> text;  // model, sae, pooling, dtype, config, version, ...
  std::map<std::string, int64_t> integer;   // layer, d_sae, d_model, n_rank, ...
  double threshold = 0.5;                   // the threshold of active_docs
};

// Collective over `comm`: every rank passes the same `sets` and `attrs` and its own documents.
// Writes PATH.tmp with parallel HDF5 (MPI-IO, collective transfers) and renames it to PATH when
// complete, so a failed run never leaves a partial file under the final name.
void write_encoded_h5(const std::string& path, MPI_Comm comm, const std::vector<SetLayout>& sets,
                      const std::vector<PooledDoc>& mine, const EncodedAttrs& attrs, int64_t d_sae);

struct CsrMatrix {
  std::vector<int64_t> indptr;   // [N + 1]
  std::vector<int32_t> indices;  // [nnz]
  std::vector<float> values;     // [nnz]
};

struct EncodedSet {
  std::string name;
  std::vector<std::string> doc_ids;
  std::vector<int64_t> n_tokens;
  std::vector<int64_t> n_pooled;
  CsrMatrix max, sum, count;
  std::vector<int64_t> active_docs;  // [d_sae]
  double active_threshold = 0.0;
  std::vector<std::string> failed_doc_ids;
  std::vector<std::string> truncated_doc_ids;  // empty in files written before it existed
};

struct EncodedFile {
  std::vector<EncodedSet> sets;
  EncodedAttrs attrs;
  int64_t d_sae = 0;
  const EncodedSet& set(const std::string& name) const;  // throws, listing the sets, if absent
};

// Serial read of the whole file, validating the CSR structure.
EncodedFile read_encoded_h5(const std::string& path);

}  // namespace saediff
