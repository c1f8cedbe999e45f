#include "io/encoded_h5.h"

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <utility>

#include "core/hash.h"
#include "dist/mpi.h"
#include "io/hdf5.h"

namespace saediff {
namespace {

using h5::Handle;

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

namespace {

EncodedFile read_contents(hid_t file, const std::string& path) {
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
    if (h5::exists(file, base + "cut_doc_id")) {
      s.cut_doc_ids = h5::read_strings(file, base + "cut_doc_id");
      s.cut_doc_tokens = h5::read_int64(file, base + "cut_doc_tokens");
      SAEDIFF_CHECK(s.cut_doc_tokens.size() == s.cut_doc_ids.size(), base, "cut_doc_id and cut_doc_tokens differ in length");
    }
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

}  // namespace

EncodedFile read_encoded_h5(const std::string& path) {
  h5::disable_hdf5_error_printing();
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  SAEDIFF_CHECK(fs::exists(st), "'", path, "' does not exist");
  SAEDIFF_CHECK(!fs::is_directory(st), "'", path, "' is a folder, not an encoded .h5 file");
  std::FILE* probe = std::fopen(path.c_str(), "rb");
  SAEDIFF_CHECK(probe != nullptr, "'", path, "' cannot be read: ", std::strerror(errno));
  std::fclose(probe);
  const auto size = fs::file_size(path, ec);
  SAEDIFF_CHECK(!ec && size > 0, "'", path, "' is empty");
  SAEDIFF_CHECK(H5Fis_hdf5(path.c_str()) > 0, "'", path, "' is not an HDF5 file (it does not begin with HDF5's signature; ",
                size, " bytes)");
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  SAEDIFF_CHECK(id >= 0, "'", path, "' is an HDF5 file that cannot be opened: truncated or corrupt (", size,
                " bytes). encode writes OUT.tmp and renames it only once complete, so a partial copy or a damaged disk "
                "is the likely cause");
  Handle file(id);
  try {
    return read_contents(file, path);
  } catch (const Error& e) {
    if (std::string(e.what()).find(path) != std::string::npos) throw;
    throw Error(cat("'", path, "': ", e.what()));
  }
}

namespace {

void append_csr_row(const CsrMatrix& from, size_t r, CsrMatrix& to) {
  if (to.indptr.empty()) to.indptr.push_back(0);
  const auto b = static_cast<size_t>(from.indptr[r]), e = static_cast<size_t>(from.indptr[r + 1]);
  to.indices.insert(to.indices.end(), from.indices.begin() + b, from.indices.begin() + e);
  to.values.insert(to.values.end(), from.values.begin() + b, from.values.begin() + e);
  to.indptr.push_back(static_cast<int64_t>(to.indices.size()));
}

}  // namespace

std::string set_fingerprint(const EncodedSet& set) {
  uint64_t h = fnv1a64(set.name);
  const auto mix = [&h](std::string_view bytes) { h = (h ^ fnv1a64(bytes)) * 0x100000001b3ULL; };
  for (const std::string& id : set.doc_ids) mix(id);
  const auto raw = [](const auto& v) {
    return std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0]));
  };
  mix(raw(set.n_pooled));
  mix(raw(set.max.indptr));
  mix(raw(set.max.indices));
  mix(raw(set.max.values));
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

EncodedSet select_rows(const EncodedSet& set, const std::vector<size_t>& rows) {
  EncodedSet out;
  out.name = set.name;
  out.active_threshold = set.active_threshold;
  out.model_id = set.model_id;
  out.collected_first = set.collected_first;
  out.collected_last = set.collected_last;
  out.max.indptr = out.sum.indptr = out.count.indptr = {0};
  const bool has_text = set.texts.size() == set.doc_ids.size(), has_prompts = set.prompts.size() == set.doc_ids.size();
  const bool has_cats = set.categories.size() == set.doc_ids.size();
  if (!set.tokens.empty()) {
    out.tokens.k = set.tokens.k;
    out.tokens.indptr = {0};
  }
  std::vector<int64_t> new_row(set.doc_ids.size(), -1);
  for (size_t i = 0; i < rows.size(); ++i) {
    const size_t r = rows[i];
    SAEDIFF_CHECK(r < set.doc_ids.size() && (i == 0 || r > rows[i - 1]), "select_rows: row ", r,
                  " is out of range or not ascending");
    new_row[r] = static_cast<int64_t>(i);
    out.doc_ids.push_back(set.doc_ids[r]);
    out.n_tokens.push_back(set.n_tokens[r]);
    out.n_pooled.push_back(set.n_pooled[r]);
    append_csr_row(set.max, r, out.max);
    append_csr_row(set.sum, r, out.sum);
    append_csr_row(set.count, r, out.count);
    if (has_cats) out.categories.push_back(set.categories[r]);
    if (has_prompts) out.prompts.push_back(set.prompts.row(r));
    if (has_text) out.texts.push_back(set.texts.row(r));
    if (!set.tokens.empty()) {
      const auto b = static_cast<size_t>(set.tokens.indptr[r]), e = static_cast<size_t>(set.tokens.indptr[r + 1]);
      const auto k = static_cast<size_t>(set.tokens.k);
      out.tokens.id.insert(out.tokens.id.end(), set.tokens.id.begin() + b, set.tokens.id.begin() + e);
      out.tokens.end.insert(out.tokens.end.end(), set.tokens.end.begin() + b, set.tokens.end.begin() + e);
      out.tokens.topk_feature.insert(out.tokens.topk_feature.end(), set.tokens.topk_feature.begin() + b * k,
                                     set.tokens.topk_feature.begin() + e * k);
      out.tokens.topk_value.insert(out.tokens.topk_value.end(), set.tokens.topk_value.begin() + b * k,
                                   set.tokens.topk_value.begin() + e * k);
      out.tokens.indptr.push_back(static_cast<int64_t>(out.tokens.id.size()));
    }
  }
  // Evidence entries stay sorted by (row, feature): rows keep their order.
  out.evidence.indptr = {0};
  for (size_t e = 0; e < set.evidence.row.size(); ++e) {
    const int64_t r = new_row[static_cast<size_t>(set.evidence.row[e])];
    if (r < 0) continue;
    out.evidence.row.push_back(r);
    out.evidence.feature.push_back(set.evidence.feature[e]);
    const auto b = static_cast<size_t>(set.evidence.indptr[e]), en = static_cast<size_t>(set.evidence.indptr[e + 1]);
    out.evidence.values.insert(out.evidence.values.end(), set.evidence.values.begin() + b, set.evidence.values.begin() + en);
    out.evidence.indptr.push_back(static_cast<int64_t>(out.evidence.values.size()));
  }
  if (out.evidence.row.empty()) out.evidence = EvidenceRows{};
  return out;
}

}  // namespace saediff
