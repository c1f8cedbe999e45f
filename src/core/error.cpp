#include "core/error.h"

#include "core/log.h"

namespace saediff {

std::string error_location(const char* file, int line) {
  const LogContext& ctx = log_context();
  return cat(file, ":", line, " (rank ", ctx.rank, " on ", ctx.host, ")");
}

void throw_error(const char* file, int line, const std::string& message) {
  throw Error(cat(message, " [at ", error_location(file, line), "]"));
}

}  // namespace saediff
