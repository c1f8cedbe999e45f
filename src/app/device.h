#pragma once
// Device, dtype and thread settings for the libtorch stages (encode, forward).
#include <torch/torch.h>

#include <string>

namespace saediff {

torch::Dtype parse_dtype(const std::string& name);    // float32 | bfloat16
torch::Device select_device(const std::string& name);  // cpu | cuda (GPU = local rank % visible GPUs)
// libtorch starts single-threaded in some builds: always set the count. 0: node cores / ranks on node.
void set_torch_threads(int threads);

}  // namespace saediff
