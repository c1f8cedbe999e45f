#include "model/random_checkpoint.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hash.h"
#include "model/planted.h"
#include "model/safetensors.h"

namespace saediff {
namespace {

// splitmix64 + Box-Muller: the same numbers on every machine and libtorch version.
class Normal {
 public:
  explicit Normal(uint64_t seed) : state_(seed) {}
  double next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = (static_cast<double>(next_u64() >> 11) + 0.5) * 0x1.0p-53;  // (0, 1)
    const double u2 = static_cast<double>(next_u64() >> 11) * 0x1.0p-53;          // [0, 1)
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

 private:
  uint64_t next_u64() { return splitmix64(state_); }
  uint64_t state_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// [shape] float32 with entries mean + std * N(0, 1).
torch::Tensor normal(Normal& rng, std::vector<int64_t> shape, double std, double mean = 0.0) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(mean + std * rng.next());
  return torch::from_blob(v.data(), shape, torch::kFloat32).clone();
}

}  // namespace

void write_random_llama(const std::string& dir, const RandomLlamaSpec& s) {
  SAEDIFF_CHECK(s.d_model % s.n_head == 0 && s.n_head % s.n_kv_head == 0, "bad random Llama shape");
  std::filesystem::create_directories(dir);
  const int64_t head_dim = s.d_model / s.n_head;
  // With head_dim 16 and theta 5e5, the 8 RoPE wavelengths span ~6 to ~6e5 positions, so the llama3
  // rule (old context 8192, factors 1 and 4) keeps 4, interpolates 1 and divides 3: all three bands.
  const nlohmann::json config = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"vocab_size", s.vocab_size},
      {"hidden_size", s.d_model},
      {"intermediate_size", s.d_ff},
      {"num_hidden_layers", s.n_layer},
      {"num_attention_heads", s.n_head},
      {"num_key_value_heads", s.n_kv_head},
      {"head_dim", head_dim},
      {"hidden_act", "silu"},
      {"max_position_embeddings", 131072},
      {"rms_norm_eps", 1e-5},
      {"rope_theta", 500000.0},
      {"rope_scaling",
       {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
        {"original_max_position_embeddings", 8192}}},
      {"attention_bias", false},
      {"mlp_bias", false},
      {"tie_word_embeddings", true},
      {"bos_token_id", 128000},
      {"eos_token_id", 128009},
      {"torch_dtype", "bfloat16"},
      {"saediff_random_seed", s.seed},
  };
  {
    std::ofstream out(std::filesystem::path(dir) / "config.json");
    SAEDIFF_CHECK(out, "cannot write ", dir, "/config.json");
    out << config.dump(2) << '\n';
  }
  Normal rng(s.seed);
  std::vector<std::pair<std::string, torch::Tensor>> t;
  auto add = [&](const std::string& name, torch::Tensor v) { t.emplace_back(name, v.to(torch::kBFloat16)); };
  // Unit-variance embeddings keep the residual stream O(1); weights are N(0, 1/fan_in).
  // Planting changes weights after they are drawn, so the random ones are the same with and without it.
  const auto n_plant = static_cast<int64_t>(s.planted.size());
  const int64_t plant_first = s.d_model - n_plant;
  SAEDIFF_CHECK(n_plant <= s.d_model / 2, "at most d_model / 2 = ", s.d_model / 2, " planted features");
  auto unwritten = [&](torch::Tensor w) {  // no layer writes a planted dimension
    if (n_plant > 0) w.narrow(0, plant_first, n_plant).zero_();
    return w;
  };
  torch::Tensor embed = normal(rng, {s.vocab_size, s.d_model}, 1.0);
  if (n_plant > 0) {
    embed.narrow(1, plant_first, n_plant).zero_();
    for (int64_t j = 0; j < n_plant; ++j) {
      for (int32_t tok : s.planted[static_cast<size_t>(j)]) {
        SAEDIFF_CHECK(tok >= 0 && tok < s.vocab_size, "planted trigger id ", tok, " outside the vocabulary");
        embed[tok][plant_first + j] = kPlantAmplitude;
      }
    }
  }
  add("model.embed_tokens.weight", embed);
  const double in_d = 1.0 / std::sqrt(static_cast<double>(s.d_model));
  const double in_ff = 1.0 / std::sqrt(static_cast<double>(s.d_ff));
  for (int64_t i = 0; i < s.n_layer; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", normal(rng, {s.d_model}, 0.1, 1.0));
    add(p + "self_attn.q_proj.weight", normal(rng, {s.n_head * head_dim, s.d_model}, in_d));
    add(p + "self_attn.k_proj.weight", normal(rng, {s.n_kv_head * head_dim, s.d_model}, in_d));
    add(p + "self_attn.v_proj.weight", normal(rng, {s.n_kv_head * head_dim, s.d_model}, in_d));
    add(p + "self_attn.o_proj.weight", unwritten(normal(rng, {s.d_model, s.n_head * head_dim}, in_d)));
    add(p + "post_attention_layernorm.weight", normal(rng, {s.d_model}, 0.1, 1.0));
    add(p + "mlp.gate_proj.weight", normal(rng, {s.d_ff, s.d_model}, in_d));
    add(p + "mlp.up_proj.weight", normal(rng, {s.d_ff, s.d_model}, in_d));
    add(p + "mlp.down_proj.weight", unwritten(normal(rng, {s.d_model, s.d_ff}, in_ff)));
  }
  add("model.norm.weight", normal(rng, {s.d_model}, 0.1, 1.0));
  write_safetensors((std::filesystem::path(dir) / "model.safetensors").string(), t,
                    {{"format", "pt"}, {"saediff", "random demo checkpoint"}});
}

void write_random_sae(const std::string& path, const RandomSaeSpec& s) {
  Normal rng(s.seed);
  // Pre-activations x·w are ~N(0, |x|²/d_model), about unit scale on the demo reader's residual stream;
  // biases between -3 and -4.5 (the defaults) make each feature fire on a small fraction of tokens.
  const torch::Tensor w_enc = normal(rng, {s.d_sae, s.d_model}, 1.0 / std::sqrt(static_cast<double>(s.d_model)));
  std::vector<float> bias(static_cast<size_t>(s.d_sae));
  for (float& b : bias) b = static_cast<float>(-s.bias_min - s.bias_range * rng.uniform());
  for (const auto& [feature, dim] : s.planted) {
    SAEDIFF_CHECK(feature >= 0 && feature < s.d_sae && dim >= 0 && dim < s.d_model, "planted feature ", feature,
                  " or dimension ", dim, " outside the SAE");
    w_enc[feature].zero_();
    w_enc[feature][dim] = 1.0;
    bias[static_cast<size_t>(feature)] = static_cast<float>(-kPlantBias);
  }
  const torch::Tensor b_enc = torch::from_blob(bias.data(), {s.d_sae}, torch::kFloat32).clone();
  const torch::Tensor w_dec = normal(rng, {s.d_model, s.d_sae}, 1.0 / std::sqrt(static_cast<double>(s.d_sae)));
  const torch::Tensor b_dec = torch::zeros({s.d_model});
  const std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"encoder_linear.weight", w_enc}, {"encoder_linear.bias", b_enc},
      {"decoder_linear.weight", w_dec}, {"decoder_linear.bias", b_dec}};
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".safetensors") {
    write_safetensors(path, tensors, {{"format", "pt"}, {"saediff", "random demo SAE"}});
    return;
  }
  SAEDIFF_CHECK(ext == ".pth" || ext == ".pt", path, ": write the SAE as .safetensors or .pth");
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, v] : tensors) dict.insert(name, v);
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  std::ofstream out(path, std::ios::binary);
  SAEDIFF_CHECK(out, "cannot write '", path, "'");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace saediff
