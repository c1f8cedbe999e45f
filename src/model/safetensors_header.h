#pragma once
// The safetensors header, parsed and validated against the file without libtorch (so that it can be
// fuzzed on its own: fuzz/fuzz_safetensors.cpp): 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the data area.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace saediff {

struct SafetensorsEntry {
  std::string dtype;          // F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL
  int64_t itemsize = 0;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data area
};

struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  // where the data area starts in the file
};

// Throws saediff::Error naming `where` and the tensor on a lying length, bad JSON, an unknown dtype, a shape
// whose size the offsets do not hold, offsets outside the data area, or overlapping tensors.
SafetensorsHeader parse_safetensors_header(std::string_view file, const std::string& where);

}  // namespace saediff
