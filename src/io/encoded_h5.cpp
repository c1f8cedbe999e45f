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

// Creates a dataset of `total` rows (1-D, or [total, cols] when cols > 0) and writes this rank's row
// `ranges` of it from `buf` (the ranges' rows concatenated in ascending offset order). Collective.
void write_ranges(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, hsize_t total,
                  const std::vector<Range>& ranges, const void* buf, hid_t dxpl, hsize_t cols = 0) {
  const int rank = cols > 0 ? 2 : 1;
  const hsize_t width = std::max<hsize_t>(cols, 1);
  const hsize_t dims[2] = {total, cols};
  Handle file_space(H5_CHECK(H5Screate_simple(rank, dims, nullptr)));
  Handle ds(H5_CHECK(H5Dcreate2(loc, name.c_str(), file_type, file_space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  if (total == 0 || width == 0) return;
  hsize_t n_mine = 0;
  H5_CHECK(H5Sselect_none(file_space));
  for (const Range& r : ranges) {
    if (r.length == 0) continue;
    const hsize_t start[2] = {r.offset, 0}, count[2] = {r.length, cols};
    H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_OR, start, nullptr, count, nullptr));
    n_mine += r.length;
  }
  const hsize_t mem_dims[1] = {std::max<hsize_t>(n_mine * width, 1)};
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

// Ragged UTF-8 rows held by rank 0: <name>/indptr [N+1] and <name>/utf8 [bytes]. Collective; n_row is
// known to every rank, the byte count is broadcast from rank 0.
void write_ragged_root(hid_t loc, const std::string& name, const RaggedText& text, int64_t n_row, int rank,
                       MPI_Comm comm, hid_t dxpl) {
  int64_t n_bytes = rank == 0 ? static_cast<int64_t>(text.bytes.size()) : 0;
  MPI_CHECK(MPI_Bcast(&n_bytes, 1, MPI_INT64_T, 0, comm));
  if (rank == 0) {
    SAEDIFF_CHECK(static_cast<int64_t>(text.size()) == n_row, name, ": ", text.size(), " rows, expected ", n_row);
  }
  Handle g(H5_CHECK(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  std::vector<Range> ranges;
  if (rank == 0) ranges.push_back({0, static_cast<hsize_t>(n_row) + 1});
  write_ranges(g, "indptr", H5T_STD_I64LE, H5T_NATIVE_INT64, static_cast<hsize_t>(n_row) + 1, ranges, text.indptr.data(), dxpl);
  ranges.clear();
  if (rank == 0) ranges.push_back({0, static_cast<hsize_t>(n_bytes)});
  write_ranges(g, "utf8", H5T_STD_U8LE, H5T_NATIVE_UINT8, static_cast<hsize_t>(n_bytes), ranges, text.bytes.data(), dxpl);
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

// /sets/<set>/evidence: the entries (known to every rank) by rank 0, each document's values by its owner.
void write_evidence(hid_t group, const SetLayout& s, const std::vector<const PooledDoc*>& ordered,
                    const std::vector<int64_t>& set_pooled, int rank, hid_t dxpl) {
  const size_t n_entry = s.evidence_row.size();
  SAEDIFF_CHECK(s.evidence_feature.size() == n_entry, "set '", s.name, "': evidence rows and features differ in length");
  std::vector<int64_t> indptr(n_entry + 1, 0);
  for (size_t e = 0; e < n_entry; ++e) {
    const int64_t r = s.evidence_row[e];
    SAEDIFF_CHECK(r >= 0 && r < static_cast<int64_t>(set_pooled.size()), "evidence row ", r, " out of range");
    SAEDIFF_CHECK(e == 0 || std::pair(s.evidence_row[e - 1], s.evidence_feature[e - 1]) < std::pair(r, s.evidence_feature[e]),
                  "evidence entries not sorted by (row, feature)");
    indptr[e + 1] = indptr[e] + set_pooled[static_cast<size_t>(r)];
  }
  Handle g(H5_CHECK(H5Gcreate2(group, "evidence", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  write_root_array(g, "row", H5T_NATIVE_INT64, s.evidence_row, rank, dxpl);
  write_root_array(g, "feature", H5T_NATIVE_INT32, s.evidence_feature, rank, dxpl);
  write_root_array(g, "indptr", H5T_NATIVE_INT64, indptr, rank, dxpl);
  std::vector<Range> ranges;
  std::vector<float> values;
  for (const PooledDoc* d : ordered) {
    const int64_t r = d->doc_index - s.first_doc;
    if (r < 0 || r >= static_cast<int64_t>(set_pooled.size())) continue;
    const auto first = std::lower_bound(s.evidence_row.begin(), s.evidence_row.end(), r);
    const auto last = std::upper_bound(first, s.evidence_row.end(), r);
    const auto n = static_cast<size_t>(last - first);
    SAEDIFF_CHECK(d->evidence_values.size() == n * static_cast<size_t>(d->n_pooled), "document ", d->doc_index, " has ",
                  d->evidence_values.size(), " evidence values for ", n, " entries of ", d->n_pooled, " tokens");
    if (n == 0 || d->n_pooled == 0) continue;
    const auto e0 = static_cast<size_t>(first - s.evidence_row.begin());
    ranges.push_back({static_cast<hsize_t>(indptr[e0]), static_cast<hsize_t>(n * static_cast<size_t>(d->n_pooled))});
    values.insert(values.end(), d->evidence_values.begin(), d->evidence_values.end());
  }
  write_ranges(g, "values", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, static_cast<hsize_t>(indptr.back()), ranges, values.data(), dxpl);
}

RaggedText read_ragged(hid_t file, const std::string& path, const std::string& name, size_t n_row) {
  RaggedText t;
  t.indptr = h5::read_int64(file, name + "/indptr");
  const std::vector<uint8_t> bytes = h5::read_uint8(file, name + "/utf8");
  t.bytes.assign(bytes.begin(), bytes.end());
  SAEDIFF_CHECK(t.indptr.size() == n_row + 1 && t.indptr.front() == 0 &&
                    t.indptr.back() == static_cast<int64_t>(t.bytes.size()) &&
                    std::is_sorted(t.indptr.begin(), t.indptr.end()),
                path, ":", name, ": indptr does not describe ", n_row, " rows of ", t.bytes.size(), " bytes");
  return t;
}

// The optional per-document datasets: category, prompt, text and tokens (absent in older files).
void read_document_extras(hid_t file, const std::string& path, const std::string& base, int64_t d_sae, EncodedSet& s) {
  const size_t n_row = s.doc_ids.size();
  {
    Handle group(H5_CHECK(H5Gopen2(file, base.c_str(), H5P_DEFAULT)));
    for (auto [key, value] : {std::pair{"model_id", &s.model_id}, std::pair{"collected_first", &s.collected_first},
                              std::pair{"collected_last", &s.collected_last}}) {
      if (h5::has_attr(group, key)) *value = h5::read_attr_string(group, key);
    }
  }
  if (h5::exists(file, base + "category")) {
    s.categories = h5::read_strings(file, base + "category");
    SAEDIFF_CHECK(s.categories.size() == n_row, path, ":", base, "category has ", s.categories.size(), " rows, expected ", n_row);
  }
  if (h5::exists(file, base + "prompt")) s.prompts = read_ragged(file, path, base + "prompt", n_row);
  if (h5::exists(file, base + "text")) s.texts = read_ragged(file, path, base + "text", n_row);
  if (h5::exists(file, base + "evidence")) {
    EvidenceRows& ev = s.evidence;
    const std::string where = path + ":" + base + "evidence";
    ev.row = h5::read_int64(file, base + "evidence/row");
    ev.feature = h5::read_int32(file, base + "evidence/feature");
    ev.indptr = h5::read_int64(file, base + "evidence/indptr");
    ev.values = h5::read_float(file, base + "evidence/values");
    SAEDIFF_CHECK(ev.feature.size() == ev.row.size() && ev.indptr.size() == ev.row.size() + 1 && ev.indptr.front() == 0 &&
                      ev.indptr.back() == static_cast<int64_t>(ev.values.size()),
                  where, ": row, feature, indptr and values disagree");
    for (size_t e = 0; e < ev.row.size(); ++e) {
      const int64_t r = ev.row[e];
      SAEDIFF_CHECK(r >= 0 && static_cast<size_t>(r) < n_row && ev.feature[e] >= 0 && ev.feature[e] < d_sae &&
                        ev.indptr[e + 1] - ev.indptr[e] == s.n_pooled[static_cast<size_t>(r)],
                    where, ": entry ", e, " (row ", r, ", feature ", ev.feature[e], ") is out of range");
      SAEDIFF_CHECK(e == 0 || std::pair(ev.row[e - 1], ev.feature[e - 1]) < std::pair(r, ev.feature[e]), where,
                    ": entries are not sorted by (row, feature)");
    }
  }
  if (!h5::exists(file, base + "tokens")) return;
  const std::string where = path + ":" + base + "tokens";
  TokenRows& t = s.tokens;
  {
    Handle g(H5_CHECK(H5Gopen2(file, (base + "tokens").c_str(), H5P_DEFAULT)));
    t.k = h5::read_attr_int(g, "k");
  }
  t.indptr = h5::read_int64(file, base + "tokens/indptr");
  t.id = h5::read_int32(file, base + "tokens/id");
  t.end = h5::read_int64(file, base + "tokens/end");
  SAEDIFF_CHECK(t.k >= 0 && t.indptr.size() == n_row + 1 && t.indptr.front() == 0 &&
                    t.indptr.back() == static_cast<int64_t>(t.id.size()) && t.end.size() == t.id.size(),
                where, ": indptr, id and end disagree");
  for (size_t r = 0; r < n_row; ++r) {
    SAEDIFF_CHECK(t.indptr[r] <= t.indptr[r + 1] && t.indptr[r + 1] - t.indptr[r] == s.n_pooled[r], where, ": row ", r,
                  " has ", t.indptr[r + 1] - t.indptr[r], " tokens but n_pooled is ", s.n_pooled[r]);
    const int64_t text_len = s.texts.size() == n_row ? s.texts.indptr[r + 1] - s.texts.indptr[r] : 0;
    int64_t prev = 0;
    for (int64_t j = t.indptr[r]; j < t.indptr[r + 1]; ++j) {
      const int64_t e = t.end[static_cast<size_t>(j)];
      SAEDIFF_CHECK(prev <= e && e <= text_len, where, ": token ", j, " ends at byte ", e, " outside its text row");
      prev = e;
    }
  }
  if (t.k > 0) {
    t.topk_feature = h5::read_int32(file, base + "tokens/topk_feature", 2);
    t.topk_value = h5::read_float(file, base + "tokens/topk_value", 2);
    SAEDIFF_CHECK(t.topk_feature.size() == t.id.size() * static_cast<size_t>(t.k) && t.topk_value.size() == t.topk_feature.size(),
                  where, ": topk datasets are not [", t.id.size(), ", ", t.k, "]");
    for (int32_t f : t.topk_feature) SAEDIFF_CHECK(f >= -1 && f < d_sae, where, ": topk feature ", f, " out of range");
  }
}

}  // namespace

void write_encoded_h5(const std::string& path, MPI_Comm comm, const std::vector<SetLayout>& sets,
                      const std::vector<PooledDoc>& mine, const EncodedAttrs& attrs, int64_t d_sae) {
  h5::disable_hdf5_error_printing();
  const int rank = mpi::comm_rank(comm);
  const auto token_k_it = attrs.integer.find("token_topk");
  const int64_t token_k = token_k_it == attrs.integer.end() ? 0 : token_k_it->second;

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

      // Documents' categories, prompts and pooled text (rank 0), and per-token rows.
      write_strings(group, "category", s.categories, rank, dxpl);
      h5::write_attr(group, "model_id", s.model_id);
      h5::write_attr(group, "collected_first", s.collected_first);
      h5::write_attr(group, "collected_last", s.collected_last);
      write_ragged_root(group, "prompt", s.prompts, n_row, rank, comm, dxpl);
      write_ragged_root(group, "text", s.texts, n_row, rank, comm, dxpl);
      Handle tokens(H5_CHECK(H5Gcreate2(group, "tokens", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
      h5::write_attr(tokens, "k", token_k);
      std::vector<int64_t> tok_ptr(static_cast<size_t>(n_row) + 1, 0);
      for (int64_t r = 0; r < n_row; ++r) tok_ptr[static_cast<size_t>(r) + 1] = tok_ptr[static_cast<size_t>(r)] + set_pooled[static_cast<size_t>(r)];
      const auto n_tok = static_cast<hsize_t>(tok_ptr.back());
      write_root_array(tokens, "indptr", H5T_NATIVE_INT64, tok_ptr, rank, dxpl);
      if (rank == 0) {
        SAEDIFF_CHECK(s.token_ids.size() == n_tok && s.token_end.size() == n_tok, "set '", s.name, "': ",
                      s.token_ids.size(), " token ids for ", n_tok, " pooled tokens");
      }
      std::vector<Range> root_rows;
      if (rank == 0) root_rows.push_back({0, n_tok});
      write_ranges(tokens, "id", H5T_STD_I32LE, H5T_NATIVE_INT32, n_tok, root_rows, s.token_ids.data(), dxpl);
      write_ranges(tokens, "end", H5T_STD_I64LE, H5T_NATIVE_INT64, n_tok, root_rows, s.token_end.data(), dxpl);
      write_evidence(group, s, ordered, set_pooled, rank, dxpl);
      if (token_k > 0) {
        std::vector<Range> tok_ranges;
        std::vector<int32_t> tf;
        std::vector<float> tv;
        for (const PooledDoc* d : ordered) {
          const int64_t r = d->doc_index - s.first_doc;
          if (r < 0 || r >= n_row) continue;
          SAEDIFF_CHECK(d->topk_feature.size() == static_cast<size_t>(d->n_pooled * token_k) &&
                            d->topk_value.size() == d->topk_feature.size(),
                        "document ", d->doc_index, ": per-token top-k rows do not match n_pooled x k");
          tok_ranges.push_back({static_cast<hsize_t>(tok_ptr[static_cast<size_t>(r)]), static_cast<hsize_t>(d->n_pooled)});
          tf.insert(tf.end(), d->topk_feature.begin(), d->topk_feature.end());
          tv.insert(tv.end(), d->topk_value.begin(), d->topk_value.end());
        }
        const auto k = static_cast<hsize_t>(token_k);
        write_ranges(tokens, "topk_feature", H5T_STD_I32LE, H5T_NATIVE_INT32, n_tok, tok_ranges, tf.data(), dxpl, k);
        write_ranges(tokens, "topk_value", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, n_tok, tok_ranges, tv.data(), dxpl, k);
      }
    }
  }
  mpi::barrier(comm);
  if (rank == 0) {
    SAEDIFF_CHECK(std::rename(tmp_path.c_str(), path.c_str()) == 0, "cannot rename ", tmp_path, " to ", path);
  }
  mpi::barrier(comm);
}

const float* EvidenceRows::find(int64_t r, int32_t f, int64_t& n) const {
  size_t lo = 0, hi = row.size();
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (std::pair(row[mid], feature[mid]) < std::pair(r, f)) lo = mid + 1;
    else hi = mid;
  }
  if (lo == row.size() || row[lo] != r || feature[lo] != f) return nullptr;
  n = indptr[lo + 1] - indptr[lo];
  return values.data() + indptr[lo];
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
  for (const char* key : {"layer", "d_model", "n_rank", "token_topk"}) {
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
    read_document_extras(file, path, base, out.d_sae, s);
    out.sets.push_back(std::move(s));
  }
  return out;
}

}  // namespace saediff
