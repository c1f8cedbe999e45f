#include "model/pooling.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include <c10/core/impl/DeviceGuardImplInterface.h>

#include "core/error.h"

namespace saediff {

PoolScope parse_pool_scope(const std::string& name) {
  if (name == "content") return PoolScope::content;
  if (name == "all") return PoolScope::all;
  SAEDIFF_FAIL("unknown pooling '", name, "': expected content or all");
}

const char* pool_scope_name(PoolScope scope) { return scope == PoolScope::content ? "content" : "all"; }

namespace {

// The sparse pooled document from the dense per-feature max, sum and count ([d_sae] float32 on the host): the
// features whose max is > 0, ascending.
void sparse_rows(const float* max, const float* sum, const float* count, int64_t d_sae, PooledDoc& out) {
  for (int64_t j = 0; j < d_sae; ++j) {
    if (!(max[j] > 0)) continue;
    out.feature.push_back(static_cast<int32_t>(j));
    out.max.push_back(max[j]);
    out.sum.push_back(sum[j]);
    out.count.push_back(count[j]);
  }
}

// doc.topk_* from the k strongest values and feature ids per token ([n, kk] row-major on the host, each row
// sorted descending; ids as float, exact below 2^24), k slots a token. Plain loops over host memory: no
// libtorch operation per document.
void topk_to_doc(const float* values, const float* ids, int64_t n, int64_t kk, int64_t k, PooledDoc& doc) {
  doc.topk_feature.assign(static_cast<size_t>(n * k), -1);
  doc.topk_value.assign(static_cast<size_t>(n * k), 0.0f);
  std::vector<std::pair<float, int32_t>> row;
  for (int64_t t = 0; t < n; ++t) {
    row.clear();
    for (int64_t j = 0; j < kk; ++j) {
      if (values[t * kk + j] > 0) row.emplace_back(values[t * kk + j], static_cast<int32_t>(ids[t * kk + j]));
    }
    // Stable by id among equal values: topk alone leaves the order of ties unspecified.
    std::sort(row.begin(), row.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    for (size_t j = 0; j < row.size(); ++j) {
      doc.topk_feature[static_cast<size_t>(t * k) + j] = row[j].second;
      doc.topk_value[static_cast<size_t>(t * k) + j] = row[j].first;
    }
  }
}

// A document's pooled rows, cut into pieces of at most block_rows.
struct Piece {
  int64_t start = 0;  // first row in x
  int64_t rows = 0;
};

}  // namespace

PooledDoc pool_features(const torch::Tensor& f, int64_t begin, int64_t end, int64_t doc_index, torch::Tensor* dense_max) {
  SAEDIFF_CHECK(f.dim() == 2 && f.scalar_type() == torch::kFloat32, "pooling expects [n_token, d_sae] float32");
  const int64_t n_token = f.size(0);
  SAEDIFF_CHECK(0 <= begin && begin <= end && end <= n_token, "pool range [", begin, ", ", end, ") outside [0, ",
                n_token, ")");
  PooledDoc out;
  out.doc_index = doc_index;
  out.n_token = n_token;
  out.n_pooled = end - begin;
  if (begin == end) return out;
  const torch::Tensor window = f.slice(0, begin, end);                       // [n_pooled, d_sae]
  const torch::Tensor device_max = std::get<0>(window.max(0));              // [d_sae]
  if (dense_max) *dense_max = device_max;
  const torch::Tensor host = torch::stack({device_max, window.sum(0), (window > 0).sum(0, false, torch::kFloat32)})
                                 .to(torch::kCPU)
                                 .contiguous();                              // [3, d_sae]
  const float* p = host.data_ptr<float>();
  const int64_t d_sae = host.size(1);
  sparse_rows(p, p + d_sae, p + 2 * d_sae, d_sae, out);
  return out;
}

void token_topk(const torch::Tensor& f, int64_t begin, int64_t end, int64_t k, PooledDoc& doc) {
  SAEDIFF_CHECK(f.dim() == 2 && f.scalar_type() == torch::kFloat32, "token_topk expects [n_token, d_sae] float32");
  SAEDIFF_CHECK(0 <= begin && begin <= end && end <= f.size(0) && k >= 0, "bad token_topk range or k");
  doc.topk_feature.clear();
  doc.topk_value.clear();
  if (k == 0 || begin == end) return;
  const auto [values, indices] = f.slice(0, begin, end).topk(std::min(k, f.size(1)), 1, true, true);
  const torch::Tensor v = values.to(torch::kCPU).contiguous();
  const torch::Tensor i = indices.to(torch::kFloat32).to(torch::kCPU).contiguous();
  topk_to_doc(v.data_ptr<float>(), i.data_ptr<float>(), v.size(0), v.size(1), k, doc);
}

int64_t sae_block_rows(const torch::Device& device, int64_t d_sae) {
  if (device.is_cuda()) return kSaeBlockRows;
  return std::clamp<int64_t>(kCpuBlockBytes / (4 * std::max<int64_t>(d_sae, 1)), 16, kSaeBlockRows);
}

PendingBatch pool_batch(const Sae& sae, const torch::Tensor& x, std::vector<PoolRange> docs, int64_t topk,
                        int64_t block_rows) {
  SAEDIFF_CHECK(x.dim() == 2, "pool_batch expects [n_token, d_model]");
  if (block_rows == 0) block_rows = sae_block_rows(x.device(), sae.d_sae());
  SAEDIFF_CHECK(block_rows > 0 && topk >= 0, "pool_batch needs block_rows > 0 and topk >= 0");
  PendingBatch out;
  out.topk = topk;
  out.kept = std::min(topk, sae.d_sae());
  out.pooled_row.assign(docs.size(), -1);
  // Pieces in document order; pieces_of[i] for every document that pools a token.
  std::vector<Piece> pieces;
  std::vector<int64_t> pieces_of;
  for (size_t i = 0; i < docs.size(); ++i) {
    const PoolRange& d = docs[i];
    SAEDIFF_CHECK(d.first >= 0 && d.n_token >= 0 && d.first + d.n_token <= x.size(0), "document rows [", d.first, ", ",
                  d.first + d.n_token, ") outside the batch's ", x.size(0), " rows");
    SAEDIFF_CHECK(0 <= d.begin && d.begin <= d.end && d.end <= d.n_token, "pool range [", d.begin, ", ", d.end,
                  ") outside [0, ", d.n_token, ")");
    if (d.begin == d.end) continue;
    out.pooled_row[i] = static_cast<int64_t>(pieces_of.size());
    pieces_of.push_back(0);
    for (int64_t r0 = d.begin; r0 < d.end; r0 += block_rows) {
      pieces.push_back({d.first + r0, std::min(block_rows, d.end - r0)});
      ++pieces_of.back();
    }
  }
  out.docs = std::move(docs);
  if (pieces.empty()) return out;

  const auto on_device = [&](const std::vector<int64_t>& v) {
    return torch::tensor(v, torch::kLong).to(x.device(), /*non_blocking=*/true);
  };
  // The blocks, planned on the host first: as many consecutive pieces as fit in block_rows once padded to the
  // longest of them, while padding stays under a quarter of the block's rows (a batch's documents come longest
  // first, so few are cut off). Pieces back to back and all of one length are a plain slice of x; the others
  // are gathered, padded, by rows of one index for the whole batch, so that each block is a fixed number of
  // operations and the batch sends three index tensors to the device, not three per block.
  struct Block {
    size_t p0 = 0, p1 = 0;
    int64_t longest = 0, gather = -1;  // gather: the block's first entry in `source`, or -1 for a slice of x
  };
  std::vector<Block> blocks;
  std::vector<int64_t> source, real;  // gathered rows of x; rows of the joined top-k that hold a token
  std::vector<float> mask;            // 1 for a gathered row that holds a token, 0 for padding
  int64_t top_rows = 0;
  for (size_t p0 = 0; p0 < pieces.size();) {
    int64_t longest = pieces[p0].rows, real_rows = pieces[p0].rows;
    size_t p1 = p0 + 1;
    for (; p1 < pieces.size(); ++p1) {
      const int64_t l = std::max(longest, pieces[p1].rows), padded = l * static_cast<int64_t>(p1 - p0 + 1);
      if (padded > block_rows || 4 * (real_rows + pieces[p1].rows) < 3 * padded) break;
      longest = l;
      real_rows += pieces[p1].rows;
    }
    bool dense = true;
    for (size_t p = p0; p < p1 && dense; ++p) {
      dense = pieces[p].rows == longest && pieces[p].start == pieces[p0].start + static_cast<int64_t>(p - p0) * longest;
    }
    Block block{p0, p1, longest, dense ? -1 : static_cast<int64_t>(source.size())};
    for (size_t p = p0; p < p1; ++p) {
      for (int64_t t = 0; t < longest; ++t, ++top_rows) {
        const bool token = t < pieces[p].rows;
        if (token) real.push_back(top_rows);
        if (dense) continue;
        source.push_back(pieces[p].start + std::min(t, pieces[p].rows - 1));
        mask.push_back(token ? 1.0f : 0.0f);
      }
    }
    blocks.push_back(block);
    p0 = p1;
  }
  torch::Tensor source_d, mask_d;
  if (!source.empty()) {
    source_d = on_device(source);
    mask_d = torch::tensor(mask).to(x.device(), /*non_blocking=*/true).unsqueeze(1);
  }
  std::vector<torch::Tensor> maxes, sums, counts, top_values, top_ids;
  for (const Block& block : blocks) {
    const auto n = static_cast<int64_t>(block.p1 - block.p0), rows = n * block.longest;
    torch::Tensor f;  // [rows, d_sae] float32 activations, padding rows zero
    if (block.gather < 0) {
      f = sae.encode(x.narrow(0, pieces[block.p0].start, rows));
    } else {
      f = sae.encode(x.index_select(0, source_d.narrow(0, block.gather, rows)));
      f.mul_(mask_d.narrow(0, block.gather, rows));
    }
    const torch::Tensor fv = f.view({n, block.longest, f.size(1)});
    maxes.push_back(fv.amax(1));
    sums.push_back(fv.sum(1));
    counts.push_back(fv.gt(0).sum(1, /*keepdim=*/false, torch::kFloat32));  // exact below 2^24 rows
    if (out.kept > 0) {
      auto [v, i] = f.topk(out.kept, 1, true, true);
      top_values.push_back(v);
      top_ids.push_back(i.to(torch::kFloat32));  // feature ids < 2^24: exact in float32
    }
  }
  const auto join = [](const std::vector<torch::Tensor>& parts) {
    return parts.size() == 1 ? parts[0] : torch::cat(parts);
  };
  torch::Tensor stats = torch::stack({join(maxes), join(sums), join(counts)}, 1);  // [n_pieces, 3, d_sae]
  if (pieces.size() != pieces_of.size()) {
    // Documents longer than a block: combine their pieces, in order (deterministic on every device), all the
    // documents of one piece count at once, so that the work grows with the number of distinct counts (few: a
    // batch's documents are of similar length), not with the number of documents.
    std::map<int64_t, std::pair<std::vector<int64_t>, std::vector<int64_t>>> by_count;  // count: rows, pieces
    std::vector<int64_t> first(pieces_of.size());
    for (size_t j = 0, p = 0; j < pieces_of.size(); p += static_cast<size_t>(pieces_of[j]), ++j) {
      first[j] = static_cast<int64_t>(p);
      if (pieces_of[j] == 1) continue;
      auto& [rows, from] = by_count[pieces_of[j]];
      rows.push_back(static_cast<int64_t>(j));
      for (int64_t k = 0; k < pieces_of[j]; ++k) from.push_back(static_cast<int64_t>(p) + k);
    }
    torch::Tensor combined = stats.index_select(0, on_device(first));  // one-piece documents' rows as they are
    for (const auto& [c, rows_from] : by_count) {
      const auto n_doc = static_cast<int64_t>(rows_from.first.size());
      const torch::Tensor s = stats.index_select(0, on_device(rows_from.second)).view({n_doc, c, 3, stats.size(2)});
      combined.index_copy_(0, on_device(rows_from.first),
                           torch::stack({s.select(2, 0).amax(1), s.select(2, 1).sum(1), s.select(2, 2).sum(1)}, 1));
    }
    stats = combined;
  }
  out.stats = stats;
  out.max = stats.select(1, 0);
  if (out.kept > 0) {
    out.top = torch::stack({join(top_values), join(top_ids)});  // [2, rows, k'], padding rows included
    if (static_cast<int64_t>(real.size()) < top_rows) out.top = out.top.index_select(1, on_device(real));
  }
  return out;
}

HostBatch start_host_copy(PendingBatch pending) {
  HostBatch out;
  if (pending.stats.defined()) {
    out.device = pending.top.defined() ? torch::cat({pending.stats.flatten(), pending.top.flatten()})
                                       : pending.stats.flatten();
    if (out.device.is_cuda()) {
      out.host = torch::empty(out.device.sizes(), torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(true));
      out.host.copy_(out.device, /*non_blocking=*/true);
      const c10::Device device = out.device.device();
      out.copied = std::make_shared<c10::Event>(device.type());
      out.copied->record(c10::impl::getDeviceGuardImpl(device.type())->getStream(device));
    } else {
      out.host = out.device.contiguous();
    }
  }
  out.pending = std::move(pending);
  return out;
}

std::vector<PooledDoc> finish_host(const HostBatch& batch) {
  if (batch.copied) {
    while (!batch.copied->query()) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  const PendingBatch& pending = batch.pending;
  const float* stats = batch.host.defined() ? batch.host.data_ptr<float>() : nullptr;
  const int64_t d_sae = pending.stats.defined() ? pending.stats.size(2) : 0;
  const int64_t top_rows = pending.top.defined() ? pending.top.size(1) : 0;
  const float* top_values = stats ? stats + pending.stats.numel() : nullptr;
  const float* top_ids = top_values ? top_values + top_rows * pending.kept : nullptr;
  std::vector<PooledDoc> docs;
  docs.reserve(pending.docs.size());
  int64_t top_row = 0;
  for (size_t i = 0; i < pending.docs.size(); ++i) {
    const PoolRange& r = pending.docs[i];
    PooledDoc d;
    d.doc_index = r.doc_index;
    d.n_token = r.n_token;
    d.n_pooled = r.end - r.begin;
    if (const int64_t row = pending.pooled_row[i]; row >= 0) {
      const float* s = stats + row * 3 * d_sae;
      sparse_rows(s, s + d_sae, s + 2 * d_sae, d_sae, d);
      if (pending.kept > 0) {
        topk_to_doc(top_values + top_row * pending.kept, top_ids + top_row * pending.kept, d.n_pooled, pending.kept,
                    pending.topk, d);
        top_row += d.n_pooled;
      }
    }
    docs.push_back(std::move(d));
  }
  return docs;
}

std::vector<PooledDoc> finish_batch(const PendingBatch& pending) { return finish_host(start_host_copy(pending)); }

PooledDoc encode_and_pool(const Sae& sae, const torch::Tensor& x, int64_t begin, int64_t end, int64_t topk,
                          int64_t doc_index, torch::Tensor* dense_max, int64_t block_rows) {
  SAEDIFF_CHECK(x.dim() == 2, "encode_and_pool expects [n_token, d_model]");
  const PendingBatch p = pool_batch(sae, x, {{0, x.size(0), begin, end, doc_index}}, topk, block_rows);
  if (dense_max) *dense_max = p.max.defined() ? p.max.select(0, 0) : torch::Tensor();
  return std::move(finish_batch(p)[0]);
}

torch::Tensor encode_feature_rows(const Sae& sae, const torch::Tensor& x, int64_t begin, int64_t end,
                                  const torch::Tensor& features, int64_t block_rows) {
  if (block_rows == 0) block_rows = sae_block_rows(x.device(), sae.d_sae());
  SAEDIFF_CHECK(x.dim() == 2 && 0 <= begin && begin <= end && end <= x.size(0) && block_rows > 0,
                "encode_feature_rows: bad range or block size");
  const torch::Tensor idx = features.to(x.device(), torch::kLong);
  std::vector<torch::Tensor> blocks;
  for (int64_t r0 = begin; r0 < end; r0 += block_rows) {
    blocks.push_back(sae.encode(x.slice(0, r0, std::min(end, r0 + block_rows))).index_select(1, idx));
  }
  if (blocks.empty()) return torch::zeros({0, idx.numel()}, torch::TensorOptions().device(x.device()));
  return blocks.size() == 1 ? blocks[0] : torch::cat(blocks);
}

}  // namespace saediff
