#pragma once
// The Llama reader: HF LlamaForCausalLM semantics up to decoder layer `layer` (0-indexed).
// forward() returns HF hidden_states[layer + 1]: the output of that layer, before the final norm.
// Layers after `layer`, the final norm and the LM head are never loaded.
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace saediff {

struct RopeScaling {
  std::string rope_type = "default";  // "default" or "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct LlamaConfig {
  int64_t vocab_size = 0;
  int64_t d_model = 0;    // hidden_size
  int64_t d_ff = 0;       // intermediate_size
  int64_t n_layer = 0;    // num_hidden_layers
  int64_t n_head = 0;     // num_attention_heads
  int64_t n_kv_head = 0;  // num_key_value_heads (GQA)
  int64_t head_dim = 0;   // head_dim, else hidden_size / num_attention_heads
  int64_t max_position_embeddings = 0;  // the longest document encode accepts (0: no limit given)
  double rms_norm_eps = 1e-5;
  bool attention_bias = false;  // q/k/v/o projections carry biases
  bool mlp_bias = false;        // gate/up/down projections carry biases
  double rope_theta = 500000.0;
  RopeScaling rope;  // from `rope_scaling` or `rope_parameters`

  static LlamaConfig from_json_file(const std::string& path);  // DIR/config.json
  // Llama-3.1-8B(-Instruct)'s config.json: the real shapes and RoPE, for benchmarks and memory plans.
  static LlamaConfig llama3_8b();
};

class LlamaModel {
 public:
  // Loads DIR/config.json and DIR/model.safetensors (or the shards listed in
  // DIR/model.safetensors.index.json), weights for embed_tokens and layers 0..layer only.
  static LlamaModel load(const std::string& dir, int layer, torch::Dtype dtype, torch::Device device);

  // Random weights at any shape (N(0, 0.02^2), norms 1), made on `device`: benchmarks at the real
  // Llama-3.1-8B shape without a checkpoint on disk.
  static LlamaModel random(LlamaConfig config, int layer, torch::Dtype dtype, torch::Device device, uint64_t seed);

  // Documents attend in groups whose padded [docs, head, query, key] scores hold at most this many elements;
  // with libtorch 1.x, whose attention is not fused, a long document's queries also run in blocks of rows within
  // it, so that it needs O(T) rather than O(T^2) working memory (256 MiB of float32 scores).
  static constexpr int64_t kMaxScoreElements = int64_t{1} << 26;

  // The fusions libtorch allows, each of which can be turned off to measure it (bench_forward --unfused).
  struct Fusion {
    bool residual_addmm = true;  // the residual add inside the o_proj and down_proj GEMMs (addmm; no biases)
    bool inplace_mlp = true;     // SiLU(gate) * up in place, in the gate's half of the gate/up GEMM's output
    bool rms_norm_op = true;     // at::rms_norm (libtorch >= 2.4, float32); otherwise HF's steps, in place
  };
  void set_fusion(const Fusion& fusion);
  const Fusion& fusion() const { return fusion_; }

  // ids: [n_token] token ids of one document. Returns [n_token, d_model] float32 on the model's device.
  torch::Tensor forward(const std::vector<int32_t>& ids, int64_t max_score_elements = kMaxScoreElements) const;

  // A packed batch: the ids of several documents end to end, `lengths[i]` tokens each, with no padding. Every
  // document sits at positions 0..length-1 and attends only to its own earlier tokens, so each one's rows are
  // those of forward() on it alone; the projections and the MLP run as one GEMM over all the batch's tokens, and
  // attention as one call per group of similar-length documents (padded to the group's longest, with a
  // key-padding mask; a plain causal call when they are all one length), so that the operations a batch queues
  // do not grow with the number of documents in it.
  // Returns [sum(lengths), d_model] in `out_dtype` on the model's device.
  torch::Tensor forward_packed(const std::vector<int32_t>& ids, const std::vector<int64_t>& lengths,
                               int64_t max_score_elements = kMaxScoreElements,
                               torch::Dtype out_dtype = torch::kFloat32) const;

  // The same weights in another dtype (for comparing precisions on one checkpoint).
  LlamaModel to(torch::Dtype dtype) const;

  const LlamaConfig& config() const { return config_; }
  int layer() const { return layer_; }
  torch::Dtype dtype() const { return dtype_; }
  torch::Device device() const { return device_; }
  int64_t weight_bytes() const;  // bytes of the tensors held (embedding and layers 0..layer)

 private:
  // Q, K and V, and gate and up, are concatenated at load (rows of the checkpoint's q_proj, k_proj, v_proj;
  // gate_proj, up_proj): one GEMM each instead of three and two.
  struct Layer {
    torch::Tensor attn_norm;  // [d_model]
    torch::Tensor w_qkv;      // [(n_head + 2 * n_kv_head) * head_dim, d_model]
    torch::Tensor wo;         // [d_model, n_head * head_dim]
    torch::Tensor mlp_norm;   // [d_model]
    torch::Tensor w_gate_up;  // [2 * d_ff, d_model]
    torch::Tensor w_down;     // [d_model, d_ff]
    // Biases when config.json sets attention_bias / mlp_bias (undefined otherwise).
    torch::Tensor b_qkv, bo, b_gate_up, b_down;
  };
  // Fills `out` (the expected shape, the model's dtype and device) with the checkpoint tensor of that name.
  using WeightSource = std::function<void(const std::string& name, torch::Tensor& out)>;
  static LlamaModel build(LlamaConfig config, int layer, torch::Dtype dtype, torch::Device device,
                          const WeightSource& source);
  LlamaModel(LlamaConfig config, int layer, torch::Dtype dtype, torch::Device device)
      : config_(std::move(config)), layer_(layer), dtype_(dtype), device_(device) {}

  LlamaConfig config_;
  int layer_ = 0;
  torch::Dtype dtype_ = torch::kFloat32;
  torch::Device device_ = torch::kCPU;
  Fusion fusion_;
  torch::Tensor embed_;     // [vocab_size, d_model]
  torch::Tensor inv_freq_;  // [head_dim / 2] float32, llama3-scaled when configured
  std::vector<Layer> layers_;
};

}  // namespace saediff
