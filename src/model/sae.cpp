#include "model/sae.h"

#include <torch/script.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "core/error.h"
#include "model/safetensors.h"

namespace saediff {
namespace {

// A torch.save'd state dict (zip format) through libtorch's unpickler: name -> tensor.
std::map<std::string, torch::Tensor> read_pth(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot open SAE file '", path, "'");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    SAEDIFF_FAIL(path, ": cannot read the torch.save file: ", e.what());
  }
  SAEDIFF_CHECK(value.isGenericDict(), path, ": expected a state dict (a dict of tensors)");
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : value.toGenericDict()) {
    if (item.key().isString() && item.value().isTensor()) out[item.key().toStringRef()] = item.value().toTensor();
  }
  return out;
}

}  // namespace

Sae Sae::load(const std::string& path, torch::Dtype dtype, torch::Device device) {
  const std::string ext = std::filesystem::path(path).extension().string();
  std::map<std::string, torch::Tensor> tensors;
  const char* names[] = {"encoder_linear.weight", "encoder_linear.bias", "decoder_linear.weight", "decoder_linear.bias"};
  if (ext == ".safetensors") {
    const SafetensorsFile st = SafetensorsFile::open(path);
    for (const char* n : names) {
      SAEDIFF_CHECK(st.contains(n), path, ": missing '", n, "' (Goodfire SAE layout)");
      tensors[n] = st.tensor(n, torch::kFloat32);
    }
  } else {
    SAEDIFF_CHECK(ext == ".pth" || ext == ".pt", path, ": SAE files are .pth, .pt or .safetensors");
    tensors = read_pth(path);
    for (const char* n : names) SAEDIFF_CHECK(tensors.count(n), path, ": missing '", n, "' (Goodfire SAE layout)");
  }
  const torch::Tensor& w = tensors["encoder_linear.weight"];  // [d_sae, d_model]
  const torch::Tensor& b = tensors["encoder_linear.bias"];    // [d_sae]
  const torch::Tensor& wd = tensors["decoder_linear.weight"]; // [d_model, d_sae]
  const torch::Tensor& bd = tensors["decoder_linear.bias"];   // [d_model]
  SAEDIFF_CHECK(w.dim() == 2, path, ": encoder_linear.weight must be [d_sae, d_model]");
  const int64_t d_sae = w.size(0), d_model = w.size(1);
  SAEDIFF_CHECK(b.dim() == 1 && b.size(0) == d_sae, path, ": encoder_linear.bias must be [", d_sae, "]");
  SAEDIFF_CHECK(wd.dim() == 2 && wd.size(0) == d_model && wd.size(1) == d_sae, path,
                ": decoder_linear.weight must be [", d_model, ", ", d_sae, "]");
  SAEDIFF_CHECK(bd.dim() == 1 && bd.size(0) == d_model, path, ": decoder_linear.bias must be [", d_model, "]");
  Sae sae;
  sae.dtype_ = dtype;
  sae.d_model_ = d_model;
  sae.d_sae_ = d_sae;
  sae.w_enc_ = w.to(device, dtype).contiguous();
  sae.b_enc_ = b.to(device, dtype).contiguous();
  return sae;
}

torch::Tensor Sae::encode(const torch::Tensor& x) const {
  SAEDIFF_CHECK(x.dim() == 2 && x.size(1) == d_model_, "SAE input must be [n_token, ", d_model_, "]");
  // f = ReLU(x · Wᵀ + b): no input normalisation, no decoder-bias subtraction (Goodfire).
  return torch::relu(torch::addmm(b_enc_, x.to(dtype_), w_enc_.t())).to(torch::kFloat32);  // [T, d_sae]
}

}  // namespace saediff
