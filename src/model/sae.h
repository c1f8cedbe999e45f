#pragma once
// Goodfire's sparse autoencoder: f = ReLU(x · Wᵀ + b), no input normalisation, no decoder-bias subtraction.
// Loads a torch.save state dict (.pth) or safetensors with encoder_linear.{weight,bias} and
// decoder_linear.{weight,bias}.
#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace saediff {

class Sae {
 public:
  static Sae load(const std::string& path, torch::Dtype dtype, torch::Device device);
  // Random encoder (N(0, 0.02^2) weights, every bias `bias`) made on `device`: benchmarks at the real shape. A
  // negative bias makes it sparse, as trained SAEs are.
  static Sae random(int64_t d_model, int64_t d_sae, torch::Dtype dtype, torch::Device device, uint64_t seed,
                    double bias = 0.0);
  // The same encoder in another dtype (for comparing precisions on the same weights).
  Sae to(torch::Dtype dtype) const;

  // x: [n_token, d_model] (any float dtype). Returns f: [n_token, d_sae] float32.
  torch::Tensor encode(const torch::Tensor& x) const;

  const torch::Tensor& weight() const { return w_enc_; }  // [d_sae, d_model]
  const torch::Tensor& bias() const { return b_enc_; }    // [d_sae]
  int64_t d_model() const { return d_model_; }
  int64_t d_sae() const { return d_sae_; }
  // Throws, naming the file and both shapes, unless the SAE reads vectors of the model's hidden size.
  void check_input_width(int64_t hidden_size, const std::string& model) const;

 private:
  Sae() = default;
  torch::Tensor w_enc_;  // [d_sae, d_model]
  torch::Tensor b_enc_;  // [d_sae]
  torch::Dtype dtype_ = torch::kFloat32;
  int64_t d_model_ = 0;
  int64_t d_sae_ = 0;
  std::string path_;  // the file it came from ("" when random), for error messages
};

}  // namespace saediff
