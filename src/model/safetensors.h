#pragma once
// The safetensors format: 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the raw little-endian data.
// Reading memory-maps the file and validates every header field against the file size.
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace saediff {

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);  // throws saediff::Error on any malformed input
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  bool contains(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  std::vector<int64_t> shape(const std::string& name) const;
  // A copy of the tensor, converted to `dtype`, on `device` (F32, F16, BF16, F64 and the integer types are
  // read): one copy straight from the mapping. With `all_finite`, also reports whether the stored bits hold no
  // NaN or infinity: the IEEE exponent all ones, read from the mapping's raw bits just before the copy (integer
  // tensors are always finite).
  torch::Tensor tensor(const std::string& name, torch::Dtype dtype, torch::Device device = torch::kCPU,
                       bool* all_finite = nullptr) const;
  // The same into an existing tensor of the tensor's shape (any dtype and device; a slice of a larger one, such
  // as the rows of a fused weight, included).
  void read_into(const std::string& name, torch::Tensor& out, bool* all_finite = nullptr) const;
  const std::map<std::string, std::string>& metadata() const;

 private:
  struct Impl;
  explicit SafetensorsFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// False when the float tensor of `dtype` stored in these bytes holds a NaN or an infinity (exponent all ones).
bool finite_bits(torch::Dtype dtype, const uint8_t* data, uint64_t n_bytes);

// Writes contiguous CPU copies of the tensors (F32, F16, BF16, I32, I64) with optional metadata.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace saediff
