#pragma once
// Small random checkpoints in the real formats, generated deterministically from a seed with saediff's
// own PRNG (identical on every machine and libtorch version). Used by the offline demo and the tests.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace saediff {

struct RandomLlamaSpec {
  int64_t vocab_size = 128256;  // the Llama 3.1 vocabulary, so the real tokenizer.json applies
  int64_t d_model = 64;
  int64_t d_ff = 192;
  int64_t n_layer = 4;
  int64_t n_head = 4;
  int64_t n_kv_head = 2;
  uint64_t seed = 1234;
  // Planted features (model/planted.h): feature j owns dimension d_model - P + j; its trigger tokens hold
  // kPlantAmplitude there, every other token 0, and no layer writes it. Empty: a fully random model.
  std::vector<std::vector<int32_t>> planted;
};

struct RandomSaeSpec {
  int64_t d_model = 64;
  int64_t d_sae = 16384;
  uint64_t seed = 5678;
  // Every random feature's bias is -(bias_min + bias_range * U(0, 1)).
  double bias_min = 3.0, bias_range = 1.5;
  // Planted features (model/planted.h): (feature id, dimension); that encoder row becomes the unit vector
  // on the dimension, with bias -kPlantBias.
  std::vector<std::pair<int32_t, int64_t>> planted;
};

// Writes DIR/config.json (llama3 rope scaling) and DIR/model.safetensors (bf16 weights).
void write_random_llama(const std::string& dir, const RandomLlamaSpec& spec);
// Writes a Goodfire-layout SAE state dict; the format follows the extension (.pth or .safetensors).
void write_random_sae(const std::string& path, const RandomSaeSpec& spec);

}  // namespace saediff
