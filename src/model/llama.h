#pragma once
// The Llama reader: HF LlamaForCausalLM semantics up to decoder layer `layer` (0-indexed).
// forward() returns HF hidden_states[layer + 1]: the output of that layer, before the final norm.
// Layers after `layer`, the final norm and the LM head are never loaded.
#include <torch/torch.h>

#include <cstdint>
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
  double rms_norm_eps = 1e-5;
  double rope_theta = 500000.0;
  RopeScaling rope;  // from `rope_scaling` or `rope_parameters`

  static LlamaConfig from_json_file(const std::string& path);  // DIR/config.json
};

class LlamaModel {
 public:
  // Loads DIR/config.json and DIR/model.safetensors (or the shards listed in
  // DIR/model.safetensors.index.json), weights for embed_tokens and layers 0..layer only.
  static LlamaModel load(const std::string& dir, int layer, torch::Dtype dtype, torch::Device device);

  // ids: [n_token] token ids of one document. Returns [n_token, d_model] float32 on the model's device.
  torch::Tensor forward(const std::vector<int32_t>& ids) const;

  const LlamaConfig& config() const { return config_; }
  int layer() const { return layer_; }
  torch::Dtype dtype() const { return dtype_; }
  torch::Device device() const { return device_; }

 private:
  struct Layer {
    torch::Tensor attn_norm;  // [d_model]
    torch::Tensor wq;         // [n_head * head_dim, d_model]
    torch::Tensor wk;         // [n_kv_head * head_dim, d_model]
    torch::Tensor wv;         // [n_kv_head * head_dim, d_model]
    torch::Tensor wo;         // [d_model, n_head * head_dim]
    torch::Tensor mlp_norm;   // [d_model]
    torch::Tensor w_gate;     // [d_ff, d_model]
    torch::Tensor w_up;       // [d_ff, d_model]
    torch::Tensor w_down;     // [d_model, d_ff]
  };
  LlamaModel(LlamaConfig config, int layer, torch::Dtype dtype, torch::Device device)
      : config_(std::move(config)), layer_(layer), dtype_(dtype), device_(device) {}

  LlamaConfig config_;
  int layer_ = 0;
  torch::Dtype dtype_ = torch::kFloat32;
  torch::Device device_ = torch::kCPU;
  torch::Tensor embed_;     // [vocab_size, d_model]
  torch::Tensor inv_freq_;  // [head_dim / 2] float32, llama3-scaled when configured
  std::vector<Layer> layers_;
};

}  // namespace saediff
