#pragma once
// Progress of a collection: a bar redrawn in place on a terminal, or a one-line update every interval
// otherwise (Slurm logs): done/total, requests/s, ETA, retries, failures.
#include <chrono>
#include <cstdint>
#include <string>

namespace saediff {

class CollectProgress {
 public:
  // `total`: pairs to request in this run. `interval_s`: seconds between log lines when not on a terminal.
  CollectProgress(int64_t total, double interval_s);
  void request_done() { ++n_requests_; }  // every HTTP attempt, retried ones included
  void retried() { ++n_retries_; }
  void pair_done(bool ok) { ++(ok ? n_ok_ : n_failed_); }
  void update(bool force = false);  // draws or logs when due
  void finish();                    // the final line

  std::string line() const;  // "120/400 pairs (30%), 3.2 req/s, ETA 1m27s, 4 retries, 1 failed"

 private:
  using Clock = std::chrono::steady_clock;
  int64_t total_, n_ok_ = 0, n_failed_ = 0, n_requests_ = 0, n_retries_ = 0;
  double interval_s_;
  bool tty_;
  Clock::time_point start_ = Clock::now(), last_ = Clock::now();
};

}  // namespace saediff
