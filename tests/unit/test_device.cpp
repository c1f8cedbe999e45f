// select_device: a CUDA request on a host without a usable GPU is refused with a clear message (runs on every
// CPU host, with a CPU or a CUDA libtorch); on a GPU host the rank binds a device and a tensor lands on it.
#include <gtest/gtest.h>

#include "app/device.h"
#include "core/error.h"

namespace saediff {
namespace {

TEST(Device, CudaWithoutAGpuIsRefusedClearly) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a CUDA device is visible: Device.CudaBindsTheRanksGpu runs instead";
  try {
    select_device("cuda");
    FAIL() << "select_device(\"cuda\") succeeded with no CUDA device";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--device cuda, but this libtorch has no CUDA or no GPU is visible"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(select_device("cpu"), torch::Device(torch::kCPU));
}

TEST(Device, CudaBindsTheRanksGpu) {
  if (!torch::cuda::is_available()) {
    GTEST_SKIP() << "needs a CUDA device, and this host shows none (scripts/gpu_check.sh runs it on a GPU host)";
  }
  const torch::Device d = select_device("cuda");  // one process: local rank 0
  ASSERT_TRUE(d.is_cuda());
  EXPECT_EQ(d.index(), 0);
  const torch::Tensor t = torch::arange(1000, torch::TensorOptions().dtype(torch::kFloat32).device(d));
  EXPECT_EQ(t.sum().item<double>(), 999.0 * 1000.0 / 2.0);
}

}  // namespace
}  // namespace saediff
