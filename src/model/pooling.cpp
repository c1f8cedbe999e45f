#include "model/pooling.h"

#include <algorithm>
#include <utility>
#include <vector>

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

// doc.topk_* from the k strongest values and features per token ([n, kk], sorted descending), k slots a token.
void topk_to_doc(const torch::Tensor& values, const torch::Tensor& indices, int64_t k, PooledDoc& doc) {
  const int64_t n = values.size(0), kk = values.size(1);
  const torch::Tensor v = values.to(torch::kCPU).contiguous();
  const torch::Tensor i = indices.to(torch::kInt32).to(torch::kCPU).contiguous();
  const float* pv = v.data_ptr<float>();
  const int32_t* pi = i.data_ptr<int32_t>();
  doc.topk_feature.assign(static_cast<size_t>(n * k), -1);
  doc.topk_value.assign(static_cast<size_t>(n * k), 0.0f);
  std::vector<std::pair<float, int32_t>> row;
  for (int64_t t = 0; t < n; ++t) {
    row.clear();
    for (int64_t j = 0; j < kk; ++j) {
      if (pv[t * kk + j] > 0) row.emplace_back(pv[t * kk + j], pi[t * kk + j]);
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
  topk_to_doc(values, indices, k, doc);
}

PendingPool pool_on_device(const Sae& sae, const torch::Tensor& x, int64_t begin, int64_t end, int64_t topk,
                           int64_t doc_index, int64_t block_rows) {
  SAEDIFF_CHECK(x.dim() == 2, "encode_and_pool expects [n_token, d_model]");
  const int64_t n_token = x.size(0);
  SAEDIFF_CHECK(0 <= begin && begin <= end && end <= n_token, "pool range [", begin, ", ", end, ") outside [0, ",
                n_token, ")");
  SAEDIFF_CHECK(block_rows > 0 && topk >= 0, "encode_and_pool needs block_rows > 0 and topk >= 0");
  PendingPool out;
  out.doc_index = doc_index;
  out.n_token = n_token;
  out.n_pooled = end - begin;
  out.topk = topk;
  out.kept = std::min(topk, sae.d_sae());
  if (begin == end) return out;
  torch::Tensor max, sum, count;  // [d_sae] on the device
  std::vector<torch::Tensor> top_values, top_ids;
  for (int64_t r0 = begin; r0 < end; r0 += block_rows) {
    const torch::Tensor f = sae.encode(x.slice(0, r0, std::min(end, r0 + block_rows)));  // [rows, d_sae] float32
    const torch::Tensor block_max = std::get<0>(f.max(0)), block_sum = f.sum(0);
    const torch::Tensor block_count = (f > 0).sum(0, /*keepdim=*/false, torch::kFloat32);  // exact below 2^24 rows
    if (!max.defined()) {
      max = block_max;
      sum = block_sum;
      count = block_count;
    } else {
      max = torch::maximum(max, block_max);
      sum.add_(block_sum);
      count.add_(block_count);
    }
    if (out.kept > 0) {
      auto [v, i] = f.topk(out.kept, 1, true, true);
      top_values.push_back(v.flatten());
      top_ids.push_back(i.to(torch::kFloat32).flatten());  // feature ids < 2^24: exact in float32
    }
  }
  out.max = max;
  std::vector<torch::Tensor> parts = {max, sum, count};
  parts.insert(parts.end(), top_values.begin(), top_values.end());
  parts.insert(parts.end(), top_ids.begin(), top_ids.end());
  out.flat = torch::cat(parts);
  return out;
}

std::vector<PooledDoc> finish_pools(const std::vector<PendingPool>& pending) {
  std::vector<torch::Tensor> parts;
  for (const PendingPool& p : pending) {
    if (p.flat.defined()) parts.push_back(p.flat);
  }
  torch::Tensor host;
  if (!parts.empty()) {
    const torch::Tensor all = parts.size() == 1 ? parts[0] : torch::cat(parts);
    host = all.is_cuda() ? torch::empty(all.sizes(), torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(true))
                               .copy_(all)
                         : all.contiguous();
  }
  std::vector<PooledDoc> docs;
  const float* at = host.defined() ? host.data_ptr<float>() : nullptr;
  for (const PendingPool& p : pending) {
    PooledDoc d;
    d.doc_index = p.doc_index;
    d.n_token = p.n_token;
    d.n_pooled = p.n_pooled;
    if (p.flat.defined()) {
      const int64_t d_sae = p.max.size(0);
      sparse_rows(at, at + d_sae, at + 2 * d_sae, d_sae, d);
      if (p.kept > 0) {
        const int64_t n = p.n_pooled * p.kept;
        const torch::Tensor values = torch::from_blob(const_cast<float*>(at + 3 * d_sae), {p.n_pooled, p.kept});
        const torch::Tensor ids = torch::from_blob(const_cast<float*>(at + 3 * d_sae + n), {p.n_pooled, p.kept});
        topk_to_doc(values, ids.to(torch::kInt32), p.topk, d);
      }
      at += p.flat.numel();
    }
    docs.push_back(std::move(d));
  }
  return docs;
}

PooledDoc encode_and_pool(const Sae& sae, const torch::Tensor& x, int64_t begin, int64_t end, int64_t topk,
                          int64_t doc_index, torch::Tensor* dense_max, int64_t block_rows) {
  const PendingPool p = pool_on_device(sae, x, begin, end, topk, doc_index, block_rows);
  if (dense_max) *dense_max = p.max;
  return std::move(finish_pools({p})[0]);
}

torch::Tensor encode_feature_rows(const Sae& sae, const torch::Tensor& x, int64_t begin, int64_t end,
                                  const torch::Tensor& features, int64_t block_rows) {
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
