#include "dist/shard.h"

#include <algorithm>
#include <numeric>
#include <queue>

#include "dist/mpi.h"

namespace saediff {
namespace {

constexpr int kTagWork = 101;

// Wire format: per document [doc_index_lo, doc_index_hi, pool_begin, pool_end, n, ids...] as int32.
void pack(const DocWork& d, std::vector<int32_t>& out) {
  const auto u = static_cast<uint64_t>(d.doc_index);
  out.push_back(static_cast<int32_t>(u & 0xffffffffu));
  out.push_back(static_cast<int32_t>(u >> 32));
  out.push_back(d.pool_begin);
  out.push_back(d.pool_end);
  out.push_back(static_cast<int32_t>(d.ids.size()));
  out.insert(out.end(), d.ids.begin(), d.ids.end());
}

std::vector<DocWork> unpack(const std::vector<int32_t>& in) {
  std::vector<DocWork> out;
  size_t i = 0;
  while (i < in.size()) {
    SAEDIFF_CHECK(i + 5 <= in.size(), "truncated work message");
    DocWork d;
    d.doc_index = static_cast<int64_t>(static_cast<uint32_t>(in[i]) | (static_cast<uint64_t>(static_cast<uint32_t>(in[i + 1])) << 32));
    d.pool_begin = in[i + 2];
    d.pool_end = in[i + 3];
    const auto n = static_cast<size_t>(in[i + 4]);
    i += 5;
    SAEDIFF_CHECK(i + n <= in.size(), "truncated work message");
    d.ids.assign(in.begin() + static_cast<ptrdiff_t>(i), in.begin() + static_cast<ptrdiff_t>(i + n));
    i += n;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

std::vector<std::vector<size_t>> plan_shards(const std::vector<int64_t>& n_tokens, int n_rank) {
  SAEDIFF_CHECK(n_rank > 0, "need at least one rank");
  std::vector<size_t> order(n_tokens.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return n_tokens[a] > n_tokens[b]; });
  using Load = std::pair<int64_t, int>;  // (tokens assigned, rank): min-heap pops least loaded, then lowest rank
  std::priority_queue<Load, std::vector<Load>, std::greater<>> heap;
  for (int r = 0; r < n_rank; ++r) heap.push({0, r});
  std::vector<std::vector<size_t>> plan(static_cast<size_t>(n_rank));
  for (size_t doc : order) {
    auto [load, r] = heap.top();
    heap.pop();
    plan[static_cast<size_t>(r)].push_back(doc);
    heap.push({load + std::max<int64_t>(n_tokens[doc], 1), r});
  }
  return plan;
}

std::vector<DocWork> distribute_documents(const std::vector<DocWork>& all, MPI_Comm comm) {
  const int rank = mpi::comm_rank(comm);
  const int n_rank = mpi::comm_size(comm);
  if (rank != 0) return unpack(mpi::recv_vector<int32_t>(0, kTagWork, comm));

  std::vector<int64_t> n_tokens;
  for (const DocWork& d : all) n_tokens.push_back(static_cast<int64_t>(d.ids.size()));
  const auto plan = plan_shards(n_tokens, n_rank);
  std::vector<DocWork> mine;
  for (int r = 0; r < n_rank; ++r) {
    if (r == 0) {
      for (size_t i : plan[0]) mine.push_back(all[i]);
      continue;
    }
    std::vector<int32_t> message;
    for (size_t i : plan[static_cast<size_t>(r)]) pack(all[i], message);
    mpi::send_vector(message, r, kTagWork, comm);
  }
  return mine;
}

}  // namespace saediff
