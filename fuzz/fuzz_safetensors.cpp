// libFuzzer: the safetensors header parser on arbitrary bytes. Property: every entry it accepts lies
// inside the data area and holds exactly its shape's elements, or it throws saediff::Error.
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "model/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const saediff::SafetensorsHeader h = saediff::parse_safetensors_header(bytes, "fuzz.safetensors");
    for (const auto& [name, e] : h.entries) {
      int64_t numel = 1;
      for (int64_t d : e.shape) numel *= d;
      if (e.end < e.begin || h.data_offset + e.end > size ||
          e.end - e.begin != static_cast<uint64_t>(numel * e.itemsize)) {
        __builtin_trap();
      }
    }
  } catch (const saediff::Error&) {
  }
  return 0;
}
