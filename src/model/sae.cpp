#include "model/sae.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/pth.h"
#include "model/safetensors.h"

namespace saediff {
namespace {

torch::Dtype torch_dtype(const std::string& name, const std::string& where) {
  static const std::map<std::string, torch::Dtype> kTypes = {
      {"float32", torch::kFloat32}, {"float64", torch::kFloat64}, {"float16", torch::kFloat16},
      {"bfloat16", torch::kBFloat16}, {"int64", torch::kInt64}, {"int32", torch::kInt32}, {"int16", torch::kInt16},
      {"int8", torch::kInt8}, {"uint8", torch::kUInt8}, {"bool", torch::kBool}};
  const auto it = kTypes.find(name);
  SAEDIFF_CHECK(it != kTypes.end(), where, ": unsupported dtype ", name);
  return it->second;
}

// A copy of a tensor of a torch.save archive, in float32.
torch::Tensor pth_tensor(const PthTensor& t, const std::string& where) {
  const torch::Dtype dtype = torch_dtype(t.dtype, where);
  void* data = const_cast<char*>(t.storage.data()) + t.offset * t.itemsize;  // read only: cloned at once
  return torch::from_blob(data, t.shape, t.stride, torch::TensorOptions().dtype(dtype)).to(torch::kFloat32).clone();
}

}  // namespace

Sae Sae::load(const std::string& path, torch::Dtype dtype, torch::Device device) {
  const std::string ext = std::filesystem::path(path).extension().string();
  SAEDIFF_CHECK(ext == ".safetensors" || ext == ".pth" || ext == ".pt", path,
                ": SAE files are .pth, .pt (torch.save) or .safetensors");
  const char* names[] = {"encoder_linear.weight", "encoder_linear.bias", "decoder_linear.weight", "decoder_linear.bias"};
  // Shapes of all four tensors; only the encoder's are copied (the decoder is never used to encode).
  std::map<std::string, std::vector<int64_t>> shapes;
  torch::Tensor w, b;
  if (ext == ".safetensors") {
    const SafetensorsFile st = SafetensorsFile::open(path);
    for (const char* n : names) {
      SAEDIFF_CHECK(st.contains(n), path, ": missing '", n, "' (Goodfire SAE layout)");
      shapes[n] = st.shape(n);
    }
    w = st.tensor(names[0], torch::kFloat32);
    b = st.tensor(names[1], torch::kFloat32);
  } else {
    const MappedFile file = MappedFile::open(path);
    const std::map<std::string, PthTensor> tensors = parse_pth(file.bytes(), path);
    for (const char* n : names) {
      const auto it = tensors.find(n);
      SAEDIFF_CHECK(it != tensors.end(), path, ": missing '", n, "' (Goodfire SAE layout)");
      shapes[n] = it->second.shape;
    }
    w = pth_tensor(tensors.at(names[0]), path);
    b = pth_tensor(tensors.at(names[1]), path);
  }
  const auto shape_text = [](const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  };
  const std::vector<int64_t>& sw = shapes[names[0]];
  SAEDIFF_CHECK(sw.size() == 2, path, ": encoder_linear.weight must be [d_sae, d_model], got ", shape_text(sw));
  const int64_t d_sae = sw[0], d_model = sw[1];
  const std::map<std::string, std::vector<int64_t>> want = {{names[1], {d_sae}}, {names[2], {d_model, d_sae}},
                                                            {names[3], {d_model}}};
  for (const auto& [name, expected] : want) {
    SAEDIFF_CHECK(shapes[name] == expected, path, ": ", name, " has shape ", shape_text(shapes[name]), ", expected ",
                  shape_text(expected), " for encoder_linear.weight ", shape_text(sw));
  }
  SAEDIFF_CHECK(torch::isfinite(w).all().item<bool>(), path, ": encoder_linear.weight holds NaN or infinite values");
  SAEDIFF_CHECK(torch::isfinite(b).all().item<bool>(), path, ": encoder_linear.bias holds NaN or infinite values");
  Sae sae;
  sae.dtype_ = dtype;
  sae.d_model_ = d_model;
  sae.d_sae_ = d_sae;
  sae.path_ = path;
  sae.w_enc_ = w.to(device, dtype).contiguous();
  sae.b_enc_ = b.to(device, dtype).contiguous();
  return sae;
}

Sae Sae::random(int64_t d_model, int64_t d_sae, torch::Dtype dtype, torch::Device device, uint64_t seed, double bias) {
  SAEDIFF_CHECK(d_model > 0 && d_sae > 0, "SAE sizes must be positive");
  torch::manual_seed(seed);
  const auto options = torch::TensorOptions().dtype(dtype).device(device);
  Sae sae;
  sae.dtype_ = dtype;
  sae.d_model_ = d_model;
  sae.d_sae_ = d_sae;
  sae.w_enc_ = torch::randn({d_sae, d_model}, options).mul_(0.02);  // [d_sae, d_model]
  sae.b_enc_ = torch::full({d_sae}, bias, options);              // [d_sae]
  return sae;
}

Sae Sae::to(torch::Dtype dtype) const {
  Sae out = *this;
  out.dtype_ = dtype;
  out.w_enc_ = w_enc_.to(dtype);
  out.b_enc_ = b_enc_.to(dtype);
  return out;
}

void Sae::check_input_width(int64_t hidden_size, const std::string& model) const {
  SAEDIFF_CHECK(d_model_ == hidden_size, path_, ": the SAE does not fit the model: encoder_linear.weight is [", d_sae_,
                ", ", d_model_, "], expected [", d_sae_, ", ", hidden_size, "] for the hidden size ", hidden_size, " of ",
                model, " (an SAE trained on another model?)");
}

torch::Tensor Sae::encode(const torch::Tensor& x) const {
  SAEDIFF_CHECK(x.dim() == 2 && x.size(1) == d_model_, "SAE input must be [n_token, ", d_model_, "]");
  // f = ReLU(x · Wᵀ + b): no input normalisation, no decoder-bias subtraction (Goodfire). The ReLU is fused into
  // the GEMM (cuBLASLt's epilogue on CUDA; in place after it on the CPU): no second pass over [T, d_sae].
  return at::_addmm_activation(b_enc_, x.to(dtype_), w_enc_.t()).to(torch::kFloat32);  // [T, d_sae]
}

}  // namespace saediff
