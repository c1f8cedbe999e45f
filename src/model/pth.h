#pragma once
// torch.save files (.pth/.pt: a zip archive holding data.pkl and one entry per storage) read without
// libtorch and without Python: a bounds-checked zip reader (stored entries, zip64) and a restricted
// unpickler that builds only what a tensor state dict needs. It accepts the globals
// collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the
// torch.*Storage types, and refuses every other global by name: a .pth never executes anything.
// No libtorch here, so that the parser can be fuzzed on its own (fuzz/fuzz_pth.cpp).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace saediff {

struct PthTensor {
  std::string dtype;              // float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool
  int64_t itemsize = 0;           // bytes per element
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;    // in elements
  int64_t offset = 0;             // storage offset, in elements
  std::string_view storage;       // the storage's bytes (inside the archive), little-endian
};

// The state dict of a torch.save archive held in `bytes` (which must outlive the result): tensor name ->
// tensor view. Throws saediff::Error naming `where` (the file) and, where it can, the tensor.
std::map<std::string, PthTensor> parse_pth(std::string_view bytes, const std::string& where);

// A read-only memory map of a whole file.
class MappedFile {
 public:
  static MappedFile open(const std::string& path);  // throws saediff::Error
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&&) = delete;
  MappedFile(const MappedFile&) = delete;
  ~MappedFile();
  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  MappedFile() = default;
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace saediff
