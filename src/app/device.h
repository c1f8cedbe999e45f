#pragma once
// Device, dtype and thread settings for the libtorch stages (encode, forward).
#include <torch/torch.h>

#include <string>

#include "core/memory.h"

namespace saediff {

torch::Dtype parse_dtype(const std::string& name);    // float32 | bfloat16
// cpu | cuda. On cuda the rank takes GPU local rank % visible GPUs and binds it as the current device once; more
// ranks on the node than visible GPUs are refused unless `share_gpus`.
torch::Device select_device(const std::string& name, bool share_gpus = false);
// libtorch starts single-threaded in some builds: always set the count. 0: node cores / ranks on node.
void set_torch_threads(int threads);
// core/memory's report for the device the stages run on (the GPU's memory only on a CUDA device).
inline std::string memory_report(const torch::Device& device) { return memory_report(device.is_cuda() ? device.index() : -1); }

}  // namespace saediff
