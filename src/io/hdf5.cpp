#include "io/hdf5.h"

#include <mpi.h>

#include <algorithm>
#include <cstring>
#include <exception>

namespace saediff::h5 {

void disable_hdf5_error_printing() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    Handle tmp(std::move(*this));
    id_ = other.id_;
    other.id_ = -1;
  }
  return *this;
}

namespace {

// True while an exception unwinds on one rank of several: closing a file, group or dataset is collective in
// parallel HDF5, and the other ranks are not closing it (they wait in some other collective, or have finished),
// so a close here could hang or pair with the wrong operation. The handle is left open instead: the exception
// reaches the CLI, which aborts every rank.
bool unwinding_in_parallel() {
  if (std::uncaught_exceptions() == 0) return false;
  int initialized = 0, finalized = 0, size = 1;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size > 1;
}

}  // namespace

Handle::~Handle() {
  if (id_ < 0) return;
  const H5I_type_t type = H5Iget_type(id_);
  if ((type == H5I_FILE || type == H5I_GROUP || type == H5I_DATASET) && unwinding_in_parallel()) return;
  switch (type) {
    case H5I_FILE: H5Fclose(id_); break;
    case H5I_GROUP: H5Gclose(id_); break;
    case H5I_DATASET: H5Dclose(id_); break;
    case H5I_DATASPACE: H5Sclose(id_); break;
    case H5I_DATATYPE: H5Tclose(id_); break;
    case H5I_ATTR: H5Aclose(id_); break;
    case H5I_GENPROP_LST: H5Pclose(id_); break;
    default: break;
  }
}

namespace {

Handle string_type(size_t size) {
  Handle type(H5_CHECK(H5Tcopy(H5T_C_S1)));
  H5_CHECK(H5Tset_size(type, std::max<size_t>(size, 1)));
  H5_CHECK(H5Tset_strpad(type, H5T_STR_NULLPAD));
  H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8));
  return type;
}

void write_scalar_attr(hid_t obj, const std::string& name, hid_t type, const void* data) {
  if (H5Aexists(obj, name.c_str()) > 0) H5_CHECK(H5Adelete(obj, name.c_str()));
  Handle space(H5_CHECK(H5Screate(H5S_SCALAR)));
  Handle attr(H5_CHECK(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT)));
  H5_CHECK(H5Awrite(attr, type, data));
}

// Packs strings into one fixed-length buffer (NUL-padded) of width max(len).
std::vector<char> pack_fixed(const std::vector<std::string>& values, size_t* width) {
  *width = 1;
  for (const auto& v : values) *width = std::max(*width, v.size());
  std::vector<char> buf(values.size() * *width, '\0');
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(buf.data() + i * *width, values[i].data(), values[i].size());
  return buf;
}

std::vector<std::string> read_string_array(hid_t obj, hid_t file_type, hid_t space, bool is_attr) {
  const hssize_t n = H5_CHECK(H5Sget_simple_extent_npoints(space));
  std::vector<std::string> out;
  if (n == 0) return out;
  if (H5Tis_variable_str(file_type) > 0) {
    Handle mem(H5_CHECK(H5Tcopy(H5T_C_S1)));
    H5_CHECK(H5Tset_size(mem, H5T_VARIABLE));
    H5_CHECK(H5Tset_cset(mem, H5Tget_cset(file_type)));
    std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
    if (is_attr) H5_CHECK(H5Aread(obj, mem, ptrs.data()));
    else H5_CHECK(H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()));
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs.data());
    return out;
  }
  const size_t width = H5Tget_size(file_type);
  Handle mem(H5_CHECK(H5Tcopy(file_type)));
  std::vector<char> buf(static_cast<size_t>(n) * width);
  if (is_attr) H5_CHECK(H5Aread(obj, mem, buf.data()));
  else H5_CHECK(H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()));
  for (hssize_t i = 0; i < n; ++i) {
    const char* p = buf.data() + static_cast<size_t>(i) * width;
    out.emplace_back(p, strnlen(p, width));
  }
  return out;
}

template <typename T>
T read_scalar_attr(hid_t obj, const std::string& name, hid_t mem_type) {
  SAEDIFF_CHECK(H5Aexists(obj, name.c_str()) > 0, "HDF5 attribute '", name, "' is missing");
  return reading("HDF5 attribute '" + name + "'", [&] {
    Handle attr(H5_CHECK(H5Aopen(obj, name.c_str(), H5P_DEFAULT)));
    T v{};
    H5_CHECK(H5Aread(attr, mem_type, &v));
    return v;
  });
}

// Runs `read`, turning a failed HDF5 call into a message that says what could not be read and why that happens.
template <typename F>
auto reading(const std::string& what, F&& read) {
  try {
    return read();
  } catch (const Error& e) {
    const std::string m = e.what();
    if (m.find(") failed") == std::string::npos) throw;  // already says what is wrong
    throw Error(cat("cannot read ", what, ": the file is corrupt or truncated (", m, ")"));
  }
}

template <typename T>
std::vector<T> read_numeric(hid_t loc, const std::string& path, hid_t mem_type, int ndims = 1) {
  SAEDIFF_CHECK(exists(loc, path), "HDF5 dataset '", path, "' is missing");
  return reading("HDF5 dataset '" + path + "'", [&] {
    Handle ds(H5_CHECK(H5Dopen2(loc, path.c_str(), H5P_DEFAULT)));
    Handle space(H5_CHECK(H5Dget_space(ds)));
    SAEDIFF_CHECK(H5Sget_simple_extent_ndims(space) == ndims, "HDF5 dataset '", path, "' must have ", ndims, " dimension(s)");
    std::vector<T> out(static_cast<size_t>(H5_CHECK(H5Sget_simple_extent_npoints(space))));
    if (!out.empty()) H5_CHECK(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()));
    return out;
  });
}

}  // namespace

void write_attr(hid_t obj, const std::string& name, const std::string& value) {
  Handle type = string_type(value.size());
  std::vector<char> buf(std::max<size_t>(value.size(), 1), '\0');
  std::memcpy(buf.data(), value.data(), value.size());
  write_scalar_attr(obj, name, type, buf.data());
}

void write_attr(hid_t obj, const std::string& name, int64_t value) {
  write_scalar_attr(obj, name, H5T_NATIVE_INT64, &value);
}

void write_attr(hid_t obj, const std::string& name, double value) {
  write_scalar_attr(obj, name, H5T_NATIVE_DOUBLE, &value);
}

void write_attr(hid_t obj, const std::string& name, const std::vector<std::string>& values) {
  if (H5Aexists(obj, name.c_str()) > 0) H5_CHECK(H5Adelete(obj, name.c_str()));
  size_t width = 1;
  const std::vector<char> buf = pack_fixed(values, &width);
  Handle type = string_type(width);
  const hsize_t dims[1] = {values.size()};
  Handle space(H5_CHECK(H5Screate_simple(1, dims, nullptr)));
  Handle attr(H5_CHECK(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT)));
  if (!values.empty()) H5_CHECK(H5Awrite(attr, type, buf.data()));
}

bool has_attr(hid_t obj, const std::string& name) { return H5_CHECK(H5Aexists(obj, name.c_str())) > 0; }

std::string read_attr_string(hid_t obj, const std::string& name) {
  std::vector<std::string> v = read_attr_strings(obj, name);
  SAEDIFF_CHECK(v.size() == 1, "HDF5 attribute '", name, "' is not a single string");
  return v[0];
}

std::vector<std::string> read_attr_strings(hid_t obj, const std::string& name) {
  SAEDIFF_CHECK(has_attr(obj, name), "HDF5 attribute '", name, "' is missing");
  return reading("HDF5 attribute '" + name + "'", [&] {
    Handle attr(H5_CHECK(H5Aopen(obj, name.c_str(), H5P_DEFAULT)));
    Handle type(H5_CHECK(H5Aget_type(attr)));
    Handle space(H5_CHECK(H5Aget_space(attr)));
    return read_string_array(attr, type, space, true);
  });
}

int64_t read_attr_int(hid_t obj, const std::string& name) {
  return read_scalar_attr<int64_t>(obj, name, H5T_NATIVE_INT64);
}

double read_attr_double(hid_t obj, const std::string& name) {
  return read_scalar_attr<double>(obj, name, H5T_NATIVE_DOUBLE);
}

bool exists(hid_t loc, const std::string& path) {
  // Check each prefix: H5Lexists fails (rather than returning false) when an intermediate group is absent.
  size_t pos = 0;
  while (true) {
    pos = path.find('/', pos + 1);
    const std::string prefix = path.substr(0, pos);
    if (!prefix.empty() && prefix != "/" && H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) return true;
  }
}

std::vector<int64_t> read_int64(hid_t loc, const std::string& path) {
  return read_numeric<int64_t>(loc, path, H5T_NATIVE_INT64);
}
std::vector<int32_t> read_int32(hid_t loc, const std::string& path, int ndims) {
  return read_numeric<int32_t>(loc, path, H5T_NATIVE_INT32, ndims);
}
std::vector<float> read_float(hid_t loc, const std::string& path, int ndims) {
  return read_numeric<float>(loc, path, H5T_NATIVE_FLOAT, ndims);
}
std::vector<uint8_t> read_uint8(hid_t loc, const std::string& path) {
  return read_numeric<uint8_t>(loc, path, H5T_NATIVE_UINT8);
}

std::vector<std::string> read_strings(hid_t loc, const std::string& path) {
  SAEDIFF_CHECK(exists(loc, path), "HDF5 dataset '", path, "' is missing");
  return reading("HDF5 dataset '" + path + "'", [&] {
    Handle ds(H5_CHECK(H5Dopen2(loc, path.c_str(), H5P_DEFAULT)));
    Handle type(H5_CHECK(H5Dget_type(ds)));
    Handle space(H5_CHECK(H5Dget_space(ds)));
    return read_string_array(ds, type, space, false);
  });
}

}  // namespace saediff::h5
