#pragma once
// Per-document pooling of SAE activations: max, sum and count of tokens > 0, per feature, over a
// token range; only features whose max is > 0 are kept.
#include <c10/core/Event.h>
#include <torch/torch.h>

#include <memory>

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
constexpr int64_t kCpuBlockBytes = int64_t{8} << 20;
// The block size (block_rows = 0 below): kSaeBlockRows on a GPU, where big GEMMs pay; on a CPU as many rows as
// keep a block's float32 activations within kCpuBlockBytes, so that the pooling passes over them run from cache
// (16 to kSaeBlockRows rows).
int64_t sae_block_rows(const torch::Device& device, int64_t d_sae);
PooledDoc encode_and_pool(const Sae& sae, const torch::Tensor& x, int64_t begin, int64_t end, int64_t topk,
                          int64_t doc_index, torch::Tensor* dense_max = nullptr, int64_t block_rows = 0);

// The SAE and pooling of a whole batch, in two halves, so that the work queued on the device does not grow with
// the number of documents in it and reaches the host in one copy. pool_batch queues it and returns at once
// (nothing waits for the device); finish_batch copies every result to the host in one transfer (into pinned
// memory on a GPU) and makes the sparse documents.
//
// Each document's pooled rows are cut into pieces of at most `block_rows`; consecutive pieces are gathered into
// blocks of at most `block_rows` rows, padded to the block's longest piece (padding under a quarter of a
// block's rows), so that a block is one fused GEMM + ReLU
// ([rows, d_model] x [d_model, d_sae], spanning documents) and one max, one sum and one count over its
// [pieces, longest, d_sae] view (padding rows are zeroed: activations are >= 0, so they change nothing), and
// one top-k over its rows. Only a document longer than `block_rows` pooled tokens has its pieces combined
// afterwards. Values are those of encode_and_pool on the document alone, except the last bits of sums (float32,
// the order of additions differs) and of the GEMM (its blocking depends on the rows it is given).
struct PoolRange {
  int64_t first = 0;    // the document's first row in x
  int64_t n_token = 0;  // its rows in x
  int64_t begin = 0;    // pooled rows [first + begin, first + end)
  int64_t end = 0;
  int64_t doc_index = 0;
};
struct PendingBatch {
  std::vector<PoolRange> docs;
  std::vector<int64_t> pooled_row;  // per document, its row in `max` (-1: nothing pooled)
  torch::Tensor stats;  // [n_pooled_docs, 3, d_sae] float32 on the device: max, sum, count
  torch::Tensor max;    // [n_pooled_docs, d_sae] view of stats (undefined when no document pools a token)
  torch::Tensor top;    // [2, rows, k'] float32: per pooled token in document order, top-k values, then ids
  int64_t topk = 0, kept = 0;  // kept: k' = min(topk, d_sae)
};
PendingBatch pool_batch(const Sae& sae, const torch::Tensor& x, std::vector<PoolRange> docs, int64_t topk,
                        int64_t block_rows = 0);
std::vector<PooledDoc> finish_batch(const PendingBatch& pending);

// finish_batch in two, for a pipelined encode: start_host_copy queues the batch's one device-to-host copy (on a
// GPU into pinned memory, asynchronously, with an event after it) from the thread that queued the batch's work;
// finish_host waits for that copy and makes the documents, on any thread, while the device runs the next batch.
struct HostBatch {
  PendingBatch pending;
  torch::Tensor device;                // the results on the device, alive until the copy is done
  torch::Tensor host;                  // [numel] float32 on the host
  std::shared_ptr<c10::Event> copied;  // GPU only: recorded after the copy
};
HostBatch start_host_copy(PendingBatch pending);
std::vector<PooledDoc> finish_host(const HostBatch& batch);

// The activations of `features` ([n] int64 ids) on rows [begin, end) of x, in the blocks encode_and_pool uses:
// [end - begin, n] float32 on x's device; for the same x, the values pooled there (the evidence pass, which
// reads its documents alone rather than in their batch, so its x can differ from encode's in the last bits).
torch::Tensor encode_feature_rows(const Sae& sae, const torch::Tensor& x, int64_t begin, int64_t end,
                                  const torch::Tensor& features, int64_t block_rows = 0);

}  // namespace saediff
