#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/safetensors_header.h"

namespace saediff {
namespace {

struct DtypeInfo {
  const char* name;
  torch::Dtype dtype;
  int64_t itemsize;
};

constexpr DtypeInfo kDtypes[] = {
    {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2}, {"BF16", torch::kBFloat16, 2},
    {"F64", torch::kFloat64, 8}, {"I64", torch::kInt64, 8},   {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const DtypeInfo& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo* dtype_by_torch(torch::Dtype t) {
  for (const DtypeInfo& d : kDtypes)
    if (t == d.dtype) return &d;
  return nullptr;
}

struct Entry {
  const DtypeInfo* dtype = nullptr;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data area
  uint64_t end = 0;
};

}  // namespace

struct SafetensorsFile::Impl {
  std::string path;
  int fd = -1;
  void* map = nullptr;
  size_t size = 0;
  const uint8_t* data = nullptr;  // start of the data area
  std::map<std::string, Entry> entries;
  std::map<std::string, std::string> metadata;
  const Entry& entry(const std::string& name) const {
    auto it = entries.find(name);
    SAEDIFF_CHECK(it != entries.end(), path, ": no tensor '", name, "'");
    return it->second;
  }
  ~Impl() {
    if (map != nullptr && map != MAP_FAILED) munmap(map, size);
    if (fd >= 0) close(fd);
  }
};

SafetensorsFile::SafetensorsFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  SAEDIFF_CHECK(impl->fd >= 0, "cannot open safetensors file '", path, "': ", std::strerror(errno));
  struct stat st {};
  SAEDIFF_CHECK(fstat(impl->fd, &st) == 0, "cannot stat '", path, "'");
  impl->size = static_cast<size_t>(st.st_size);
  SAEDIFF_CHECK(impl->size >= 8, path, ": too short for a safetensors file (", impl->size, " bytes)");
  impl->map = mmap(nullptr, impl->size, PROT_READ, MAP_PRIVATE, impl->fd, 0);
  SAEDIFF_CHECK(impl->map != MAP_FAILED, "cannot mmap '", path, "': ", std::strerror(errno));
  const SafetensorsHeader h = parse_safetensors_header(
      std::string_view(static_cast<const char*>(impl->map), impl->size), path);
  impl->data = static_cast<const uint8_t*>(impl->map) + h.data_offset;
  impl->metadata = h.metadata;
  for (const auto& [name, he] : h.entries) {
    Entry e;
    e.dtype = dtype_by_name(he.dtype);
    SAEDIFF_CHECK(e.dtype != nullptr, path, ": tensor '", name, "': unsupported dtype ", he.dtype);
    e.shape = he.shape;
    e.begin = he.begin;
    e.end = he.end;
    impl->entries.emplace(name, std::move(e));
  }
  return SafetensorsFile(std::move(impl));
}

bool SafetensorsFile::contains(const std::string& name) const { return impl_->entries.count(name) > 0; }

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : impl_->entries) out.push_back(name);
  return out;
}

std::vector<int64_t> SafetensorsFile::shape(const std::string& name) const {
  return impl_->entry(name).shape;
}

torch::Tensor SafetensorsFile::tensor(const std::string& name, torch::Dtype dtype, torch::Device device,
                                      bool* all_finite) const {
  torch::Tensor out = torch::empty(impl_->entry(name).shape, torch::TensorOptions().dtype(dtype).device(device));
  read_into(name, out, all_finite);
  return out;
}

void SafetensorsFile::read_into(const std::string& name, torch::Tensor& out, bool* all_finite) const {
  const Entry& e = impl_->entry(name);
  SAEDIFF_CHECK(out.sizes() == c10::IntArrayRef(e.shape), impl_->path, ": tensor '", name, "' has shape ",
                c10::IntArrayRef(e.shape), ", the destination ", out.sizes());
  const uint8_t* data = impl_->data + e.begin;
  const uint64_t n_bytes = e.end - e.begin;
  // Map the tensor's pages in one call before touching them, rather than with a page fault per 4 KiB.
  // (MADV_POPULATE_READ: Linux 5.14; elsewhere a read-ahead hint.)
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t first = reinterpret_cast<uintptr_t>(data) & ~(page - 1);
  const size_t span = n_bytes + (reinterpret_cast<uintptr_t>(data) - first);
#ifdef MADV_POPULATE_READ
  if (::madvise(reinterpret_cast<void*>(first), span, MADV_POPULATE_READ) != 0)
#endif
    ::madvise(reinterpret_cast<void*>(first), span, MADV_WILLNEED);
  if (all_finite != nullptr) *all_finite = finite_bits(e.dtype->dtype, data, n_bytes);
  // One copy from the mapping: the conversion, or the device copy, writes straight into `out`.
  out.copy_(torch::from_blob(const_cast<uint8_t*>(data), e.shape, torch::TensorOptions().dtype(e.dtype->dtype)));
}

namespace {

// A T with `lane` in every sizeof(T)-byte lane of a 64-bit word.
template <typename T>
constexpr uint64_t replicate(T lane) {
  uint64_t out = 0;
  for (size_t i = 0; i < 8 / sizeof(T); ++i) out |= static_cast<uint64_t>(lane) << (8 * sizeof(T) * i);
  return out;
}

// Every element's exponent field below all ones. T: the unsigned integer of the float's width. Eight bytes at
// a time: a lane of y = (word & mask) ^ mask is zero exactly where an element's exponent is all ones, and
// (y - 1) & ~y & top-bit finds whether any lane is zero (the exponent mask never holds a lane's top bit, the
// sign, so no borrow reaches past a zero lane unnoticed).
template <typename T>
bool exponents_finite(const uint8_t* data, uint64_t n_bytes, T exponent_mask) {
  constexpr uint64_t ones = replicate<T>(1), tops = replicate<T>(static_cast<T>(T{1} << (8 * sizeof(T) - 1)));
  const uint64_t mask = replicate<T>(exponent_mask);
  const uint64_t n_words = n_bytes / 8;
  uint64_t bad = 0;
  for (uint64_t i = 0; i < n_words; ++i) {
    uint64_t word;
    std::memcpy(&word, data + i * 8, 8);  // the mapping need not be aligned
    const uint64_t y = (word & mask) ^ mask;
    bad |= (y - ones) & ~y & tops;
  }
  for (uint64_t i = n_words * 8; i + sizeof(T) <= n_bytes; i += sizeof(T)) {  // the last few elements
    T bits;
    std::memcpy(&bits, data + i, sizeof(T));
    bad |= static_cast<uint64_t>((bits & exponent_mask) == exponent_mask);
  }
  return bad == 0;
}

}  // namespace

bool finite_bits(torch::Dtype dtype, const uint8_t* data, uint64_t n_bytes) {
  // In slices over libtorch's threads; each slice a whole number of 8-byte words, so no element is split.
  const auto scan = [&](auto mask) {
    using T = decltype(mask);
    std::atomic<bool> finite{true};
    const auto n_words = static_cast<int64_t>(n_bytes / 8);
    at::parallel_for(0, n_words, int64_t{1} << 18, [&](int64_t w0, int64_t w1) {
      const uint64_t end = w1 == n_words ? n_bytes : static_cast<uint64_t>(w1) * 8;
      if (!exponents_finite<T>(data + w0 * 8, end - static_cast<uint64_t>(w0) * 8, mask)) finite = false;
    });
    return n_words == 0 ? exponents_finite<T>(data, n_bytes, mask) : finite.load();
  };
  switch (dtype) {
    case torch::kFloat32: return scan(uint32_t{0x7f800000u});
    case torch::kFloat64: return scan(uint64_t{0x7ff0000000000000ull});
    case torch::kFloat16: return scan(uint16_t{0x7c00u});
    case torch::kBFloat16: return scan(uint16_t{0x7f80u});
    default: return true;
  }
}

const std::map<std::string, std::string>& SafetensorsFile::metadata() const { return impl_->metadata; }

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    SAEDIFF_CHECK(name != "__metadata__" && !header.contains(name), "duplicate or reserved tensor name '", name, "'");
    const DtypeInfo* d = dtype_by_torch(t.scalar_type());
    SAEDIFF_CHECK(d != nullptr, "tensor '", name, "': dtype ", t.scalar_type(), " cannot be written to safetensors");
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    const auto bytes = static_cast<uint64_t>(c.numel() * d->itemsize);
    header[name] = {{"dtype", d->name}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(c));
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // align the data area to 8 bytes, as the format recommends
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    SAEDIFF_CHECK(out, "cannot write '", tmp, "'");
    uint64_t n = h.size();
    char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const torch::Tensor& c : data) {
      out.write(static_cast<const char*>(c.data_ptr()), static_cast<std::streamsize>(c.numel() * c.element_size()));
    }
    SAEDIFF_CHECK(out.good(), "write to '", tmp, "' failed");
  }
  SAEDIFF_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename ", tmp, " to ", path);
}

}  // namespace saediff
