#include "app/evidence_pass.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "core/error.h"
#include "dist/mpi.h"

namespace saediff {

std::vector<int32_t> evidence_features(const std::vector<int64_t>& counts, const std::vector<SetLayout>& sets,
                                       int64_t d_sae, int n_features) {
  std::vector<int32_t> out;
  if (n_features <= 0) return out;
  const auto d = static_cast<size_t>(d_sae);
  for (size_t a = 0; a < sets.size(); ++a) {
    for (size_t b = a + 1; b < sets.size(); ++b) {
      const auto n_a = static_cast<int64_t>(sets[a].doc_ids.size()), n_b = static_cast<int64_t>(sets[b].doc_ids.size());
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

std::map<int64_t, std::vector<int32_t>> plan_evidence(const std::vector<int32_t>& features, const std::vector<SetLayout>& sets,
                                                      const std::vector<PooledDoc>& mine, int n_docs, MPI_Comm comm) {
  // This rank's candidates: (feature, set, max as float bits, doc index) for each of its documents where a
  // selected feature is active. Float bits of a positive float order like the float.
  const auto set_of = [&](int64_t doc) {
    size_t s = 0;
    while (s + 1 < sets.size() && sets[s + 1].first_doc <= doc) ++s;
    return static_cast<int64_t>(s);
  };
  using Candidate = std::tuple<int64_t, int64_t, int64_t, int64_t>;  // (feature, set, -bits, doc): sorted = best first
  // Keeps the n_docs best of each (feature, set) run of sorted candidates.
  const auto best = [n_docs](std::vector<Candidate>& cand) {
    std::sort(cand.begin(), cand.end());
    std::vector<Candidate> kept;
    for (size_t i = 0; i < cand.size();) {
      size_t j = i;
      while (j < cand.size() && std::get<0>(cand[j]) == std::get<0>(cand[i]) && std::get<1>(cand[j]) == std::get<1>(cand[i])) ++j;
      kept.insert(kept.end(), cand.begin() + static_cast<std::ptrdiff_t>(i),
                  cand.begin() + static_cast<std::ptrdiff_t>(std::min(j, i + static_cast<size_t>(n_docs))));
      i = j;
    }
    return kept;
  };
  std::vector<Candidate> local;
  if (n_docs > 0) {
    for (const PooledDoc& d : mine) {
      const int64_t s = set_of(d.doc_index);
      for (size_t k = 0; k < d.feature.size(); ++k) {
        if (!std::binary_search(features.begin(), features.end(), d.feature[k])) continue;
        int32_t bits = 0;
        std::memcpy(&bits, &d.max[k], sizeof bits);
        local.emplace_back(d.feature[k], s, -static_cast<int64_t>(bits), d.doc_index);
      }
    }
  }
  // Only each rank's own best cross the network: at most features x sets x n_docs per rank.
  std::vector<int64_t> flat;
  for (const Candidate& c : best(local)) flat.insert(flat.end(), {std::get<0>(c), std::get<1>(c), std::get<2>(c), std::get<3>(c)});
  const std::vector<int64_t> all = mpi::allgatherv(flat, comm);
  std::vector<Candidate> cand;
  for (size_t i = 0; i + 3 < all.size(); i += 4) cand.emplace_back(all[i], all[i + 1], all[i + 2], all[i + 3]);
  std::map<int64_t, std::vector<int32_t>> plan;
  for (const Candidate& c : best(cand)) plan[std::get<3>(c)].push_back(static_cast<int32_t>(std::get<0>(c)));
  for (auto& [doc, fs] : plan) std::sort(fs.begin(), fs.end());
  return plan;
}

}  // namespace saediff
