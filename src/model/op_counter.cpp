#include "model/op_counter.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "core/error.h"

namespace saediff {
namespace {

std::atomic<int64_t> g_ops{0}, g_nested{0};
thread_local int t_depth = 0;  // operators open on this thread
std::atomic<bool> g_active{false};
std::atomic<bool> g_by_name{false};
std::mutex g_names_mutex;
std::map<std::string, int64_t> g_names;

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  g_nested.fetch_add(1, std::memory_order_relaxed);
  if (t_depth++ > 0) return nullptr;
  g_ops.fetch_add(1, std::memory_order_relaxed);
  if (g_by_name.load(std::memory_order_relaxed)) {
    const std::lock_guard<std::mutex> lock(g_names_mutex);
    ++g_names[fn.name()];
  }
  return nullptr;
}

void on_end(const at::RecordFunction&, at::ObserverContext*) { --t_depth; }

}  // namespace

OpCounter::OpCounter(bool by_name) {
  SAEDIFF_CHECK(!g_active.exchange(true), "only one OpCounter may count at a time");
  reset();
  g_by_name = by_name;
  handle_ = at::addGlobalCallback(at::RecordFunctionCallback(on_start, on_end).scopes({at::RecordScope::FUNCTION}));
}

OpCounter::~OpCounter() {
  at::removeCallback(handle_);
  g_by_name = false;
  g_active = false;
}

int64_t OpCounter::count() const { return g_ops.load(); }
int64_t OpCounter::nested() const { return g_nested.load(); }

void OpCounter::reset() {
  g_ops = 0;
  g_nested = 0;
  const std::lock_guard<std::mutex> lock(g_names_mutex);
  g_names.clear();
}

std::map<std::string, int64_t> OpCounter::by_name() const {
  const std::lock_guard<std::mutex> lock(g_names_mutex);
  return g_names;
}

std::string OpCounter::most_frequent(size_t n) const {
  std::vector<std::pair<std::string, int64_t>> v;
  for (const auto& [name, count] : by_name()) v.emplace_back(name, count);
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (size_t i = 0; i < std::min(n, v.size()); ++i) out += (i ? ", " : "") + v[i].first + " " + std::to_string(v[i].second);
  return out;
}

}  // namespace saediff
