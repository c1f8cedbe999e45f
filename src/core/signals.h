#pragma once
// Graceful stop on SIGINT/SIGTERM (Ctrl-C, Slurm's time-limit warning, scancel): while a StopSignals is
// alive the signals only set a flag, which long loops poll to finish what they are writing and return.
// The previous handlers come back when it is destroyed.
namespace saediff {

class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  int caught() const;  // the signal number received (SIGINT or SIGTERM), or 0
};

}  // namespace saediff
