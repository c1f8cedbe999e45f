#include "model/safetensors_header.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace saediff {
namespace {

int64_t itemsize_of(const std::string& dtype) {
  static const std::map<std::string, int64_t> kSizes = {{"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I64", 8},
                                                        {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},  {"BOOL", 1}};
  const auto it = kSizes.find(dtype);
  return it == kSizes.end() ? 0 : it->second;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(std::string_view file, const std::string& where) {
  const std::string& path = where;
  SAEDIFF_CHECK(file.size() >= 8, path, ": too short for a safetensors file (", file.size(), " bytes)");
  const auto* bytes = reinterpret_cast<const uint8_t*>(file.data());
  SafetensorsHeader out;
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];  // little-endian u64
  SAEDIFF_CHECK(header_len <= file.size() - 8, path, ": header length ", header_len, " exceeds the file size ",
                file.size());
  SAEDIFF_CHECK(header_len <= (100u << 20), path, ": header of ", header_len, " bytes is implausibly large");
  const std::string header(reinterpret_cast<const char*>(bytes + 8), static_cast<size_t>(header_len));
  const nlohmann::json j = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  SAEDIFF_CHECK(!j.is_discarded() && j.is_object(), path, ": the header is not a JSON object");
  out.data_offset = 8 + header_len;
  const uint64_t data_size = file.size() - 8 - header_len;

  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (const auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      SAEDIFF_CHECK(v.is_object(), path, ": __metadata__ must be an object");
      for (const auto& [k, mv] : v.items()) {
        SAEDIFF_CHECK(mv.is_string(), path, ": __metadata__ value '", k, "' must be a string");
        out.metadata[k] = mv.get<std::string>();
      }
      continue;
    }
    SAEDIFF_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"), path,
                  ": tensor '", name, "' needs dtype, shape and data_offsets");
    SafetensorsEntry e;
    SAEDIFF_CHECK(v["dtype"].is_string(), path, ": tensor '", name, "': dtype must be a string");
    e.dtype = v["dtype"].get<std::string>();
    e.itemsize = itemsize_of(e.dtype);
    SAEDIFF_CHECK(e.itemsize > 0, path, ": tensor '", name, "': unsupported dtype ", v["dtype"].dump());
    SAEDIFF_CHECK(v["shape"].is_array(), path, ": tensor '", name, "': shape must be an array");
    int64_t numel = 1;
    for (const auto& d : v["shape"]) {
      SAEDIFF_CHECK(d.is_number_unsigned(), path, ": tensor '", name, "': shape entries must be non-negative integers");
      const auto n = d.get<uint64_t>();
      SAEDIFF_CHECK(n <= (uint64_t{1} << 40) && (numel == 0 || n <= (uint64_t{1} << 40) / static_cast<uint64_t>(numel)),
                    path, ": tensor '", name, "': shape is implausibly large");
      e.shape.push_back(static_cast<int64_t>(n));
      numel *= static_cast<int64_t>(n);
    }
    const auto& off = v["data_offsets"];
    SAEDIFF_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(), path,
                  ": tensor '", name, "': data_offsets must be two non-negative integers");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    SAEDIFF_CHECK(e.begin <= e.end && e.end <= data_size, path, ": tensor '", name, "': data_offsets [", e.begin, ", ",
                  e.end, ") outside the data area of ", data_size, " bytes");
    SAEDIFF_CHECK(e.end - e.begin == static_cast<uint64_t>(numel * e.itemsize), path, ": tensor '", name, "': ",
                  e.end - e.begin, " bytes do not hold ", numel, " elements of ", e.dtype);
    spans.emplace_back(e.begin, e.end);
    out.entries.emplace(name, std::move(e));
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    SAEDIFF_CHECK(spans[i].first >= spans[i - 1].second || spans[i].first == spans[i].second ||
                      spans[i - 1].first == spans[i - 1].second,
                  path, ": tensors overlap in the data area");
  }
  return out;
}

}  // namespace saediff
