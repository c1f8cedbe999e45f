#include "collect/progress.h"

#include <unistd.h>

#include <cstdio>

#include "core/log.h"

namespace saediff {
namespace {

std::string duration(double s) {
  if (s < 0 || s > 1e7) return "?";
  const auto t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return cat(t / 3600, "h", (t % 3600) / 60, "m");
  if (t >= 60) return cat(t / 60, "m", t % 60, "s");
  return cat(t, "s");
}

}  // namespace

CollectProgress::CollectProgress(int64_t total, double interval_s)
    : total_(total), interval_s_(interval_s), tty_(::isatty(STDERR_FILENO) == 1) {}

std::string CollectProgress::line() const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const int64_t done = n_ok_ + n_failed_;
  const double rate = elapsed > 0 ? static_cast<double>(n_requests_) / elapsed : 0.0;
  const double pairs_per_s = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = pairs_per_s > 0 ? static_cast<double>(total_ - done) / pairs_per_s : -1.0;
  const int pct = total_ > 0 ? static_cast<int>(100 * done / total_) : 100;
  char rate_text[32];
  std::snprintf(rate_text, sizeof(rate_text), "%.1f", rate);
  return cat(done, "/", total_, " pairs (", pct, "%), ", rate_text, " req/s, ETA ", done == total_ ? "0s" : duration(eta),
             ", ", n_retries_, " retries, ", n_failed_, " failed");
}

void CollectProgress::update(bool force) {
  const auto now = Clock::now();
  const double since = std::chrono::duration<double>(now - last_).count();
  if (tty_) {
    if (!force && since < 0.2) return;
    const int64_t done = n_ok_ + n_failed_;
    constexpr int kWidth = 30;
    const int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
    std::fprintf(stderr, "\r[%s%s] %s\x1b[K", std::string(static_cast<size_t>(filled), '#').c_str(),
                 std::string(static_cast<size_t>(kWidth - filled), '.').c_str(), line().c_str());
    std::fflush(stderr);
  } else {
    if (!force && since < interval_s_) return;
    log_info("collect: ", line());
  }
  last_ = now;
}

void CollectProgress::finish() {
  if (tty_) {
    update(true);
    std::fprintf(stderr, "\n");
  } else {
    log_info("collect: ", line());
  }
}

}  // namespace saediff
