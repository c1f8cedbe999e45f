#pragma once
// The unit tests' tiny Llama: GQA 4:2, llama3 RoPE with an original context of 16 positions (documents in the
// tests are longer), vocabulary 300; and random token ids for it.
#include <cstdint>
#include <random>
#include <vector>

#include "model/llama.h"

namespace saediff::test {

inline LlamaConfig tiny_config() {
  LlamaConfig c;
  c.vocab_size = 300;
  c.d_model = 32;
  c.d_ff = 64;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_kv_head = 2;
  c.head_dim = 8;
  c.rope.rope_type = "llama3";
  c.rope.factor = 8.0;
  c.rope.original_max_position_embeddings = 16;
  return c;
}

inline std::vector<int32_t> random_ids(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> pick(0, 299);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = pick(rng);
  return ids;
}

}  // namespace saediff::test
