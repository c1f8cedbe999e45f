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
  const torch::Tensor max = device_max.to(torch::kCPU);
  const torch::Tensor sum = window.sum(0).to(torch::kCPU);                   // [d_sae]
  const torch::Tensor count = (window > 0).sum(0).to(torch::kFloat32).to(torch::kCPU);  // [d_sae]
  const torch::Tensor active = (max > 0).nonzero().flatten().to(torch::kInt32).contiguous();  // [nnz] ascending
  const int64_t nnz = active.numel();
  const int32_t* a = active.data_ptr<int32_t>();
  out.feature.assign(a, a + nnz);
  const torch::Tensor idx = active.to(torch::kLong);
  auto take = [&](const torch::Tensor& t) {
    const torch::Tensor v = t.index_select(0, idx).contiguous();
    const float* p = v.data_ptr<float>();
    return std::vector<float>(p, p + nnz);
  };
  out.max = take(max);
  out.sum = take(sum.contiguous());
  out.count = take(count.contiguous());
  return out;
}

void token_topk(const torch::Tensor& f, int64_t begin, int64_t end, int64_t k, PooledDoc& doc) {
  SAEDIFF_CHECK(f.dim() == 2 && f.scalar_type() == torch::kFloat32, "token_topk expects [n_token, d_sae] float32");
  SAEDIFF_CHECK(0 <= begin && begin <= end && end <= f.size(0) && k >= 0, "bad token_topk range or k");
  doc.topk_feature.clear();
  doc.topk_value.clear();
  if (k == 0 || begin == end) return;
  const int64_t n = end - begin, kk = std::min(k, f.size(1));
  // Sorted, then stable by id among equal values: topk alone leaves the order of ties unspecified.
  const auto [values, indices] = f.slice(0, begin, end).topk(kk, 1, true, true);
  const torch::Tensor v = values.to(torch::kCPU).contiguous();
  const torch::Tensor i = indices.to(torch::kInt32).to(torch::kCPU).contiguous();
  const float* pv = v.data_ptr<float>();
  const int32_t* pi = i.data_ptr<int32_t>();
  doc.topk_feature.assign(static_cast<size_t>(n * k), -1);
  doc.topk_value.assign(static_cast<size_t>(n * k), 0.0f);
  for (int64_t t = 0; t < n; ++t) {
    std::vector<std::pair<float, int32_t>> row;
    for (int64_t j = 0; j < kk; ++j) {
      if (pv[t * kk + j] > 0) row.emplace_back(pv[t * kk + j], pi[t * kk + j]);
    }
    std::sort(row.begin(), row.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    for (size_t j = 0; j < row.size(); ++j) {
      doc.topk_feature[static_cast<size_t>(t * k) + j] = row[j].second;
      doc.topk_value[static_cast<size_t>(t * k) + j] = row[j].first;
    }
  }
}

}  // namespace saediff
