#pragma once
// Rank-prefixed logging to stderr: "[saediff 1/4 host] message".
#include <string>

#include "core/error.h"

namespace saediff {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

struct LogContext {
  int rank = 0;        // this process's rank in MPI_COMM_WORLD
  int n_rank = 1;      // ranks in MPI_COMM_WORLD
  std::string host = "localhost";
  LogLevel level = LogLevel::info;  // from SAEDIFF_LOG_LEVEL (debug|info|warn|error)
};

const LogContext& log_context();
void set_log_context(int rank, int n_rank);  // also reads SAEDIFF_LOG_LEVEL and the host name
void log_message(LogLevel level, const std::string& message);

template <typename... Args>
void log_debug(Args&&... args) {
  if (log_context().level <= LogLevel::debug) log_message(LogLevel::debug, cat(std::forward<Args>(args)...));
}
template <typename... Args>
void log_info(Args&&... args) {
  if (log_context().level <= LogLevel::info) log_message(LogLevel::info, cat(std::forward<Args>(args)...));
}
template <typename... Args>
void log_warn(Args&&... args) {
  log_message(LogLevel::warn, cat(std::forward<Args>(args)...));
}
template <typename... Args>
void log_error(Args&&... args) {
  log_message(LogLevel::error, cat(std::forward<Args>(args)...));
}
// Logs on rank 0 only: for messages every rank would otherwise repeat.
template <typename... Args>
void log_info0(Args&&... args) {
  if (log_context().rank == 0) log_info(std::forward<Args>(args)...);
}
template <typename... Args>
void log_warn0(Args&&... args) {
  if (log_context().rank == 0) log_warn(std::forward<Args>(args)...);
}

}  // namespace saediff
