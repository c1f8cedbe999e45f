#include "core/log.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string_view>

namespace saediff {
namespace {

LogContext& mutable_context() {
  static LogContext ctx;
  return ctx;
}

LogLevel level_from_env() {
  const char* env = std::getenv("SAEDIFF_LOG_LEVEL");
  if (env == nullptr) return LogLevel::info;
  const std::string_view v(env);
  if (v == "debug") return LogLevel::debug;
  if (v == "warn") return LogLevel::warn;
  if (v == "error") return LogLevel::error;
  return LogLevel::info;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug: ";
    case LogLevel::info: return "";
    case LogLevel::warn: return "warning: ";
    case LogLevel::error: return "error: ";
  }
  return "";
}

}  // namespace

const LogContext& log_context() { return mutable_context(); }

void set_log_context(int rank, int n_rank) {
  LogContext& ctx = mutable_context();
  ctx.rank = rank;
  ctx.n_rank = n_rank;
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) ctx.host = host;
  ctx.level = level_from_env();
}

void log_message(LogLevel level, const std::string& message) {
  static std::mutex mutex;
  const LogContext& ctx = log_context();
  std::lock_guard<std::mutex> lock(mutex);
  std::fprintf(stderr, "[saediff %d/%d %s] %s%s\n", ctx.rank, ctx.n_rank, ctx.host.c_str(), level_name(level),
               message.c_str());
  std::fflush(stderr);
}

}  // namespace saediff
