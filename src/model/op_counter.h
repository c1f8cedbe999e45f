#pragma once
// Counts the ATen operations dispatched while a counter lives: a global RecordFunction callback on every
// operator call, on any thread. count() is the operations saediff itself calls (views and host-side tensor ops
// included): the ones at the top of a thread's operator stack. nested() adds the calls operators make
// internally (a CPU bmm selects each matrix of the batch, for instance; on CUDA the same bmm is one kernel).
// For benchmarks and tests of how much work a batch queues; one counter at a time.
#include <ATen/record_function.h>

#include <cstdint>
#include <map>
#include <string>

namespace saediff {

class OpCounter {
 public:
  // With `by_name`, also counts per operator name (slower: a lock per operation).
  explicit OpCounter(bool by_name = false);
  ~OpCounter();
  OpCounter(const OpCounter&) = delete;
  OpCounter& operator=(const OpCounter&) = delete;

  int64_t count() const;   // top-level operations since construction or the last reset()
  int64_t nested() const;  // every operation, nested calls included
  void reset();
  std::map<std::string, int64_t> by_name() const;  // empty unless constructed with by_name
  std::string most_frequent(size_t n) const;       // "aten::mm 12, aten::add 8, ..." of by_name()

 private:
  at::CallbackHandle handle_ = 0;
};

}  // namespace saediff
