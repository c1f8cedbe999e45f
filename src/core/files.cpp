#include "core/files.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/log.h"

namespace saediff {

void write_file_atomic(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    SAEDIFF_CHECK(out, "cannot write '", tmp, "'");
    out << data;
    out.flush();
    SAEDIFF_CHECK(out.good(), "write to '", tmp, "' failed");
  }
  SAEDIFF_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename ", tmp, " to ", path, ": ", std::strerror(errno));
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot read '", path, "'");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  SAEDIFF_CHECK(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1, "SHA-256 is unavailable");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  SAEDIFF_CHECK(in.eof(), "read error in '", path, "'");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &n);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

namespace {

namespace fs = std::filesystem;

// The path without trailing separators ("out/" and "out" are the same output).
fs::path normal(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  if (!p.has_filename() && p.has_parent_path()) p = p.parent_path();
  return p;
}

}  // namespace

void check_output_path(const std::string& path, OutputKind kind, const std::string& option) {
  SAEDIFF_CHECK(!path.empty(), option, " is empty");
  const fs::path p = normal(path);
  std::error_code ec;
  const fs::file_status st = fs::status(p, ec);
  if (fs::exists(st)) {
    SAEDIFF_CHECK(kind != OutputKind::file || !fs::is_directory(st), option, " '", path, "' is a folder; name the file to write, e.g. ",
                  (p / "encoded.h5").string());
    SAEDIFF_CHECK(kind != OutputKind::folder || fs::is_directory(st), option, " '", path,
                  "' exists and is not a folder; name a folder to write into");
    SAEDIFF_CHECK(::access(p.c_str(), W_OK) == 0, option, " '", path, "' cannot be written: ", std::strerror(errno));
    if (kind == OutputKind::file) {
      const fs::path parent = fs::absolute(p).parent_path();
      SAEDIFF_CHECK(::access(parent.c_str(), W_OK | X_OK) == 0, option, " '", path, "': its folder '", parent.string(),
                    "' cannot be written into: ", std::strerror(errno));
    }
    return;
  }
  // The nearest ancestor that exists must be a folder this process can create entries in.
  fs::path up = fs::absolute(p).parent_path();
  while (!fs::exists(up, ec) && up.has_parent_path() && up != up.parent_path()) up = up.parent_path();
  SAEDIFF_CHECK(fs::is_directory(up, ec), option, " '", path, "' cannot be created: '", up.string(), "' is not a folder");
  SAEDIFF_CHECK(::access(up.c_str(), W_OK | X_OK) == 0, option, " '", path, "' cannot be created in '", up.string(), "': ",
                std::strerror(errno));
}

OutputLock::OutputLock(const std::string& output, const std::string& option) : unwinding_(std::uncaught_exceptions()) {
  const fs::path out = fs::absolute(normal(output));
  path_ = out.string() + ".lock";
  // Create the missing folders above the output, remembering which, so that a refused run can remove them.
  std::vector<fs::path> missing;
  for (fs::path up = out.parent_path(); !up.empty() && !fs::exists(up) && up != up.parent_path(); up = up.parent_path()) {
    missing.push_back(up);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    std::error_code ec;
    if (fs::create_directory(*it, ec)) made_.insert(made_.begin(), it->string());
    SAEDIFF_CHECK(!ec, option, " '", output, "': cannot create '", it->string(), "': ", ec.message());
  }
  struct flock lk {};
  lk.l_type = F_WRLCK;
  lk.l_whence = SEEK_SET;
  for (int attempt = 0;; ++attempt) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      const int err = errno;
      release(true);
      SAEDIFF_FAIL(option, " '", output, "': cannot open its lock file '", path_, "': ", std::strerror(err));
    }
    if (::fcntl(fd_, F_OFD_SETLK, &lk) != 0) {
      const int err = errno;
      std::string holder(256, '\0');
      const ssize_t n = ::pread(fd_, holder.data(), holder.size(), 0);
      holder.resize(n > 0 ? static_cast<size_t>(n) : 0);
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
      ::close(fd_);
      fd_ = -1;
      release(true);
      if (err == EAGAIN || err == EACCES) {
        SAEDIFF_FAIL(option, " '", output, "' is being written by another saediff (", holder.empty() ? "holder unknown" : holder,
                     "; lock file ", path_, "): wait for it to finish, or choose another ", option.substr(option.rfind(' ') + 1));
      }
      SAEDIFF_FAIL(option, " '", output, "': cannot lock '", path_, "': ", std::strerror(err),
                   " (a file system without fcntl locks? put the output on one that has them)");
    }
    // The holder before us may have removed the file between our open and our lock: ours must be the one named.
    struct stat a {}, b {};
    if (::fstat(fd_, &a) == 0 && ::stat(path_.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) break;
    ::close(fd_);
    fd_ = -1;
    SAEDIFF_CHECK(attempt < 100, option, " '", output, "': its lock file '", path_, "' keeps changing");
  }
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  const std::string who = cat("pid ", ::getpid(), " on host ", log_context().host, ", since ", when, "\n");
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, who.data(), who.size(), 0) != static_cast<ssize_t>(who.size())) {
    log_warn(path_, ": cannot record this run's pid in the lock file: ", std::strerror(errno));
  }
}

OutputLock::OutputLock(OutputLock&& other) noexcept
    : fd_(other.fd_), unwinding_(other.unwinding_), path_(std::move(other.path_)), made_(std::move(other.made_)) {
  other.fd_ = -1;
  other.made_.clear();
}

OutputLock& OutputLock::operator=(OutputLock&& other) noexcept {
  if (this != &other) {
    release(false);
    fd_ = other.fd_;
    unwinding_ = other.unwinding_;
    path_ = std::move(other.path_);
    made_ = std::move(other.made_);
    other.fd_ = -1;
    other.made_.clear();
  }
  return *this;
}

OutputLock::~OutputLock() { release(std::uncaught_exceptions() > unwinding_); }

void OutputLock::release(bool remove_folders) noexcept {
  if (fd_ >= 0) {
    ::unlink(path_.c_str());  // while still holding the lock: a waiting run then finds a fresh file
    ::close(fd_);
    fd_ = -1;
  }
  // Folders made for the lock go again when the run did not happen (fs::remove takes only empty ones).
  if (remove_folders) {
    for (const std::string& d : made_) {
      std::error_code ec;
      fs::remove(d, ec);
    }
  }
  made_.clear();
}

}  // namespace saediff
