#pragma once
// One document's encode result, as it travels from the reader to the spool and into encoded.h5.
#include <cstdint>
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
  std::vector<int32_t> topk_feature;  // [n_pooled * k] per pooled token, strongest first; -1 in unused slots
  std::vector<float> topk_value;      // [n_pooled * k]
  std::vector<float> evidence_values; // [n_evidence * n_pooled]: this document's evidence entries, in order
  std::vector<int32_t> token_id;      // [n_pooled] the pooled tokens' ids
  std::vector<int64_t> token_end;     // [n_pooled] each pooled token's end byte within `text`
  std::string text;                   // the pooled tokens' bytes, concatenated
};

// Row sizes of one document.
struct DocSizes {
  int64_t doc_index = 0;
  int64_t n_token = 0;
  int64_t n_pooled = 0;
  int64_t nnz = 0;
  int64_t text_bytes = 0;
};

}  // namespace saediff
