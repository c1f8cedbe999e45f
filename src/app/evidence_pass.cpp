#include "app/evidence_pass.h"

#include <algorithm>
#include <cstring>
#include <tuple>
#include <utility>

#include <torch/torch.h>

#include "app/encode_assemble.h"
#include "core/error.h"
#include "dist/mpi.h"
#include "model/llama.h"
#include "model/pooling.h"
#include "model/sae.h"

namespace saediff {

std::vector<int32_t> evidence_features(const std::vector<int64_t>& counts, const std::vector<SetLayout>& sets,
                                       int64_t d_sae, int n_features) {
  std::vector<int32_t> out;
  if (n_features <= 0) return out;
  const auto d = static_cast<size_t>(d_sae);
  for (size_t a = 0; a < sets.size(); ++a) {
    for (size_t b = a + 1; b < sets.size(); ++b) {
      const int64_t n_a = sets[a].n_docs, n_b = sets[b].n_docs;
      std::vector<std::pair<int64_t, int32_t>> keyed;  // (c_b n_a - c_a n_b, feature)
      for (size_t f = 0; f < d; ++f) {
        const int64_t key = counts[b * d + f] * n_a - counts[a * d + f] * n_b;
        if (key != 0) keyed.emplace_back(key, static_cast<int32_t>(f));
      }
      std::vector<std::pair<int64_t, int32_t>> up, down;
      for (const auto& k : keyed) (k.first > 0 ? up : down).push_back(k);
      const auto by_size = [](const auto& x, const auto& y) {
        return std::llabs(x.first) != std::llabs(y.first) ? std::llabs(x.first) > std::llabs(y.first) : x.second < y.second;
      };
      for (auto* list : {&up, &down}) {
        const size_t n = std::min(list->size(), static_cast<size_t>(n_features));
        std::partial_sort(list->begin(), list->begin() + static_cast<std::ptrdiff_t>(n), list->end(), by_size);
        for (size_t i = 0; i < n; ++i) out.push_back((*list)[i].second);
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

EvidenceCandidates::EvidenceCandidates(std::vector<int32_t> features, int n_docs)
    : features_(std::move(features)), n_docs_(std::max(n_docs, 0)), limit_(std::max<size_t>(4096, 4 * features_.size() * static_cast<size_t>(n_docs_))) {}

void EvidenceCandidates::add(const PooledDoc& d, int64_t set) {
  if (n_docs_ == 0 || features_.empty()) return;
  for (size_t k = 0; k < d.feature.size(); ++k) {
    if (!std::binary_search(features_.begin(), features_.end(), d.feature[k])) continue;
    int32_t bits = 0;  // the bits of a positive float order like the float
    std::memcpy(&bits, &d.max[k], sizeof bits);
    kept_.emplace_back(d.feature[k], set, -static_cast<int64_t>(bits), d.doc_index);
  }
  if (kept_.size() > limit_) prune();
}

// Keeps the n_docs best of each (feature, set).
void EvidenceCandidates::prune() {
  std::sort(kept_.begin(), kept_.end());
  std::vector<Candidate> best;
  for (size_t i = 0; i < kept_.size();) {
    size_t j = i;
    while (j < kept_.size() && std::get<0>(kept_[j]) == std::get<0>(kept_[i]) && std::get<1>(kept_[j]) == std::get<1>(kept_[i])) ++j;
    best.insert(best.end(), kept_.begin() + static_cast<std::ptrdiff_t>(i),
                kept_.begin() + static_cast<std::ptrdiff_t>(std::min(j, i + static_cast<size_t>(n_docs_))));
    i = j;
  }
  kept_ = std::move(best);
  limit_ = std::max(limit_, 2 * kept_.size());  // with many sets the kept best alone can pass the first limit
}

std::map<int64_t, std::vector<int32_t>> EvidenceCandidates::plan(MPI_Comm comm) {
  prune();
  // Only each rank's own best cross the network: at most features x sets x n_docs per rank.
  std::vector<int64_t> flat;
  for (const Candidate& c : kept_) flat.insert(flat.end(), {std::get<0>(c), std::get<1>(c), std::get<2>(c), std::get<3>(c)});
  const std::vector<int64_t> all = mpi::allgatherv(flat, comm);
  kept_.clear();
  for (size_t i = 0; i + 3 < all.size(); i += 4) kept_.emplace_back(all[i], all[i + 1], all[i + 2], all[i + 3]);
  prune();
  std::map<int64_t, std::vector<int32_t>> plan;
  for (const Candidate& c : kept_) plan[std::get<3>(c)].push_back(static_cast<int32_t>(std::get<0>(c)));
  for (auto& [doc, fs] : plan) std::sort(fs.begin(), fs.end());
  kept_.clear();
  return plan;
}

std::vector<EvidenceValues> read_evidence(const std::map<int64_t, std::vector<int32_t>>& plan, SpoolSource& source,
                                          const LlamaModel& model, const Sae& sae, std::vector<SetLayout>& sets) {
  for (const auto& [doc, features] : plan) {
    const size_t s = set_of(sets, doc);
    for (int32_t f : features) {
      sets[s].evidence_row.push_back(doc - sets[s].first_doc);
      sets[s].evidence_feature.push_back(f);
    }
  }
  std::vector<EvidenceValues> evidence;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < source.entries().size(); ++i) {
    const auto it = plan.find(source.entries()[i].doc);
    if (it == plan.end()) continue;
    const spool::Record rec = source.record(i);
    const torch::Tensor idx = torch::tensor(std::vector<int64_t>(it->second.begin(), it->second.end()), torch::kLong);
    const torch::Tensor v = encode_feature_rows(sae, model.forward(rec.ids), rec.pool_begin, rec.pool_end, idx)
                                .t()
                                .contiguous()
                                .to(torch::kCPU);  // [features, n_pooled]
    evidence.push_back({rec.doc.doc_index, std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel())});
  }
  return evidence;
}

}  // namespace saediff
