// Prints a torch.save file's state dict as read by saediff's own reader (model/pth.h), one JSON object:
// {"name": {"dtype": ..., "shape": [...], "values": [... as float64, row-major]}} or {"error": message}.
// Used by tests/integration/pth_reader.py to compare against torch.load.
#include <torch/torch.h>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/pth.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pth_dump FILE.pth\n");
    return 2;
  }
  nlohmann::json out = nlohmann::json::object();
  try {
    const saediff::MappedFile file = saediff::MappedFile::open(argv[1]);
    for (const auto& [name, t] : saediff::parse_pth(file.bytes(), argv[1])) {
      static const std::map<std::string, torch::Dtype> kTypes = {
          {"float32", torch::kFloat32}, {"float64", torch::kFloat64}, {"float16", torch::kFloat16},
          {"bfloat16", torch::kBFloat16}, {"int64", torch::kInt64}, {"int32", torch::kInt32},
          {"int16", torch::kInt16}, {"int8", torch::kInt8}, {"uint8", torch::kUInt8}, {"bool", torch::kBool}};
      void* data = const_cast<char*>(t.storage.data()) + t.offset * t.itemsize;
      const torch::Tensor v = torch::from_blob(data, t.shape, t.stride, torch::TensorOptions().dtype(kTypes.at(t.dtype)))
                                  .to(torch::kFloat64)
                                  .contiguous();
      out[name] = {{"dtype", t.dtype},
                   {"shape", t.shape},
                   {"values", std::vector<double>(v.data_ptr<double>(), v.data_ptr<double>() + v.numel())}};
    }
  } catch (const saediff::Error& e) {
    out = {{"error", e.what()}};
  }
  std::cout << out.dump() << "\n";
  return 0;
}
