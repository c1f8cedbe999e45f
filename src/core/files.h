#pragma once
// File output that never leaves a half-written file under the final name.
#include <string>

namespace saediff {

// Writes `data` to PATH.tmp, then renames it to PATH. Throws saediff::Error on any failure.
void write_file_atomic(const std::string& path, const std::string& data);

}  // namespace saediff
