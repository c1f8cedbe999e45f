#include "io/spool.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/error.h"
#include "core/files.h"

namespace saediff::spool {
namespace {

constexpr char kMagic[4] = {'S', 'D', 'R', '1'};
constexpr size_t kHeader = 32;  // magic[4], crc32 u32, payload bytes u64, hash u64, reserved u64
constexpr uint64_t kMaxPayload = uint64_t{1} << 36;  // 64 GiB: anything larger is a damaged length field

uint32_t crc32_of(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t done = 0;
  while (done < data.size()) {  // zlib takes uInt lengths
    const auto n = static_cast<uInt>(std::min<size_t>(data.size() - done, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + done), n);
    done += n;
  }
  return static_cast<uint32_t>(crc);
}

struct Header {
  uint32_t crc = 0;
  uint64_t payload = 0;
  uint64_t hash = 0;
};

// Empty string when `bytes` (at least kHeader long) starts with a valid header; else what is wrong.
std::string parse_header(std::string_view bytes, Header& h) {
  if (std::memcmp(bytes.data(), kMagic, 4) != 0) return "bad magic";
  std::memcpy(&h.crc, bytes.data() + 4, 4);
  std::memcpy(&h.payload, bytes.data() + 8, 8);
  std::memcpy(&h.hash, bytes.data() + 16, 8);
  uint64_t reserved = 1;
  std::memcpy(&reserved, bytes.data() + 24, 8);
  if (reserved != 0) return "a reserved header field is not zero";  // another format: its records are not ours
  if (h.payload > kMaxPayload) return "impossible payload length";
  return {};
}

void pread_all(int fd, char* buf, size_t n, int64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + static_cast<int64_t>(done)));
    if (got < 0 && errno == EINTR) continue;
    SAEDIFF_CHECK(got > 0, "cannot read ", n, " bytes at offset ", offset, " of '", path, "': ",
                  got == 0 ? "the file ends first" : std::strerror(errno));
    done += static_cast<size_t>(got);
  }
}

}  // namespace

std::string doc_key(std::string_view set, std::string_view doc_id) {
  std::string k(set);
  k.push_back('\0');
  k.append(doc_id);
  return k;
}

uint64_t key_hash(std::string_view key, std::string_view text) {
  // FNV-1a, 64 bits: stable across builds and machines (std::hash is not).
  uint64_t h = 14695981039346656037ull;
  const auto mix = [&h](std::string_view s) {
    for (const char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
  };
  mix(key);
  mix(std::string_view("\0", 1));
  mix(text);
  return h;
}

std::string encode_record(const Record& r) {
  const PooledDoc& d = r.doc;
  const auto n_pooled = static_cast<size_t>(r.pool_end - r.pool_begin);
  SAEDIFF_CHECK(r.pool_begin >= 0 && r.pool_begin <= r.pool_end && static_cast<size_t>(r.pool_end) <= r.ids.size(),
                "spool record: pool range outside the document");
  SAEDIFF_CHECK(d.token_id.size() == n_pooled && d.token_end.size() == n_pooled, "spool record: token rows do not match");
  ByteWriter w;
  w.put_string(r.key);
  w.put_array(r.ids);
  w.put(r.pool_begin);
  w.put(r.pool_end);
  w.put_array(d.feature);
  w.put_array(d.max);
  w.put_array(d.sum);
  w.put_array(d.count);
  w.put_array(d.token_id);
  w.put_array(d.token_end);
  w.put_string(d.text);
  w.put_array(d.topk_feature);
  w.put_array(d.topk_value);
  const std::string& p = w.str();
  ByteWriter out;
  out.str().reserve(kHeader + p.size());
  out.str().append(kMagic, 4);
  out.put(crc32_of(p));
  out.put(static_cast<uint64_t>(p.size()));
  out.put(r.hash);
  out.put(uint64_t{0});
  out.str() += p;
  return std::move(out.str());
}

Record decode_record(std::string_view bytes, const std::string& where) {
  SAEDIFF_CHECK(bytes.size() >= kHeader, where, ": record shorter than its header");
  Header h;
  const std::string bad = parse_header(bytes, h);
  SAEDIFF_CHECK(bad.empty(), where, ": ", bad);
  SAEDIFF_CHECK(h.payload == bytes.size() - kHeader, where, ": payload length ", h.payload, " does not match the record");
  const std::string_view payload = bytes.substr(kHeader);
  SAEDIFF_CHECK(crc32_of(payload) == h.crc, where, ": CRC mismatch (the record is damaged)");
  ByteReader in(payload, where);
  Record r;
  r.hash = h.hash;
  r.key = in.get_string();
  r.ids = in.get_array<int32_t>();
  r.pool_begin = in.get<int32_t>();
  r.pool_end = in.get<int32_t>();
  PooledDoc& d = r.doc;
  d.feature = in.get_array<int32_t>();
  d.max = in.get_array<float>();
  d.sum = in.get_array<float>();
  d.count = in.get_array<float>();
  d.token_id = in.get_array<int32_t>();
  d.token_end = in.get_array<int64_t>();
  d.text = in.get_string();
  d.topk_feature = in.get_array<int32_t>();
  d.topk_value = in.get_array<float>();
  SAEDIFF_CHECK(in.done(), where, ": trailing bytes after the record's fields");
  SAEDIFF_CHECK(r.pool_begin >= 0 && r.pool_begin <= r.pool_end && static_cast<size_t>(r.pool_end) <= r.ids.size(),
                where, ": pool range [", r.pool_begin, ", ", r.pool_end, ") outside the ", r.ids.size(), " tokens");
  const auto n_pooled = static_cast<size_t>(r.pool_end - r.pool_begin);
  SAEDIFF_CHECK(d.max.size() == d.feature.size() && d.sum.size() == d.feature.size() && d.count.size() == d.feature.size(),
                where, ": pooled arrays differ in length");
  SAEDIFF_CHECK(d.token_id.size() == n_pooled && d.token_end.size() == n_pooled, where, ": token rows do not match ",
                n_pooled, " pooled tokens");
  SAEDIFF_CHECK(d.topk_value.size() == d.topk_feature.size() && (n_pooled == 0 ? d.topk_feature.empty()
                                                                               : d.topk_feature.size() % n_pooled == 0),
                where, ": top-k rows do not match the pooled tokens");
  d.n_token = static_cast<int64_t>(r.ids.size());
  d.n_pooled = static_cast<int64_t>(n_pooled);
  return r;
}

Writer::Writer(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  SAEDIFF_CHECK(fd_ >= 0, "cannot create spool file '", path_, "': ", std::strerror(errno));
}

Writer::~Writer() {
  if (fd_ >= 0) ::close(fd_);
}

std::pair<int64_t, int64_t> Writer::append(const Record& r) {
  const std::string bytes = encode_record(r);
  const int64_t offset = size_ + static_cast<int64_t>(pending_.size());
  pending_ += bytes;
  if (pending_.size() >= (8u << 20)) flush();  // write through in 8 MiB pieces; durability comes with sync()
  return {offset, static_cast<int64_t>(bytes.size())};
}

void Writer::flush() {
  size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    SAEDIFF_CHECK(n > 0, "cannot write spool file '", path_, "': ", std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  size_ += static_cast<int64_t>(pending_.size());
  pending_.clear();
}

void Writer::sync() {
  flush();
  SAEDIFF_CHECK(::fdatasync(fd_) == 0, "fdatasync of '", path_, "' failed: ", std::strerror(errno));
}

std::vector<ScannedRecord> scan_file(const std::string& path, std::string& problem) {
  problem.clear();
  std::vector<ScannedRecord> out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  SAEDIFF_CHECK(fd >= 0, "cannot open spool file '", path, "': ", std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const auto size = static_cast<int64_t>(std::filesystem::file_size(path));
  int64_t offset = 0;
  std::string buf;
  while (offset < size) {
    if (size - offset < static_cast<int64_t>(kHeader)) {
      problem = cat("a torn header at byte ", offset);
      break;
    }
    char head[kHeader];
    pread_all(fd, head, kHeader, offset, path);
    Header h;
    std::string bad = parse_header(std::string_view(head, kHeader), h);
    if (bad.empty() && static_cast<uint64_t>(size - offset) - kHeader < h.payload) bad = "a torn record";
    if (!bad.empty()) {
      problem = cat(bad, " at byte ", offset);
      break;
    }
    const auto bytes = static_cast<int64_t>(kHeader + h.payload);
    buf.resize(static_cast<size_t>(bytes));
    std::memcpy(buf.data(), head, kHeader);
    pread_all(fd, buf.data() + kHeader, static_cast<size_t>(h.payload), offset + static_cast<int64_t>(kHeader), path);
    Record r;
    try {
      r = decode_record(buf, cat(path, " at byte ", offset));
    } catch (const Error& e) {
      problem = cat("a damaged record at byte ", offset, " (", e.what(), ")");
      break;
    }
    out.push_back({h.hash, std::move(r.key), offset, bytes,
                   {-1, r.doc.n_token, r.doc.n_pooled, static_cast<int64_t>(r.doc.feature.size()),
                    static_cast<int64_t>(r.doc.text.size())}});
    offset += bytes;
  }
  return out;
}

Record read_record(const std::string& path, int64_t offset, int64_t bytes) {
  RecordReader reader({path});
  return reader.read(0, offset, bytes);
}

RecordReader::RecordReader(std::vector<std::string> files) : files_(std::move(files)), fds_(files_.size(), -1) {}

RecordReader::~RecordReader() {
  for (int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
}

Record RecordReader::read(size_t file, int64_t offset, int64_t bytes) {
  SAEDIFF_CHECK(file < files_.size(), "spool file ", file, " out of range");
  const std::string& path = files_[file];
  if (fds_[file] < 0) {
    // At most 256 open at once (a resumed job's files can outnumber the descriptor limit): past that, start over.
    if (std::count_if(fds_.begin(), fds_.end(), [](int fd) { return fd >= 0; }) >= 256) {
      for (int& fd : fds_) {
        if (fd >= 0) ::close(fd);
        fd = -1;
      }
    }
    fds_[file] = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    SAEDIFF_CHECK(fds_[file] >= 0, "cannot open spool file '", path, "': ", std::strerror(errno));
  }
  std::string buf(static_cast<size_t>(bytes), '\0');
  pread_all(fds_[file], buf.data(), buf.size(), offset, path);
  return decode_record(buf, cat(path, " at byte ", offset));
}

std::string dir_for(const std::string& out) { return out + ".parts"; }

bool check_dir(const std::string& dir, const std::string& fingerprint) {
  namespace fs = std::filesystem;
  SAEDIFF_CHECK(!fs::exists(dir) || fs::is_directory(dir), "'", dir, "' (encode's record of finished documents) exists ",
                "but is not a folder; move it away, or pass another --out");
  const fs::path manifest = fs::path(dir) / "manifest.json";
  const nlohmann::json want = nlohmann::json::parse(fingerprint);
  if (fs::exists(manifest)) {
    std::ifstream in(manifest);
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json have;
    try {
      have = nlohmann::json::parse(text.str());
    } catch (const std::exception& e) {
      SAEDIFF_FAIL("'", manifest.string(), "' is not valid JSON (", e.what(), "); delete ", dir, " to encode from scratch");
    }
    for (const auto& [k, v] : want.items()) {
      SAEDIFF_CHECK(have.contains(k) && have[k] == v, "'", dir, "' holds documents encoded with different settings: ", k,
                    " was ", have.contains(k) ? have[k].dump() : "absent", ", now ", v.dump(),
                    ". Delete the folder to encode from scratch, or pass another --out");
    }
    return true;
  }
  SAEDIFF_CHECK(list_files(dir).empty(), "'", dir, "' holds spool files but no manifest.json, so what they were encoded with is ",
                "unknown. Delete the folder to encode from scratch, or pass another --out");
  return false;
}

void open_dir(const std::string& dir, const std::string& fingerprint) {
  if (check_dir(dir, fingerprint)) return;
  std::filesystem::create_directories(dir);
  write_file_atomic((std::filesystem::path(dir) / "manifest.json").string(), nlohmann::json::parse(fingerprint).dump(2) + "\n");
}

std::vector<std::string> list_files(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".spool") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace saediff::spool
