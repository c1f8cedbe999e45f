// EncodedWriter: encoded.h5 written collectively with parallel HDF5, documents streamed in bounded rounds.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

#include "dist/mpi.h"
#include "io/encoded_h5.h"
#include "io/hdf5.h"

namespace saediff {
namespace {

using h5::Handle;

struct Range {
  hsize_t offset;
  hsize_t length;
};

// A dataset of `total` rows (1-D, or [total, cols] when cols > 0). Collective.
Handle create_dataset(hid_t loc, const std::string& name, hid_t file_type, hsize_t total, hsize_t cols = 0) {
  const hsize_t dims[2] = {total, cols};
  Handle space(H5_CHECK(H5Screate_simple(cols > 0 ? 2 : 1, dims, nullptr)));
  return Handle(H5_CHECK(H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
}

// Writes this rank's row `ranges` of `ds` from `buf` (the ranges' rows concatenated in ascending order);
// adjacent ranges merge into one hyperslab. Collective: a rank with no rows still takes part.
void write_selection(hid_t ds, hid_t mem_type, const std::vector<Range>& ranges, const void* buf, hid_t dxpl,
                     hsize_t cols = 0) {
  Handle file_space(H5_CHECK(H5Dget_space(ds)));
  hsize_t dims[2] = {0, 0};
  H5_CHECK(H5Sget_simple_extent_dims(file_space, dims, nullptr));
  if (dims[0] == 0 || (cols > 0 && dims[1] == 0)) return;  // an empty dataset: nothing to transfer on any rank
  const hsize_t width = std::max<hsize_t>(cols, 1);
  H5_CHECK(H5Sselect_none(file_space));
  hsize_t n_mine = 0;
  for (size_t i = 0; i < ranges.size();) {
    hsize_t start_row = ranges[i].offset, n = 0;
    while (i < ranges.size() && ranges[i].offset == start_row + n) n += ranges[i++].length;  // merge adjacent
    if (n == 0) continue;
    const hsize_t start[2] = {start_row, 0}, count[2] = {n, cols};
    H5_CHECK(H5Sselect_hyperslab(file_space, H5S_SELECT_OR, start, nullptr, count, nullptr));
    n_mine += n;
  }
  const hsize_t mem_dims[1] = {std::max<hsize_t>(n_mine * width, 1)};
  Handle mem_space(H5_CHECK(H5Screate_simple(1, mem_dims, nullptr)));
  if (n_mine == 0) H5_CHECK(H5Sselect_none(mem_space));
  H5_CHECK(H5Dwrite(ds, mem_type, mem_space, file_space, dxpl, buf));
}

// A dataset written whole by rank 0 (the others select nothing). Collective.
template <typename T>
void write_root_array(hid_t loc, const std::string& name, hid_t type, const std::vector<T>& values, int rank, hid_t dxpl) {
  // Every rank must create the same shape: callers pass vectors of one length on every rank.
  auto n = static_cast<int64_t>(values.size());
  Handle ds = create_dataset(loc, name, type, static_cast<hsize_t>(n));
  std::vector<Range> ranges;
  if (rank == 0) ranges.push_back({0, static_cast<hsize_t>(n)});
  write_selection(ds, type, ranges, values.data(), dxpl);
}

// Fixed-length UTF-8 strings, written by rank 0 (the width and count are broadcast from it). Collective.
void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values, int rank, MPI_Comm comm,
                   hid_t dxpl) {
  int64_t shape[2] = {static_cast<int64_t>(values.size()), 1};
  for (const auto& v : values) shape[1] = std::max<int64_t>(shape[1], static_cast<int64_t>(v.size()));
  MPI_CHECK(MPI_Bcast(shape, 2, MPI_INT64_T, 0, comm));
  const auto width = static_cast<size_t>(shape[1]);
  std::vector<char> buf(rank == 0 ? std::max<size_t>(values.size(), 1) * width : 1, '\0');
  if (rank == 0) {
    for (size_t i = 0; i < values.size(); ++i) std::memcpy(buf.data() + i * width, values[i].data(), values[i].size());
  }
  Handle type(H5_CHECK(H5Tcopy(H5T_C_S1)));
  H5_CHECK(H5Tset_size(type, width));
  H5_CHECK(H5Tset_strpad(type, H5T_STR_NULLPAD));
  H5_CHECK(H5Tset_cset(type, H5T_CSET_UTF8));
  Handle ds = create_dataset(loc, name, type, static_cast<hsize_t>(shape[0]));
  std::vector<Range> ranges;
  if (rank == 0) ranges.push_back({0, static_cast<hsize_t>(shape[0])});
  write_selection(ds, type, ranges, buf.data(), dxpl);
}

// Ragged UTF-8 rows held by rank 0: <name>/indptr [N+1] and <name>/utf8 [bytes]. Collective.
void write_ragged_root(hid_t loc, const std::string& name, const RaggedText& text, int64_t n_row, int rank,
                       MPI_Comm comm, hid_t dxpl) {
  int64_t n_bytes = rank == 0 ? static_cast<int64_t>(text.bytes.size()) : 0;
  MPI_CHECK(MPI_Bcast(&n_bytes, 1, MPI_INT64_T, 0, comm));
  if (rank == 0) SAEDIFF_CHECK(static_cast<int64_t>(text.size()) == n_row, name, ": ", text.size(), " rows, expected ", n_row);
  Handle g(H5_CHECK(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  Handle indptr = create_dataset(g, "indptr", H5T_STD_I64LE, static_cast<hsize_t>(n_row) + 1);
  Handle utf8 = create_dataset(g, "utf8", H5T_STD_U8LE, static_cast<hsize_t>(n_bytes));
  std::vector<Range> rows, bytes;
  if (rank == 0) {
    rows.push_back({0, static_cast<hsize_t>(n_row) + 1});
    bytes.push_back({0, static_cast<hsize_t>(n_bytes)});
  }
  write_selection(indptr, H5T_NATIVE_INT64, rows, text.indptr.data(), dxpl);
  write_selection(utf8, H5T_NATIVE_UINT8, bytes, text.bytes.data(), dxpl);
}

std::vector<int64_t> exclusive_sums(const std::vector<int64_t>& sizes) {
  std::vector<int64_t> out(sizes.size() + 1, 0);
  for (size_t i = 0; i < sizes.size(); ++i) out[i + 1] = out[i] + sizes[i];
  return out;
}

}  // namespace

MemoryDocSource::MemoryDocSource(const std::vector<PooledDoc>& docs) {
  for (const PooledDoc& d : docs) ordered_.push_back(&d);
  std::sort(ordered_.begin(), ordered_.end(), [](auto* a, auto* b) { return a->doc_index < b->doc_index; });
}

std::vector<DocSizes> MemoryDocSource::sizes() const {
  std::vector<DocSizes> out;
  for (const PooledDoc* d : ordered_) {
    out.push_back({d->doc_index, d->n_token, d->n_pooled, static_cast<int64_t>(d->feature.size()),
                   static_cast<int64_t>(d->text.size())});
  }
  return out;
}

PooledDoc MemoryDocSource::load(size_t i) { return *ordered_.at(i); }

struct EncodedWriter::Impl {
  std::string path, tmp_path;
  MPI_Comm comm;
  int rank = 0;
  int64_t d_sae = 0;
  int64_t token_k = 0;
  std::vector<SetLayout> sets;  // names, first_doc, n_docs
  Handle fapl, dxpl, file, root;
  std::vector<Handle> groups;                  // /sets/<set>
  std::vector<std::vector<int64_t>> n_pooled;  // per set, per row: filled by write_documents
  bool committed = false;
};

EncodedWriter::EncodedWriter(std::string path, MPI_Comm comm, const std::vector<SetLayout>& sets,
                             const EncodedAttrs& attrs, int64_t d_sae)
    : impl_(std::make_unique<Impl>()) {
  h5::disable_hdf5_error_printing();
  Impl& m = *impl_;
  m.path = std::move(path);
  m.tmp_path = m.path + ".tmp";
  m.comm = comm;
  m.rank = mpi::comm_rank(comm);
  m.d_sae = d_sae;
  m.sets = sets;
  const auto k_it = attrs.integer.find("token_topk");
  m.token_k = k_it == attrs.integer.end() ? 0 : k_it->second;
  m.fapl = Handle(H5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
  H5_CHECK(H5Pset_fapl_mpio(m.fapl, comm, MPI_INFO_NULL));
  m.dxpl = Handle(H5_CHECK(H5Pcreate(H5P_DATASET_XFER)));
  H5_CHECK(H5Pset_dxpl_mpio(m.dxpl, H5FD_MPIO_COLLECTIVE));
  m.file = Handle(H5_CHECK(H5Fcreate(m.tmp_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, m.fapl)));
  for (const auto& [k, v] : attrs.text) h5::write_attr(m.file, k, v);
  for (const auto& [k, v] : attrs.integer) h5::write_attr(m.file, k, v);
  h5::write_attr(m.file, "threshold", attrs.threshold);
  h5::write_attr(m.file, "d_sae", d_sae);
  m.root = Handle(H5_CHECK(H5Gcreate2(m.file, "sets", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  std::vector<std::string> names;
  for (const SetLayout& s : sets) names.push_back(s.name);
  h5::write_attr(m.root, "names", names);

  // Each set's metadata: rank 0's strings and the reduced counts.
  for (const SetLayout& s : sets) {
    SAEDIFF_CHECK(static_cast<int64_t>(s.active_docs.size()) == d_sae, "set '", s.name, "' has ", s.active_docs.size(),
                  " active counts, expected ", d_sae);
    if (m.rank == 0) {
      SAEDIFF_CHECK(static_cast<int64_t>(s.doc_ids.size()) == s.n_docs && static_cast<int64_t>(s.categories.size()) == s.n_docs,
                    "set '", s.name, "': ", s.doc_ids.size(), " ids and ", s.categories.size(), " categories for ", s.n_docs,
                    " documents");
    }
    Handle group(H5_CHECK(H5Gcreate2(m.root, s.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
    h5::write_attr(group, "n_docs", s.n_docs);
    h5::write_attr(group, "n_failed", static_cast<int64_t>(s.failed_doc_ids.size()));
    h5::write_attr(group, "n_truncated", static_cast<int64_t>(s.truncated_doc_ids.size()));
    h5::write_attr(group, "n_cut", static_cast<int64_t>(s.cut_doc_ids.size()));
    h5::write_attr(group, "model_id", s.model_id);
    h5::write_attr(group, "collected_first", s.collected_first);
    h5::write_attr(group, "collected_last", s.collected_last);
    write_strings(group, "doc_id", s.doc_ids, m.rank, comm, m.dxpl);
    write_strings(group, "failed_doc_id", s.failed_doc_ids, m.rank, comm, m.dxpl);
    write_strings(group, "truncated_doc_id", s.truncated_doc_ids, m.rank, comm, m.dxpl);
    SAEDIFF_CHECK(s.cut_doc_ids.size() == s.cut_doc_tokens.size(), "set '", s.name, "': cut ids and lengths differ");
    write_strings(group, "cut_doc_id", s.cut_doc_ids, m.rank, comm, m.dxpl);
    write_root_array(group, "cut_doc_tokens", H5T_NATIVE_INT64, s.cut_doc_tokens, m.rank, m.dxpl);
    write_strings(group, "category", s.categories, m.rank, comm, m.dxpl);
    write_ragged_root(group, "prompt", s.prompts, s.n_docs, m.rank, comm, m.dxpl);
    write_root_array(group, "active_docs", H5T_NATIVE_INT64, s.active_docs, m.rank, m.dxpl);
    Handle active(H5_CHECK(H5Dopen2(group, "active_docs", H5P_DEFAULT)));
    h5::write_attr(active, "threshold", attrs.threshold);
    m.groups.push_back(std::move(group));
  }
}

EncodedWriter::~EncodedWriter() = default;

void EncodedWriter::write_attr(const std::string& name, const std::string& value) { h5::write_attr(impl_->file, name, value); }

void EncodedWriter::write_documents(DocSource& source, const std::function<void(const PooledDoc&)>& visit,
                                    int64_t round_bytes) {
  Impl& m = *impl_;
  const std::vector<DocSizes> mine = source.sizes();
  // Every rank learns every document's row sizes, to place its own rows.
  std::vector<int64_t> flat;
  flat.reserve(mine.size() * 5);
  for (size_t i = 0; i < mine.size(); ++i) {
    const DocSizes& d = mine[i];
    SAEDIFF_CHECK(i == 0 || mine[i - 1].doc_index < d.doc_index, "documents must come in ascending order");
    flat.insert(flat.end(), {d.doc_index, d.n_token, d.n_pooled, d.nnz, d.text_bytes});
  }
  const std::vector<int64_t> all = mpi::allgatherv(flat, m.comm);
  int64_t n_doc = 0;
  for (const SetLayout& s : m.sets) n_doc += s.n_docs;
  std::vector<int64_t> n_token(static_cast<size_t>(n_doc), -1), n_pooled(static_cast<size_t>(n_doc), 0),
      nnz(static_cast<size_t>(n_doc), 0), text_bytes(static_cast<size_t>(n_doc), 0);
  for (size_t i = 0; i + 4 < all.size(); i += 5) {
    const int64_t g = all[i];
    SAEDIFF_CHECK(g >= 0 && g < n_doc, "document index ", g, " out of range");
    SAEDIFF_CHECK(n_token[static_cast<size_t>(g)] < 0, "document ", g, " was encoded twice");
    n_token[static_cast<size_t>(g)] = all[i + 1];
    n_pooled[static_cast<size_t>(g)] = all[i + 2];
    nnz[static_cast<size_t>(g)] = all[i + 3];
    text_bytes[static_cast<size_t>(g)] = all[i + 4];
  }
  for (int64_t g = 0; g < n_doc; ++g) SAEDIFF_CHECK(n_token[static_cast<size_t>(g)] >= 0, "document ", g, " was never encoded");

  size_t next = 0;  // this rank's next document
  m.n_pooled.clear();
  for (size_t si = 0; si < m.sets.size(); ++si) {
    const SetLayout& s = m.sets[si];
    hid_t group = m.groups[si];
    const auto first = static_cast<size_t>(s.first_doc), n_row = static_cast<size_t>(s.n_docs);
    const auto slice = [&](const std::vector<int64_t>& v) {
      return std::vector<int64_t>(v.begin() + static_cast<ptrdiff_t>(first), v.begin() + static_cast<ptrdiff_t>(first + n_row));
    };
    const std::vector<int64_t> set_tokens = slice(n_token), set_pooled = slice(n_pooled);
    const std::vector<int64_t> csr_ptr = exclusive_sums(slice(nnz)), tok_ptr = exclusive_sums(set_pooled),
                               text_ptr = exclusive_sums(slice(text_bytes));
    m.n_pooled.push_back(set_pooled);
    write_root_array(group, "n_tokens", H5T_NATIVE_INT64, set_tokens, m.rank, m.dxpl);
    write_root_array(group, "n_pooled", H5T_NATIVE_INT64, set_pooled, m.rank, m.dxpl);

    // Every dataset of the set first (creation is collective), then the rows in rounds.
    const char* pooled_names[] = {"max", "sum", "count"};
    Handle indices[3], values[3];
    for (int p = 0; p < 3; ++p) {
      Handle g(H5_CHECK(H5Gcreate2(group, pooled_names[p], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
      write_root_array(g, "indptr", H5T_NATIVE_INT64, csr_ptr, m.rank, m.dxpl);
      indices[p] = create_dataset(g, "indices", H5T_STD_I32LE, static_cast<hsize_t>(csr_ptr.back()));
      values[p] = create_dataset(g, "values", H5T_IEEE_F32LE, static_cast<hsize_t>(csr_ptr.back()));
    }
    Handle text(H5_CHECK(H5Gcreate2(group, "text", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
    write_root_array(text, "indptr", H5T_NATIVE_INT64, text_ptr, m.rank, m.dxpl);
    Handle utf8 = create_dataset(text, "utf8", H5T_STD_U8LE, static_cast<hsize_t>(text_ptr.back()));
    Handle tokens(H5_CHECK(H5Gcreate2(group, "tokens", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
    h5::write_attr(tokens, "k", m.token_k);
    write_root_array(tokens, "indptr", H5T_NATIVE_INT64, tok_ptr, m.rank, m.dxpl);
    const auto n_tok = static_cast<hsize_t>(tok_ptr.back()), k = static_cast<hsize_t>(m.token_k);
    Handle tok_id = create_dataset(tokens, "id", H5T_STD_I32LE, n_tok);
    Handle tok_end = create_dataset(tokens, "end", H5T_STD_I64LE, n_tok);
    Handle topk_f, topk_v;
    if (k > 0) {
      topk_f = create_dataset(tokens, "topk_feature", H5T_STD_I32LE, n_tok, k);
      topk_v = create_dataset(tokens, "topk_value", H5T_IEEE_F32LE, n_tok, k);
    }

    // This rank's documents of this set: a run of `mine` (ascending, and sets are contiguous).
    size_t end = next;
    while (end < mine.size() && mine[end].doc_index < s.first_doc + s.n_docs) ++end;
    SAEDIFF_CHECK(next == end || mine[next].doc_index >= s.first_doc, "documents out of set order");
    // Rounds of at most round_bytes of row data; every rank runs the same number of rounds.
    const auto doc_bytes = [&](const DocSizes& d) {
      return d.nnz * 24 + d.n_pooled * (12 + m.token_k * 8) + d.text_bytes + 64;
    };
    std::vector<size_t> cuts{next};
    int64_t acc = 0;
    for (size_t i = next; i < end; ++i) {
      acc += doc_bytes(mine[i]);
      if (acc >= round_bytes && i + 1 < end) {
        cuts.push_back(i + 1);
        acc = 0;
      }
    }
    cuts.push_back(end);
    int64_t n_round = static_cast<int64_t>(cuts.size()) - 1;
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &n_round, 1, MPI_INT64_T, MPI_MAX, m.comm));
    for (int64_t round = 0; round < n_round; ++round) {
      std::vector<Range> csr_r, tok_r, text_r;
      std::vector<int32_t> idx, tid;
      std::vector<float> vals[3], tv;
      std::vector<int64_t> tend;
      std::vector<int32_t> tf;
      std::string bytes;
      if (static_cast<size_t>(round) + 1 < cuts.size()) {
        for (size_t i = cuts[static_cast<size_t>(round)]; i < cuts[static_cast<size_t>(round) + 1]; ++i) {
          const PooledDoc d = source.load(i);
          const DocSizes& z = mine[i];
          SAEDIFF_CHECK(d.doc_index == z.doc_index && static_cast<int64_t>(d.feature.size()) == z.nnz &&
                            d.n_pooled == z.n_pooled && static_cast<int64_t>(d.text.size()) == z.text_bytes,
                        "document ", z.doc_index, " changed size between sizes() and load()");
          SAEDIFF_CHECK(d.max.size() == d.feature.size() && d.sum.size() == d.feature.size() && d.count.size() == d.feature.size(),
                        "pooled document ", d.doc_index, " has arrays of different lengths");
          SAEDIFF_CHECK(d.token_id.size() == static_cast<size_t>(d.n_pooled) && d.token_end.size() == d.token_id.size(),
                        "document ", d.doc_index, ": ", d.token_id.size(), " token ids for ", d.n_pooled, " pooled tokens");
          SAEDIFF_CHECK(d.topk_feature.size() == static_cast<size_t>(d.n_pooled * m.token_k) && d.topk_value.size() == d.topk_feature.size(),
                        "document ", d.doc_index, ": per-token top-k rows do not match n_pooled x k");
          const auto r = static_cast<size_t>(d.doc_index - s.first_doc);
          csr_r.push_back({static_cast<hsize_t>(csr_ptr[r]), d.feature.size()});
          tok_r.push_back({static_cast<hsize_t>(tok_ptr[r]), static_cast<hsize_t>(d.n_pooled)});
          text_r.push_back({static_cast<hsize_t>(text_ptr[r]), d.text.size()});
          idx.insert(idx.end(), d.feature.begin(), d.feature.end());
          vals[0].insert(vals[0].end(), d.max.begin(), d.max.end());
          vals[1].insert(vals[1].end(), d.sum.begin(), d.sum.end());
          vals[2].insert(vals[2].end(), d.count.begin(), d.count.end());
          tid.insert(tid.end(), d.token_id.begin(), d.token_id.end());
          tend.insert(tend.end(), d.token_end.begin(), d.token_end.end());
          tf.insert(tf.end(), d.topk_feature.begin(), d.topk_feature.end());
          tv.insert(tv.end(), d.topk_value.begin(), d.topk_value.end());
          bytes += d.text;
          if (visit) visit(d);
        }
      }
      for (int p = 0; p < 3; ++p) {
        write_selection(indices[p], H5T_NATIVE_INT32, csr_r, idx.data(), m.dxpl);
        write_selection(values[p], H5T_NATIVE_FLOAT, csr_r, vals[p].data(), m.dxpl);
      }
      write_selection(utf8, H5T_NATIVE_UINT8, text_r, bytes.data(), m.dxpl);
      write_selection(tok_id, H5T_NATIVE_INT32, tok_r, tid.data(), m.dxpl);
      write_selection(tok_end, H5T_NATIVE_INT64, tok_r, tend.data(), m.dxpl);
      if (k > 0) {
        write_selection(topk_f, H5T_NATIVE_INT32, tok_r, tf.data(), m.dxpl, k);
        write_selection(topk_v, H5T_NATIVE_FLOAT, tok_r, tv.data(), m.dxpl, k);
      }
    }
    next = end;
  }
  SAEDIFF_CHECK(next == mine.size(), "documents outside every set");
}

void EncodedWriter::write_evidence(const std::vector<SetLayout>& sets, const std::vector<EvidenceValues>& mine) {
  Impl& m = *impl_;
  SAEDIFF_CHECK(m.n_pooled.size() == m.sets.size() && sets.size() == m.sets.size(), "write_evidence before write_documents");
  std::vector<const EvidenceValues*> ordered;
  for (const EvidenceValues& d : mine) ordered.push_back(&d);
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->doc_index < b->doc_index; });
  for (size_t si = 0; si < sets.size(); ++si) {
    const SetLayout& s = sets[si];
    const std::vector<int64_t>& set_pooled = m.n_pooled[si];
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
    Handle g(H5_CHECK(H5Gcreate2(m.groups[si], "evidence", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
    write_root_array(g, "row", H5T_NATIVE_INT64, s.evidence_row, m.rank, m.dxpl);
    write_root_array(g, "feature", H5T_NATIVE_INT32, s.evidence_feature, m.rank, m.dxpl);
    write_root_array(g, "indptr", H5T_NATIVE_INT64, indptr, m.rank, m.dxpl);
    std::vector<Range> ranges;
    std::vector<float> values;
    for (const EvidenceValues* d : ordered) {
      const int64_t r = d->doc_index - s.first_doc;
      if (r < 0 || r >= s.n_docs) continue;
      const auto first = std::lower_bound(s.evidence_row.begin(), s.evidence_row.end(), r);
      const auto last = std::upper_bound(first, s.evidence_row.end(), r);
      const auto n = static_cast<size_t>(last - first);
      const auto len = static_cast<size_t>(set_pooled[static_cast<size_t>(r)]);
      SAEDIFF_CHECK(d->values.size() == n * len, "document ", d->doc_index, " has ", d->values.size(),
                    " evidence values for ", n, " entries of ", len, " tokens");
      if (n == 0 || len == 0) continue;
      const auto e0 = static_cast<size_t>(first - s.evidence_row.begin());
      ranges.push_back({static_cast<hsize_t>(indptr[e0]), static_cast<hsize_t>(n * len)});
      values.insert(values.end(), d->values.begin(), d->values.end());
    }
    Handle ds = create_dataset(g, "values", H5T_IEEE_F32LE, static_cast<hsize_t>(indptr.back()));
    write_selection(ds, H5T_NATIVE_FLOAT, ranges, values.data(), m.dxpl);
  }
}

void EncodedWriter::commit() {
  Impl& m = *impl_;
  m.groups.clear();
  m.root = Handle();
  m.file = Handle();  // closes the file (collective)
  mpi::barrier(m.comm);
  if (m.rank == 0) {
    SAEDIFF_CHECK(std::rename(m.tmp_path.c_str(), m.path.c_str()) == 0, "cannot rename ", m.tmp_path, " to ", m.path);
  }
  mpi::barrier(m.comm);
  m.committed = true;
}

void write_encoded_h5(const std::string& path, MPI_Comm comm, const std::vector<SetLayout>& sets,
                      const std::vector<PooledDoc>& mine, const EncodedAttrs& attrs, int64_t d_sae) {
  EncodedWriter writer(path, comm, sets, attrs, d_sae);
  MemoryDocSource source(mine);
  writer.write_documents(source);
  std::vector<EvidenceValues> evidence;
  for (const PooledDoc& d : mine) evidence.push_back({d.doc_index, d.evidence_values});
  writer.write_evidence(sets, evidence);
  writer.commit();
}

}  // namespace saediff
