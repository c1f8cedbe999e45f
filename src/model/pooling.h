#pragma once
// Per-document pooling of SAE activations: max, sum and count of tokens > 0, per feature, over a
// token range; only features whose max is > 0 are kept.
#include <torch/torch.h>

#include "io/encoded_h5.h"
#include "model/sae.h"

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

// The SAE and the pooling of one document in one go: encodes rows [begin, end) of x ([n_token, d_model], the
// reader's output) in blocks of at most `block_rows` tokens and pools them as pool_features + token_topk do on
// sae.encode(x), so that the dense [tokens, d_sae] activations never exist for more than one block (a
// 4,096-token block of the 65,536-feature SAE is 1 GiB of float32), and the template's tokens outside the range
// are never encoded. Same values as the two-step form, except that sums add block by block (float32, the
// order may differ in the last bits). `dense_max` as in pool_features.
constexpr int64_t kSaeBlockRows = 4096;
PooledDoc encode_and_pool(const Sae& sae, const torch::Tensor& x, int64_t begin, int64_t end, int64_t topk,
                          int64_t doc_index, torch::Tensor* dense_max = nullptr, int64_t block_rows = kSaeBlockRows);

// encode_and_pool in two halves, so that a batch's documents are queued on the device back to back and reach
// the host in one copy: pool_on_device queues one document's work and returns at once (nothing waits for the
// device); finish_pools copies every pending result to the host in one transfer (into pinned memory on a GPU)
// and makes the sparse documents.
struct PendingPool {
  torch::Tensor flat;  // [3 d_sae + 2 n_pooled k'] float32 on the device: max, sum, count, top-k values, ids
  torch::Tensor max;   // [d_sae] float32 on the device (undefined when nothing is pooled)
  int64_t doc_index = 0, n_token = 0, n_pooled = 0, topk = 0, kept = 0;  // kept: k' = min(topk, d_sae)
};
PendingPool pool_on_device(const Sae& sae, const torch::Tensor& x, int64_t begin, int64_t end, int64_t topk,
                           int64_t doc_index, int64_t block_rows = kSaeBlockRows);
std::vector<PooledDoc> finish_pools(const std::vector<PendingPool>& pending);

// The activations of `features` ([n] int64 ids) on rows [begin, end) of x, in the blocks encode_and_pool uses:
// [end - begin, n] float32 on x's device; for the same x, the values pooled there (the evidence pass, which
// reads its documents alone rather than in their batch, so its x can differ from encode's in the last bits).
torch::Tensor encode_feature_rows(const Sae& sae, const torch::Tensor& x, int64_t begin, int64_t end,
                                  const torch::Tensor& features, int64_t block_rows = kSaeBlockRows);

}  // namespace saediff
