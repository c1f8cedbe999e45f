#include "core/signals.h"

#include <csignal>

namespace saediff {
namespace {

volatile std::sig_atomic_t g_caught = 0;
struct sigaction g_old_int, g_old_term;

extern "C" void on_stop_signal(int sig) { g_caught = sig; }

}  // namespace

StopSignals::StopSignals() {
  g_caught = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

int StopSignals::caught() const { return g_caught; }

}  // namespace saediff
