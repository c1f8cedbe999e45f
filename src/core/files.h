#pragma once
// File output that never leaves a half-written file under the final name, checked and locked before the work.
#include <string>
#include <vector>

namespace saediff {

// Writes `data` to PATH.tmp, then renames it to PATH. Throws saediff::Error on any failure.
void write_file_atomic(const std::string& path, const std::string& data);

// The SHA-256 of a file's bytes, as 64 lowercase hex digits (OpenSSL).
std::string sha256_file(const std::string& path);

// What an output is: a file (encode --out) or a folder (collect and diff --out).
enum class OutputKind { file, folder };

// Refuses, before any work, an output that cannot be written: a folder given as a file or a file given as a
// folder, or a path whose nearest existing ancestor is not a folder this process may write into. `option`
// names the flag in messages ("encode --out"). Creates nothing.
void check_output_path(const std::string& path, OutputKind kind, const std::string& option);

// An advisory lock (an open-file-description fcntl lock) on OUTPUT.lock, beside the output, held for a whole
// run so that two writers of the same output never both do the work: a second one is refused at once, naming
// the holder's host, pid and start time. Missing parent folders are created; when the lock is released while
// an exception unwinds (a refused or failed run), the lock file and the folders it created are removed again.
// A lock file left by a killed run holds no lock: the next run takes it over.
class OutputLock {
 public:
  OutputLock() = default;
  OutputLock(const std::string& output, const std::string& option);
  OutputLock(OutputLock&& other) noexcept;
  OutputLock& operator=(OutputLock&& other) noexcept;
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock();
  const std::string& path() const { return path_; }

 private:
  void release(bool remove_folders) noexcept;
  int fd_ = -1;
  int unwinding_ = 0;              // std::uncaught_exceptions() when taken
  std::string path_;
  std::vector<std::string> made_;  // folders created for the lock, innermost first
};

}  // namespace saediff
