#pragma once
// Checked HDF5 calls and owning handles. H5_CHECK throws saediff::Error with the call text,
// file:line, rank and host; HDF5's own error stack printing is turned off by disable_hdf5_error_printing().
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

#define H5_CHECK(call)                                                                       \
  ([&]() {                                                                                   \
    auto h5_check_rc_ = (call);                                                              \
    if (h5_check_rc_ < 0) ::saediff::throw_error(__FILE__, __LINE__, ::saediff::cat(#call, " failed")); \
    return h5_check_rc_;                                                                     \
  }())

namespace saediff::h5 {

void disable_hdf5_error_printing();

// Owns an hid_t and closes it with the matching H5*close.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = -1; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }  // NOLINT: handles pass straight into the C API

 private:
  hid_t id_ = -1;
};

// Attributes on a file, group or dataset. Writing is collective in parallel HDF5: every rank calls it
// with the same value.
void write_attr(hid_t obj, const std::string& name, const std::string& value);
void write_attr(hid_t obj, const std::string& name, int64_t value);
void write_attr(hid_t obj, const std::string& name, double value);
void write_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values);
bool has_attr(hid_t obj, const std::string& name);
std::string read_attr_string(hid_t obj, const std::string& name);
int64_t read_attr_int(hid_t obj, const std::string& name);
double read_attr_double(hid_t obj, const std::string& name);
std::vector<std::string> read_attr_strings(hid_t obj, const std::string& name);

bool exists(hid_t loc, const std::string& path);

// Whole-dataset serial reads, row-major; the dataset must have `ndims` dimensions.
std::vector<int64_t> read_int64(hid_t loc, const std::string& path);
std::vector<int32_t> read_int32(hid_t loc, const std::string& path, int ndims = 1);
std::vector<float> read_float(hid_t loc, const std::string& path, int ndims = 1);
std::vector<uint8_t> read_uint8(hid_t loc, const std::string& path);
std::vector<std::string> read_strings(hid_t loc, const std::string& path);  // fixed or variable length

}  // namespace saediff::h5
