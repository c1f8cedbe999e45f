#include "core/files.h"

#include <cstdio>
#include <fstream>

#include "core/error.h"

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
  SAEDIFF_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename ", tmp, " to ", path);
}

}  // namespace saediff
