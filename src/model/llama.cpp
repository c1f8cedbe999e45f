#include "model/llama.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>
#include <torch/version.h>

#include "core/error.h"
#include "model/safetensors.h"

namespace saediff {
namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  SAEDIFF_CHECK(in, "cannot open '", path, "'");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  SAEDIFF_CHECK(!j.is_discarded() && j.is_object(), path, ": not a JSON object");
  return j;
}

template <typename T>
T get_or(const nlohmann::json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->get<T>();
}

// Finds each tensor's file: one model.safetensors, or the shards of model.safetensors.index.json.
class WeightFiles {
 public:
  explicit WeightFiles(const std::string& dir) : dir_(dir) {
    const auto index = std::filesystem::path(dir) / "model.safetensors.index.json";
    const auto single = std::filesystem::path(dir) / "model.safetensors";
    if (std::filesystem::exists(index)) {
      const nlohmann::json j = read_json(index.string());
      SAEDIFF_CHECK(j.contains("weight_map") && j["weight_map"].is_object(), index.string(), ": no weight_map");
      for (const auto& [name, file] : j["weight_map"].items()) weight_map_[name] = file.get<std::string>();
    } else {
      SAEDIFF_CHECK(std::filesystem::exists(single), "no model.safetensors or model.safetensors.index.json in '", dir,
                    "'");
    }
  }

  // Reads tensor `name` into `out` (of the expected shape, the model's dtype and device; possibly rows of a
  // fused weight).
  void read(const std::string& name, torch::Tensor& out) {
    std::string file = "model.safetensors";
    if (!weight_map_.empty()) {
      auto it = weight_map_.find(name);
      SAEDIFF_CHECK(it != weight_map_.end(), dir_, ": tensor '", name, "' is not in the weight map");
      file = it->second;
    }
    auto& st = files_[file];
    if (!st) st = std::make_unique<SafetensorsFile>(SafetensorsFile::open((std::filesystem::path(dir_) / file).string()));
    SAEDIFF_CHECK(st->contains(name), dir_, "/", file, ": tensor '", name, "' is missing");
    SAEDIFF_CHECK(c10::IntArrayRef(st->shape(name)) == out.sizes(), dir_, "/", file, ": tensor '", name, "' has shape ",
                  c10::IntArrayRef(st->shape(name)), ", expected ", out.sizes());
    // Checked on the stored bits, before conversion: a float32 NaN stays NaN in bfloat16, and so does an inf.
    bool finite = true;
    st->read_into(name, out, &finite);
    SAEDIFF_CHECK(finite, dir_, "/", file, ": tensor '", name, "' holds NaN or infinite values");
  }

 private:
  std::string dir_;
  std::map<std::string, std::string> weight_map_;
  std::map<std::string, std::unique_ptr<SafetensorsFile>> files_;
};

// HF LlamaRMSNorm: normalise in float32, cast back, then scale. The eps add, rsqrt and scale run in place on
// fresh temporaries; with libtorch >= 2.4 and float32, at::rms_norm when the fusion is asked for (the same
// arithmetic: x * rsqrt(mean(x^2) + eps) * weight).
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps, bool use_op) {
  const bool f32 = x.scalar_type() == torch::kFloat32;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  if (use_op && f32) return at::rms_norm(x, {x.size(-1)}, weight, eps);
#else
  (void)use_op;
#endif
  const torch::Tensor x32 = f32 ? x : x.to(torch::kFloat32);
  torch::Tensor y = x32 * x32.pow(2).mean(-1, /*keepdim=*/true).add_(eps).rsqrt_();
  if (!f32) y = y.to(x.scalar_type());
  return y.mul_(weight);
}

// x · wᵀ (+ b when the checkpoint has biases).
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return b.defined() ? torch::addmm(b, x, w.t()) : torch::mm(x, w.t());
}

// residual + x · wᵀ (+ b): with `fused` and no bias, one GEMM that accumulates onto the residual (addmm).
torch::Tensor add_linear(const torch::Tensor& residual, const torch::Tensor& x, const torch::Tensor& w,
                         const torch::Tensor& b, bool fused) {
  if (fused && !b.defined()) return torch::addmm(residual, x, w.t());
  return residual + linear(x, w, b);
}

// The documents of a packed batch that attend as one [docs, heads, longest, head_dim] call. Documents of one
// length that sit back to back are a view of the batch (`dense`, causal attention only); others are gathered
// and padded to the longest, with a mask that keeps each query to its own document's earlier keys.
struct AttentionGroup {
  int64_t n_doc = 0, longest = 0;
  bool dense = false;
  int64_t first_row = 0;  // dense: the group's first row in the batch
  torch::Tensor gather;   // padded: [n_doc * longest] batch rows (padding repeats the document's last row)
  torch::Tensor real;     // padded: [tokens] rows of the padded layout holding tokens, in batch order
  torch::Tensor dest;     // padded: [tokens] their batch rows, ascending
  torch::Tensor mask;     // padded: [n_doc, 1, longest, longest] bool, true where a query may read a key
};

// Groups by length, longest first: a group grows while its padded [docs, heads, longest, longest] scores stay
// within max_score_elements and padding stays under a quarter of its rows. Host work only; the index tensors
// are made once per batch and serve every layer.
std::vector<AttentionGroup> plan_attention(const std::vector<int64_t>& lengths, int64_t n_head, int64_t max_score_elements,
                                           torch::Device device) {
  std::vector<int64_t> starts(lengths.size());
  int64_t total = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    starts[i] = total;
    total += lengths[i];
  }
  std::vector<size_t> order(lengths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<size_t>> members;
  int64_t longest = 0, tokens = 0;
  for (const size_t d : order) {
    const int64_t n = lengths[d];
    if (!members.empty()) {
      const auto b = static_cast<int64_t>(members.back().size()) + 1;
      if (b * n_head * longest * longest <= max_score_elements && 4 * (tokens + n) >= 3 * b * longest) {
        members.back().push_back(d);
        tokens += n;
        continue;
      }
    }
    members.push_back({d});
    longest = n;
    tokens = n;
  }
  const auto index_options = torch::TensorOptions().dtype(torch::kInt64);
  std::vector<AttentionGroup> groups;
  for (std::vector<size_t>& docs : members) {
    AttentionGroup g;
    g.n_doc = static_cast<int64_t>(docs.size());
    g.longest = lengths[docs[0]];
    std::sort(docs.begin(), docs.end());  // batch order
    g.dense = true;
    for (size_t i = 0; i < docs.size() && g.dense; ++i) {
      g.dense = lengths[docs[i]] == g.longest && (i == 0 || docs[i] == docs[i - 1] + 1);
    }
    g.first_row = starts[docs[0]];
    if (!g.dense) {
      const int64_t L = g.longest;
      std::vector<int64_t> gather, real, dest, len;
      for (size_t i = 0; i < docs.size(); ++i) {
        const int64_t n = lengths[docs[i]], s = starts[docs[i]];
        len.push_back(n);
        for (int64_t t = 0; t < L; ++t) gather.push_back(s + std::min(t, n - 1));
        for (int64_t t = 0; t < n; ++t) {
          real.push_back(static_cast<int64_t>(i) * L + t);
          dest.push_back(s + t);
        }
      }
      g.gather = torch::tensor(gather, index_options).to(device);
      g.real = torch::tensor(real, index_options).to(device);
      g.dest = torch::tensor(dest, index_options).to(device);
      const torch::Tensor ar = torch::arange(L, index_options).to(device);
      const torch::Tensor causal = ar.unsqueeze(1) >= ar.unsqueeze(0);                              // [L, L]
      const torch::Tensor key_in_doc = ar.unsqueeze(0) < torch::tensor(len, index_options).to(device).unsqueeze(1);  // [B, L]
      g.mask = causal.unsqueeze(0).logical_and(key_in_doc.unsqueeze(1)).unsqueeze(1);              // [B, 1, L, L]
    }
    groups.push_back(std::move(g));
  }
  return groups;
}

}  // namespace

void LlamaModel::set_fusion(const Fusion& fusion) { fusion_ = fusion; }

LlamaConfig LlamaConfig::from_json_file(const std::string& path) {
  const nlohmann::json j = read_json(path);
  LlamaConfig c;
  // Llama only: refuse other architectures by name rather than misreading their weights.
  const std::string model_type = j.contains("model_type") && j["model_type"].is_string() ? j["model_type"].get<std::string>() : "";
  std::string archs;
  bool llama_arch = false;
  if (j.contains("architectures") && j["architectures"].is_array()) {
    for (const auto& a : j["architectures"]) {
      const std::string name = a.is_string() ? a.get<std::string>() : a.dump();
      archs += (archs.empty() ? "" : ", ") + name;
      llama_arch = llama_arch || name == "LlamaForCausalLM" || name == "LlamaModel";
    }
  }
  SAEDIFF_CHECK((model_type.empty() || model_type == "llama") && (archs.empty() || llama_arch), path,
                ": unsupported architecture (model_type '", model_type, "', architectures [", archs,
                "]): saediff reads Llama checkpoints (LlamaForCausalLM) only");
  try {
    c.vocab_size = j.at("vocab_size").get<int64_t>();
    c.d_model = j.at("hidden_size").get<int64_t>();
    c.d_ff = j.at("intermediate_size").get<int64_t>();
    c.n_layer = j.at("num_hidden_layers").get<int64_t>();
    c.n_head = j.at("num_attention_heads").get<int64_t>();
    c.n_kv_head = get_or<int64_t>(j, "num_key_value_heads", c.n_head);
    c.head_dim = get_or<int64_t>(j, "head_dim", c.n_head > 0 ? c.d_model / c.n_head : 0);
    c.rms_norm_eps = get_or<double>(j, "rms_norm_eps", 1e-6);
    c.max_position_embeddings = get_or<int64_t>(j, "max_position_embeddings", 0);
    c.rope_theta = get_or<double>(j, "rope_theta", 10000.0);
    nlohmann::json rope;
    if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) rope = j["rope_scaling"];
    if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) rope = j["rope_parameters"];
    if (rope.is_object()) {
      c.rope.rope_type = get_or<std::string>(rope, "rope_type", get_or<std::string>(rope, "type", "default"));
      c.rope.factor = get_or<double>(rope, "factor", 1.0);
      c.rope.low_freq_factor = get_or<double>(rope, "low_freq_factor", 1.0);
      c.rope.high_freq_factor = get_or<double>(rope, "high_freq_factor", 4.0);
      c.rope.original_max_position_embeddings = get_or<int64_t>(rope, "original_max_position_embeddings", 8192);
      c.rope_theta = get_or<double>(rope, "rope_theta", c.rope_theta);
    }
    c.attention_bias = get_or<bool>(j, "attention_bias", false);
    c.mlp_bias = get_or<bool>(j, "mlp_bias", false);
  } catch (const nlohmann::json::exception& e) {
    SAEDIFF_FAIL(path, ": bad Llama config: ", e.what());
  }
  SAEDIFF_CHECK(c.vocab_size > 0 && c.d_model > 0 && c.d_ff > 0 && c.n_layer > 0 && c.n_head > 0 && c.n_kv_head > 0 &&
                    c.head_dim > 0 && c.head_dim % 2 == 0,
                path, ": sizes must be positive and head_dim even");
  SAEDIFF_CHECK(c.n_head % c.n_kv_head == 0, path, ": num_attention_heads (", c.n_head,
                ") must be a multiple of num_key_value_heads (", c.n_kv_head, ")");
  SAEDIFF_CHECK(c.rope.rope_type == "default" || c.rope.rope_type == "llama3", path, ": rope type '", c.rope.rope_type,
                "' is not supported (default or llama3)");
  if (c.rope.rope_type == "llama3") {
    SAEDIFF_CHECK(c.rope.factor > 0 && c.rope.high_freq_factor > c.rope.low_freq_factor &&
                      c.rope.low_freq_factor > 0 && c.rope.original_max_position_embeddings > 0,
                  path, ": bad llama3 rope_scaling parameters");
  }
  return c;
}

LlamaConfig LlamaConfig::llama3_8b() {
  LlamaConfig c;
  c.vocab_size = 128256;
  c.d_model = 4096;
  c.d_ff = 14336;
  c.n_layer = 32;
  c.n_head = 32;
  c.n_kv_head = 8;
  c.head_dim = 128;
  c.rms_norm_eps = 1e-5;
  c.max_position_embeddings = 131072;
  c.rope_theta = 500000.0;
  c.rope.rope_type = "llama3";
  c.rope.factor = 8.0;
  c.rope.low_freq_factor = 1.0;
  c.rope.high_freq_factor = 4.0;
  c.rope.original_max_position_embeddings = 8192;
  return c;
}

LlamaModel LlamaModel::load(const std::string& dir, int layer, torch::Dtype dtype, torch::Device device) {
  LlamaConfig config = LlamaConfig::from_json_file((std::filesystem::path(dir) / "config.json").string());
  SAEDIFF_CHECK(layer >= 0 && layer < config.n_layer, "layer ", layer, " does not exist: '", dir, "' has ",
                config.n_layer, " decoder layers (0..", config.n_layer - 1, ")");
  WeightFiles weights(dir);
  return build(std::move(config), layer, dtype, device,
               [&](const std::string& name, torch::Tensor& out) { weights.read(name, out); });
}

LlamaModel LlamaModel::random(LlamaConfig config, int layer, torch::Dtype dtype, torch::Device device, uint64_t seed) {
  SAEDIFF_CHECK(layer >= 0 && layer < config.n_layer, "layer ", layer, " does not exist (", config.n_layer,
                " decoder layers)");
  torch::manual_seed(seed);
  return build(std::move(config), layer, dtype, device, [&](const std::string& name, torch::Tensor& out) {
    // Norm weights 1, everything else N(0, 0.02^2) as HF initialises Llama; in place, no second copy.
    if (name.find("norm") != std::string::npos) {
      out.fill_(1.0);
    } else {
      out.normal_(0.0, 0.02);
    }
  });
}

LlamaModel LlamaModel::build(LlamaConfig config, int layer, torch::Dtype dtype, torch::Device device,
                             const WeightSource& source) {
  SAEDIFF_CHECK(dtype == torch::kFloat32 || dtype == torch::kBFloat16, "the reader runs in float32 or bfloat16");
  LlamaModel m(std::move(config), layer, dtype, device);
  const LlamaConfig& c = m.config_;
  const auto options = torch::TensorOptions().dtype(dtype).device(device);
  const auto get = [&](const std::string& name, std::vector<int64_t> shape) {
    torch::Tensor out = torch::empty(shape, options);
    source(name, out);
    return out;
  };
  // Q, K, V (and gate, up) read straight into their rows of one tensor: no copy to concatenate them.
  const auto fused = [&](const std::vector<std::pair<std::string, int64_t>>& parts, std::vector<int64_t> row_shape) {
    int64_t rows = 0;
    for (const auto& part : parts) rows += part.second;
    row_shape.insert(row_shape.begin(), rows);
    torch::Tensor out = torch::empty(row_shape, options);
    int64_t row = 0;
    for (const auto& [name, n] : parts) {
      torch::Tensor slice = out.narrow(0, row, n);
      source(name, slice);
      row += n;
    }
    return out;
  };
  const int64_t q_rows = c.n_head * c.head_dim, kv_rows = c.n_kv_head * c.head_dim;
  m.embed_ = get("model.embed_tokens.weight", {c.vocab_size, c.d_model});
  for (int i = 0; i <= layer; ++i) {  // layers after `layer` are never read
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Layer l;
    l.attn_norm = get(p + "input_layernorm.weight", {c.d_model});
    l.w_qkv = fused({{p + "self_attn.q_proj.weight", q_rows}, {p + "self_attn.k_proj.weight", kv_rows},
                     {p + "self_attn.v_proj.weight", kv_rows}},
                    {c.d_model});
    l.wo = get(p + "self_attn.o_proj.weight", {c.d_model, q_rows});
    l.mlp_norm = get(p + "post_attention_layernorm.weight", {c.d_model});
    l.w_gate_up = fused({{p + "mlp.gate_proj.weight", c.d_ff}, {p + "mlp.up_proj.weight", c.d_ff}}, {c.d_model});
    l.w_down = get(p + "mlp.down_proj.weight", {c.d_model, c.d_ff});
    if (c.attention_bias) {
      l.b_qkv = fused({{p + "self_attn.q_proj.bias", q_rows}, {p + "self_attn.k_proj.bias", kv_rows},
                       {p + "self_attn.v_proj.bias", kv_rows}},
                      {});
      l.bo = get(p + "self_attn.o_proj.bias", {c.d_model});
    }
    if (c.mlp_bias) {
      l.b_gate_up = fused({{p + "mlp.gate_proj.bias", c.d_ff}, {p + "mlp.up_proj.bias", c.d_ff}}, {});
      l.b_down = get(p + "mlp.down_proj.bias", {c.d_model});
    }
    m.layers_.push_back(std::move(l));
  }

  // inv_freq in float32, as HF computes it: 1 / theta^(arange(0, dim, 2) / dim).
  const torch::Tensor exponent = torch::arange(0, c.head_dim, 2, torch::kInt64).to(torch::kFloat32) /
                                 static_cast<double>(c.head_dim);                       // [head_dim/2]
  torch::Tensor inv_freq = 1.0 / torch::pow(c.rope_theta, exponent);                    // [head_dim/2] f32
  if (c.rope.rope_type == "llama3") {
    const double factor = c.rope.factor, low = c.rope.low_freq_factor, high = c.rope.high_freq_factor;
    const auto old_ctx = static_cast<double>(c.rope.original_max_position_embeddings);
    const double low_freq_wavelen = old_ctx / low, high_freq_wavelen = old_ctx / high;
    const torch::Tensor wavelen = 2 * M_PI / inv_freq;
    // Long wavelengths are divided by `factor`, short ones kept, the band between interpolated.
    torch::Tensor scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq);
    const torch::Tensor smooth = (old_ctx / wavelen - low) / (high - low);
    const torch::Tensor smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
    const torch::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
    inv_freq = torch::where(medium, smoothed, scaled);
  }
  m.inv_freq_ = inv_freq.to(device);
  return m;
}

LlamaModel LlamaModel::to(torch::Dtype dtype) const {
  SAEDIFF_CHECK(dtype == torch::kFloat32 || dtype == torch::kBFloat16, "the reader runs in float32 or bfloat16");
  LlamaModel m(config_, layer_, dtype, device_);
  m.fusion_ = fusion_;
  const auto convert = [&](const torch::Tensor& t) { return t.defined() ? t.to(dtype) : t; };
  m.embed_ = convert(embed_);
  m.inv_freq_ = inv_freq_;  // float32 in every dtype
  for (const Layer& l : layers_) {
    m.layers_.push_back({convert(l.attn_norm), convert(l.w_qkv), convert(l.wo), convert(l.mlp_norm),
                         convert(l.w_gate_up), convert(l.w_down), convert(l.b_qkv), convert(l.bo),
                         convert(l.b_gate_up), convert(l.b_down)});
  }
  return m;
}

int64_t LlamaModel::weight_bytes() const {
  int64_t n = embed_.numel() * embed_.element_size();
  for (const Layer& l : layers_) {
    for (const torch::Tensor* t : {&l.attn_norm, &l.w_qkv, &l.wo, &l.mlp_norm, &l.w_gate_up, &l.w_down, &l.b_qkv, &l.bo,
                                   &l.b_gate_up, &l.b_down}) {
      if (t->defined()) n += t->numel() * t->element_size();
    }
  }
  return n;
}

torch::Tensor LlamaModel::forward(const std::vector<int32_t>& ids, int64_t max_score_elements) const {
  return forward_packed(ids, {static_cast<int64_t>(ids.size())}, max_score_elements);
}

torch::Tensor LlamaModel::forward_packed(const std::vector<int32_t>& ids, const std::vector<int64_t>& lengths,
                                         int64_t max_score_elements, torch::Dtype out_dtype) const {
  const LlamaConfig& c = config_;
  const auto n_token = static_cast<int64_t>(ids.size());
  SAEDIFF_CHECK(n_token > 0, "forward() needs at least one token");
  // Every token's position within its document (RoPE restarts at 0).
  std::vector<int64_t> positions;
  positions.reserve(ids.size());
  int64_t total = 0;
  for (const int64_t n : lengths) {
    SAEDIFF_CHECK(n > 0, "a packed document needs at least one token");
    for (int64_t t = 0; t < n; ++t) positions.push_back(t);
    total += n;
  }
  SAEDIFF_CHECK(total == n_token, "packed lengths add up to ", total, " tokens, but ", n_token, " ids were given");
  // Checked on the host: a check on the device would wait for the GPU before anything of this batch is queued.
  const auto [lowest, highest] = std::minmax_element(ids.begin(), ids.end());
  SAEDIFF_CHECK(*lowest >= 0 && *highest < c.vocab_size, "token id ", *lowest < 0 ? *lowest : *highest,
                " outside the vocabulary [0, ", c.vocab_size, ")");
  const torch::Tensor tokens = torch::from_blob(const_cast<int32_t*>(ids.data()), {n_token}, torch::kInt32)
                                   .to(device_)
                                   .to(torch::kInt64);                          // [T]
  torch::Tensor x = embed_.index_select(0, tokens);                             // [T, d_model] dtype

  // RoPE tables: cos/sin of positions x inv_freq in float32, then cast to the model dtype. HF's
  // x cos + rotate_half(x) sin, with rotate_half(x) = [-x2, x1], is computed as x cos + [x2, x1] [-sin, sin]:
  // the same products, with the halves swapped by one flip and the sign folded into the table.
  const torch::Tensor pos = torch::from_blob(positions.data(), {n_token}, torch::kInt64)
                                .to(device_)
                                .to(torch::kFloat32);                           // [T]
  const torch::Tensor freqs = torch::outer(pos, inv_freq_);                     // [T, head_dim/2] f32
  const torch::Tensor cos = torch::cat({freqs, freqs}, -1).cos_().to(dtype_).unsqueeze(1);  // [T, 1, head_dim]
  const torch::Tensor half_sin = freqs.sin();
  const torch::Tensor signed_sin = torch::cat({-half_sin, half_sin}, -1).to(dtype_).unsqueeze(1);  // [T, 1, head_dim]
  const int64_t half = c.head_dim / 2;
  const auto rope = [&](const torch::Tensor& t) {  // [T, heads, head_dim] -> a new [T, heads, head_dim]
    const int64_t heads = t.size(1);
    const torch::Tensor swapped = t.view({n_token, heads, 2, half}).flip(2).view({n_token, heads, c.head_dim});
    return torch::addcmul(t * cos, swapped, signed_sin);
  };
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.head_dim));
  const int64_t n_rep = c.n_head / c.n_kv_head;
  const int64_t q_width = c.n_head * c.head_dim;
  // Attention per group of documents, not per document: the groups, their index tensors and masks are made once
  // and serve every layer.
  const std::vector<AttentionGroup> groups = plan_attention(lengths, c.n_head, max_score_elements, device_);

  // One group's attention: q [B, H, L, hd], k/v [B, Hkv, L, hd] -> [B, H, L, hd]; causal within each document
  // (mask undefined: every document is L tokens long).
  const auto attend = [&](const torch::Tensor& q, torch::Tensor k, torch::Tensor v, const torch::Tensor& mask) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
    // libtorch 2.5+: the fused kernels read GQA's shared K/V heads themselves (enable_gqa), no copies.
    if (!mask.defined()) {
      return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true, scale, /*enable_gqa=*/n_rep > 1);
    }
    return at::scaled_dot_product_attention(q, k, v, mask, 0.0, /*is_causal=*/false, scale, /*enable_gqa=*/n_rep > 1);
#endif
    if (n_rep > 1) {  // GQA: query head i reads kv head i / n_rep
      k = k.repeat_interleave(n_rep, 1);
      v = v.repeat_interleave(n_rep, 1);
    }
#if TORCH_VERSION_MAJOR >= 2
    // libtorch 2: fused attention (flash or memory-efficient kernels on CUDA, flash on CPUs; softmax in float32).
    if (!mask.defined()) return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
    return at::scaled_dot_product_attention(q, k, v, mask, 0.0, /*is_causal=*/false);
#endif
    // libtorch 1.x: attention in blocks of query rows, so that the [B, H, rows, keys] scores stay within
    // max_score_elements for long documents (softmax is per row: the blocks give the same values as one pass).
    const int64_t B = q.size(0), L = q.size(2);
    const int64_t block_rows = std::clamp<int64_t>(max_score_elements / (B * c.n_head * L), 1, L);
    const auto index_options = torch::TensorOptions().dtype(torch::kInt64).device(device_);
    std::vector<torch::Tensor> blocks;
    for (int64_t r0 = 0; r0 < L; r0 += block_rows) {
      const int64_t r1 = std::min(L, r0 + block_rows);
      const torch::Tensor kb = k.narrow(2, 0, r1), vb = v.narrow(2, 0, r1);  // keys up to the block's last row
      torch::Tensor scores = torch::matmul(q.narrow(2, r0, r1 - r0), kb.transpose(2, 3)).mul_(scale);  // [B, H, r, r1]
      torch::Tensor allowed;
      if (mask.defined()) {
        allowed = mask.narrow(2, r0, r1 - r0).narrow(3, 0, r1);  // [B, 1, r, r1]
      } else {
        allowed = torch::arange(r1, index_options).unsqueeze(0) <= torch::arange(r0, r1, index_options).unsqueeze(1);
      }
      scores.masked_fill_(allowed.logical_not(), -std::numeric_limits<float>::infinity());
      const torch::Tensor probs = torch::softmax(scores, -1, torch::kFloat32).to(dtype_);  // softmax in float32
      blocks.push_back(torch::matmul(probs, vb));                                // [B, H, r, hd]
    }
    return blocks.size() == 1 ? blocks[0] : torch::cat(blocks, 2);
  };

  const bool one_group = groups.size() == 1;
  for (const Layer& l : layers_) {
    const torch::Tensor h = rms_norm(x, l.attn_norm, c.rms_norm_eps, fusion_.rms_norm_op);  // [T, d_model]
    const torch::Tensor qkv = linear(h, l.w_qkv, l.b_qkv).view({n_token, c.n_head + 2 * c.n_kv_head, c.head_dim});
    const torch::Tensor qk = rope(qkv.narrow(1, 0, c.n_head + c.n_kv_head));                       // [T, H + Hkv, hd]
    const torch::Tensor v = qkv.narrow(1, c.n_head + c.n_kv_head, c.n_kv_head);                   // [T, Hkv, hd]
    torch::Tensor attn;  // [T, H * hd]
    if (!one_group) attn = torch::empty({n_token, q_width}, x.options());
    for (const AttentionGroup& g : groups) {
      const int64_t B = g.n_doc, L = g.longest;
      // [B, heads, L, hd] views of the group's rows: a slice when dense, else gathered and padded.
      const auto take = [&](const torch::Tensor& t) {
        const torch::Tensor rows = g.dense ? t.narrow(0, g.first_row, B * L) : t.index_select(0, g.gather);
        return rows.view({B, L, t.size(1), c.head_dim}).transpose(1, 2);
      };
      const torch::Tensor qk_g = take(qk), v_g = take(v);
      const torch::Tensor o = attend(qk_g.narrow(1, 0, c.n_head), qk_g.narrow(1, c.n_head, c.n_kv_head), v_g, g.mask)
                                  .transpose(1, 2)
                                  .reshape({B * L, q_width});                   // [B L, H hd]
      if (one_group) {
        attn = g.dense ? o : o.index_select(0, g.real);
      } else if (g.dense) {
        attn.narrow(0, g.first_row, B * L).copy_(o);
      } else {
        attn.index_copy_(0, g.dest, o.index_select(0, g.real));
      }
    }
    x = add_linear(x, attn, l.wo, l.bo, fusion_.residual_addmm);
    const torch::Tensor g = rms_norm(x, l.mlp_norm, c.rms_norm_eps, fusion_.rms_norm_op);  // [T, d_model]
    torch::Tensor gate_up = linear(g, l.w_gate_up, l.b_gate_up);                           // [T, 2 d_ff]
    torch::Tensor mlp;                                                                     // [T, d_ff]
    if (fusion_.inplace_mlp) {
      mlp = gate_up.narrow(1, 0, c.d_ff);  // SiLU(gate) * up into gate's half: no [T, d_ff] temporaries
      torch::silu_(mlp).mul_(gate_up.narrow(1, c.d_ff, c.d_ff));
    } else {
      mlp = torch::silu(gate_up.slice(1, 0, c.d_ff)) * gate_up.slice(1, c.d_ff);
    }
    x = add_linear(x, mlp, l.w_down, l.b_down, fusion_.residual_addmm);
  }
  return x.to(out_dtype);
}

}  // namespace saediff
