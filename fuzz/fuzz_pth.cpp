// libFuzzer: saediff's torch.save reader (zip + restricted unpickler) on arbitrary bytes.
// Property: it returns tensors whose every element lies inside their storage, or throws saediff::Error.
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "model/pth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& [name, t] : saediff::parse_pth(bytes, "fuzz.pth")) {
      // Touch the last element: ASan reports it if it lies outside the archive.
      int64_t last = t.offset;
      bool empty = false;
      for (size_t i = 0; i < t.shape.size(); ++i) {
        empty = empty || t.shape[i] == 0;
        if (t.shape[i] > 0) last += (t.shape[i] - 1) * t.stride[i];
      }
      if (!empty) {
        const size_t at = static_cast<size_t>(last * t.itemsize + t.itemsize - 1);
        if (at >= t.storage.size()) __builtin_trap();
        volatile char c = t.storage[at];
        (void)c;
      }
    }
  } catch (const saediff::Error&) {
  }
  return 0;
}
