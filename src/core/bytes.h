#pragma once
// Flat binary messages and records: values appended in host byte order, read back with bounds checks.
// For data that never leaves this program's own processes and files (MPI messages, the encode spool).
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace saediff {

class ByteWriter {
 public:
  template <typename T>
  void put(const T& v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  template <typename T>
  void put_array(const std::vector<T>& v) {
    put(static_cast<uint64_t>(v.size()));
    if (!v.empty()) out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  void put_string(std::string_view s) {
    put(static_cast<uint64_t>(s.size()));
    out_.append(s);
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

class ByteReader {
 public:
  // `where` names the data in error messages.
  ByteReader(std::string_view data, std::string where) : data_(data), where_(std::move(where)) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  template <typename T>
  std::vector<T> get_array() {
    const auto n = get<uint64_t>();
    SAEDIFF_CHECK(n <= (data_.size() - pos_) / sizeof(T), where_, ": an array of ", n, " elements runs past the end");
    std::vector<T> v(static_cast<size_t>(n));
    if (n > 0) std::memcpy(v.data(), data_.data() + pos_, v.size() * sizeof(T));
    pos_ += v.size() * sizeof(T);
    return v;
  }
  std::string get_string() {
    const auto n = get<uint64_t>();
    need(n);
    std::string s(data_.substr(pos_, static_cast<size_t>(n)));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  void need(uint64_t n) const { SAEDIFF_CHECK(n <= data_.size() - pos_, where_, ": ends early"); }
  std::string_view data_;
  std::string where_;
  size_t pos_ = 0;
};

}  // namespace saediff
