#pragma once
// Per-document pooling of SAE activations: max, sum and count of tokens > 0, per feature, over a
// token range; only features whose max is > 0 are kept.
#include <torch/torch.h>

#include "io/encoded_h5.h"

namespace saediff {

enum class PoolScope {
  content,  // the response's own tokens: no template prefix, no closing <|eot_id|> (default)
  all,      // every token, as the Python reference does
};

PoolScope parse_pool_scope(const std::string& name);  // "content" | "all"
const char* pool_scope_name(PoolScope scope);

// f: [n_token, d_sae] float32 activations of one document (>= 0, after ReLU).
// Pools rows [begin, end) and returns the sparse result (doc_index, n_token, n_pooled filled in). With
// `dense_max`, also the max of every feature [d_sae], left on f's device (undefined when the range is empty).
PooledDoc pool_features(const torch::Tensor& f, int64_t begin, int64_t end, int64_t doc_index,
                        torch::Tensor* dense_max = nullptr);

// Per pooled token of rows [begin, end), its k strongest features, strongest first (ties: lower feature
// id first), into doc.topk_feature / doc.topk_value ([n_pooled * k]); slots past the token's active
// features hold feature -1 and value 0. k = 0 stores nothing.
void token_topk(const torch::Tensor& f, int64_t begin, int64_t end, int64_t k, PooledDoc& doc);

}  // namespace saediff
