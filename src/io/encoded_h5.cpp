#include "io/encoded_h5.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <utility>

#include "dist/mpi.h"
#include "io/hdf5.h"

namespace saediff {
namespace {

using h5::Handle;

struct Range {
  hsize_t offset;
  hsize_t length;
};

// Creates a 1-D dataset of `total` elements and writes this rank's `ranges` of it from `buf`
// (the ranges' elements concatenated in ascending offset order). Collective.
void write_ranges(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, hsize_t total,
                  const std::vector<Range>& ranges, const void* buf, hid_t dxpl) {
  const hsize_t dims[1] = {total};
  Handle file_space(H5_CHECK(H5Screate_simple(1, dims, nullptr)));
  Handle ds(H5_CHECK(H5Dcreate2(loc, name.c_str(), file_type, file_space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  if (total == 0) return;
  hsize_t n_mine = 0;
  H5_CHECK(H5Sselect_none(file_space));
  for (const Range& r : ranges) {
    if (r.length == 0) continue;
    const hsize_t start[1] = {r.offset}, count[1] = {r.length};
    H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_OR, start, nullptr, count, nullptr));
    n_mine += r.length;
  }
  const hsize_t mem_dims[1] = {std::max<hsize_t>(n_mine, 1)};
  Handle mem_space(H5_CHECK(H5Screate_simple(1, mem_dims, nullptr)));
  if (n_mine == 0) H5_CHECK(H5Sselect_none(mem_space));
  H5_CHECK(H5Dwrite(ds, mem_type, mem_space, file_space, dxpl, buf));
}

// Fixed-length UTF-8 strings, written by rank 0 only (the others select nothing). Collective.
void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values, int rank, hid_t dxpl) {
  size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  std::vector<char> buf(std::max<size_t>(values.size(), 1) * width, '\0');
  for (size_t i = 0; i < values.size(); ++i) std::memcpy(buf.data() + i * width, values[i].data(), values[i].size());
  Handle type(H5_CHECK(H5Tcopy(H5T_C_S1)));
  H5_CHECK(H5Tset_size(type, width));
  H5_CHECK(H5Tset_strpad(type, H5T_STR_NULLPAD));
  H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8));
  std::vector<Range> ranges;
  if (rank == 0) ranges.push_back({0, values.size()});
  write_ranges(loc, name, type, type, values.size(), ranges, buf.data(), dxpl);
}

template <typename T>
void write_root_array(hid_t loc, const std::string& name, hid_t type, const std::vector<T>& values, int rank,
                      hid_t dxpl) {
  std::vector<Range> ranges;
  if (rank == 0) ranges.push_back({0, values.size()});
  write_ranges(loc, name, type, type, values.size(), ranges, values.data(), dxpl);
}

void write_attrs(hid_t obj, const EncodedAttrs& attrs) {
  for (const auto& [k, v] : attrs.text) h5::write_attr(obj, k, v);
  for (const auto& [k, v] : attrs.integer) h5::write_attr(obj, k, v);
  h5::write_attr(obj, "threshold", attrs.threshold);
}

void check_csr(const CsrMatrix& m, size_t n_row, int64_t d_sae, const std::string& where) {
  SAEDIFF_CHECK(m.indptr.size() == n_row + 1, where, ": indptr has ", m.indptr.size(), " entries, expected ", n_row + 1);
  SAEDIFF_CHECK(m.indptr.front() == 0 && m.indptr.back() == static_cast<int64_t>(m.indices.size()),
                where, ": indptr does not span indices");
  SAEDIFF_CHECK(m.values.size() == m.indices.size(), where, ": values and indices differ in length");
  for (size_t r = 0; r < n_row; ++r) {
    SAEDIFF_CHECK(m.indptr[r] <= m.indptr[r + 1], where, ": indptr decreases at row ", r);
    for (int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      const int32_t f = m.indices[static_cast<size_t>(k)];
      SAEDIFF_CHECK(f >= 0 && f < d_sae, where, ": feature ", f, " out of range [0, ", d_sae, ")");
      SAEDIFF_CHECK(k == m.indptr[r] || m.indices[static_cast<size_t>(k - 1)] < f, where,
                    ": indices not ascending in row ", r);
    }
  }
}

}  // namespace

void write_encoded_h5(const std::string& path, MPI_Comm comm, const std::vector<SetLayout>& sets,
                      const std::vector<PooledDoc>& mine, const EncodedAttrs& attrs, int64_t d_sae) {
  h5::disable_hdf5_error_printing();
  const int rank = mpi::comm_rank(comm);

  // Every rank learns every document's sizes: (doc_index, n_token, n_pooled, nnz) quadruples.
  std::vector<int64_t> my_sizes;
  for (const PooledDoc& d : mine) {
    SAEDIFF_CHECK(d.feature.size() == d.max.size() && d.max.size() == d.sum.size() && d.sum.size() == d.count.size(),
                  "pooled document ", d.doc_index, " has arrays of different lengths");
    my_sizes.insert(my_sizes.end(), {d.doc_index, d.n_token, d.n_pooled, static_cast<int64_t>(d.feature.size())});
  }
  const std::vector<int64_t> all_sizes = mpi::allgatherv(my_sizes, comm);
  int64_t n_doc = 0;
  for (const SetLayout& s : sets) n_doc += static_cast<int64_t>(s.doc_ids.size());
  std::vector<int64_t> n_token(static_cast<size_t>(n_doc), -1), n_pooled(static_cast<size_t>(n_doc), 0),
      nnz(static_cast<size_t>(n_doc), 0);
  for (size_t i = 0; i + 3 < all_sizes.size(); i += 4) {
    const int64_t g = all_sizes[i];
    SAEDIFF_CHECK(g >= 0 && g < n_doc, "document index ", g, " out of range");
    SAEDIFF_CHECK(n_token[static_cast<size_t>(g)] < 0, "document ", g, " was encoded twice");
    n_token[static_cast<size_t>(g)] = all_sizes[i + 1];
    n_pooled[static_cast<size_t>(g)] = all_sizes[i + 2];
    nnz[static_cast<size_t>(g)] = all_sizes[i + 3];
  }
  for (int64_t g = 0; g < n_doc; ++g) SAEDIFF_CHECK(n_token[static_cast<size_t>(g)] >= 0, "document ", g, " was never encoded");

  std::vector<const PooledDoc*> ordered;
  for (const PooledDoc& d : mine) ordered.push_back(&d);
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->doc_index < b->doc_index; });

  const std::string tmp_path = path + ".tmp";
  Handle fapl(H5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  H5_CHECK(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  Handle dxpl(H5_CHECK(H5Pcreate(H5P_DATASET_XFER)));
  H5_CHECK(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  {
    Handle file(H5_CHECK(H5Fcreate(tmp_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl)));
    write_attrs(file, attrs);
    h5::write_attr(file, "d_sae", d_sae);
    Handle root(H5_CHECK(H5Gcreate2(file, "sets", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
    std::vector<std::string> names;
    for (const SetLayout& s : sets) names.push_back(s.name);
    h5::write_attr(root, "names", names);

    for (const SetLayout& s : sets) {
      const auto n_row = static_cast<int64_t>(s.doc_ids.size());
      SAEDIFF_CHECK(static_cast<int64_t>(s.active_docs.size()) == d_sae, "set '", s.name, "' has ", s.active_docs.size(),
                    " active counts, expected ", d_sae);
      Handle group(H5_CHECK(H5Gcreate2(root, s.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
      h5::write_attr(group, "n_docs", n_row);
      h5::write_attr(group, "n_failed", static_cast<int64_t>(s.failed_doc_ids.size()));
      write_strings(group, "doc_id", s.doc_ids, rank, dxpl);
      write_strings(group, "failed_doc_id", s.failed_doc_ids, rank, dxpl);
      h5::write_attr(group, "n_truncated", static_cast<int64_t>(s.truncated_doc_ids.size()));
      write_strings(group, "truncated_doc_id", s.truncated_doc_ids, rank, dxpl);
      const auto first = static_cast<size_t>(s.first_doc);
      const std::vector<int64_t> set_tokens(n_token.begin() + static_cast<ptrdiff_t>(first),
                                            n_token.begin() + static_cast<ptrdiff_t>(first + static_cast<size_t>(n_row)));
      const std::vector<int64_t> set_pooled(n_pooled.begin() + static_cast<ptrdiff_t>(first),
                                            n_pooled.begin() + static_cast<ptrdiff_t>(first + static_cast<size_t>(n_row)));
      write_root_array(group, "n_tokens", H5T_NATIVE_INT64, set_tokens, rank, dxpl);
      write_root_array(group, "n_pooled", H5T_NATIVE_INT64, set_pooled, rank, dxpl);
      write_root_array(group, "active_docs", H5T_NATIVE_INT64, s.active_docs, rank, dxpl);
      Handle active(H5_CHECK(H5Dopen2(group, "active_docs", H5P_DEFAULT)));
      h5::write_attr(active, "threshold", attrs.threshold);

      std::vector<int64_t> indptr(static_cast<size_t>(n_row) + 1, 0);
      for (int64_t r = 0; r < n_row; ++r) indptr[static_cast<size_t>(r) + 1] = indptr[static_cast<size_t>(r)] + nnz[first + static_cast<size_t>(r)];
      const auto total = static_cast<hsize_t>(indptr.back());

      // This rank's rows of this set, concatenated in row order.
      std::vector<Range> ranges;
      std::vector<int32_t> idx;
      std::vector<float> v_max, v_sum, v_count;
      for (const PooledDoc* d : ordered) {
        const int64_t r = d->doc_index - s.first_doc;
        if (r < 0 || r >= n_row) continue;
        ranges.push_back({static_cast<hsize_t>(indptr[static_cast<size_t>(r)]), d->feature.size()});
        idx.insert(idx.end(), d->feature.begin(), d->feature.end());
        v_max.insert(v_max.end(), d->max.begin(), d->max.end());
        v_sum.insert(v_sum.end(), d->sum.begin(), d->sum.end());
        v_count.insert(v_count.end(), d->count.begin(), d->count.end());
      }
      const std::pair<const char*, const std::vector<float>*> groups[] = {{"max", &v_max}, {"sum", &v_sum}, {"count", &v_count}};
      for (const auto& [gname, values] : groups) {
        Handle g(H5_CHECK(H5Gcreate2(group, gname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
        write_root_array(g, "indptr", H5T_NATIVE_INT64, indptr, rank, dxpl);
        write_ranges(g, "indices", H5T_STD_I32LE, H5T_NATIVE_INT32, total, ranges, idx.data(), dxpl);
        write_ranges(g, "values", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, total, ranges, values->data(), dxpl);
      }
    }
  }
  mpi::barrier(comm);
  if (rank == 0) {
    SAEDIFF_CHECK(std::rename(tmp_path.c_str(), path.c_str()) == 0, "cannot rename ", tmp_path, " to ", path);
  }
  mpi::barrier(comm);
}

const EncodedSet& EncodedFile::set(const std::string& name) const {
  std::string known;
  for (const EncodedSet& s : sets) {
    if (s.name == name) return s;
    known += (known.empty() ? "" : ", ") + s.name;
  }
  SAEDIFF_FAIL("set '", name, "' is not in the encoded file; it has: ", known);
}

EncodedFile read_encoded_h5(const std::string& path) {
  h5::disable_hdf5_error_printing();
  SAEDIFF_CHECK(H5Fis_hdf5(path.c_str()) > 0, "'", path, "' is not an HDF5 file (or cannot be read)");
  Handle file(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)));
  EncodedFile out;
  out.d_sae = h5::read_attr_int(file, "d_sae");
  out.attrs.threshold = h5::read_attr_double(file, "threshold");
  for (const char* key : {"model", "sae", "pooling", "dtype", "config", "version", "commit", "tokenizer"}) {
    if (h5::has_attr(file, key)) out.attrs.text[key] = h5::read_attr_string(file, key);
  }
  for (const char* key : {"layer", "d_model", "n_rank"}) {
    if (h5::has_attr(file, key)) out.attrs.integer[key] = h5::read_attr_int(file, key);
  }
  SAEDIFF_CHECK(h5::exists(file, "/sets"), "'", path, "' has no /sets group: not a saediff encoded file");
  Handle root(H5_CHECK(H5Gopen2(file, "/sets", H5P_DEFAULT)));
  for (const std::string& name : h5::read_attr_strings(root, "names")) {
    EncodedSet s;
    s.name = name;
    const std::string base = "/sets/" + name + "/";
    s.doc_ids = h5::read_strings(file, base + "doc_id");
    s.failed_doc_ids = h5::read_strings(file, base + "failed_doc_id");
    if (h5::exists(file, base + "truncated_doc_id")) s.truncated_doc_ids = h5::read_strings(file, base + "truncated_doc_id");
    s.n_tokens = h5::read_int64(file, base + "n_tokens");
    s.n_pooled = h5::read_int64(file, base + "n_pooled");
    s.active_docs = h5::read_int64(file, base + "active_docs");
    {
      Handle ds(H5_CHECK(H5Dopen2(file, (base + "active_docs").c_str(), H5P_DEFAULT)));
      s.active_threshold = h5::read_attr_double(ds, "threshold");
    }
    SAEDIFF_CHECK(s.n_tokens.size() == s.doc_ids.size(), base, "n_tokens and doc_id differ in length");
    for (auto [gname, m] : {std::pair{"max", &s.max}, std::pair{"sum", &s.sum}, std::pair{"count", &s.count}}) {
      m->indptr = h5::read_int64(file, base + gname + "/indptr");
      m->indices = h5::read_int32(file, base + gname + "/indices");
      m->values = h5::read_float(file, base + gname + "/values");
      check_csr(*m, s.doc_ids.size(), out.d_sae, path + ":" + base + gname);
    }
    out.sets.push_back(std::move(s));
  }
  return out;
}

}  // namespace saediff
