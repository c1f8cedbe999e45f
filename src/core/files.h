#pragma once
// File output that never leaves a half-written file under the final name.
#include <string>

namespace saediff {

// Writes `data` to PATH.tmp, then renames it to PATH. Throws saediff::Error on any failure.
void write_file_atomic(const std::string& path, const std::string& data);

// The SHA-256 of a file's bytes, as 64 lowercase hex digits (OpenSSL).
std::string sha256_file(const std::string& path);

}  // namespace saediff
