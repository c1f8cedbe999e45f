#pragma once
// encoded.h5: pooled SAE features per document, one group per set (layout in README "encoded.h5").
//   /sets/<set>/doc_id          [N]      strings (the prompt ids)
//   /sets/<set>/n_tokens        [N]      int64: tokens the reader saw (template included)
//   /sets/<set>/n_pooled        [N]      int64: tokens pooled (--pool content: the response's own)
//   /sets/<set>/{max,sum,count}/{indptr [N+1] int64, indices [nnz] int32, values [nnz] float32}
//   /sets/<set>/active_docs     [d_sae]  int64: documents whose max > attr `threshold` (reduced across ranks)
//   /sets/<set>/failed_doc_id   [n]      strings: responses that failed to collect (never encoded)
//   /sets/<set>/truncated_doc_id [n]     strings: encoded responses cut by max_tokens (finish_reason "length")
//   /sets/<set>/category        [N]      strings: the prompt's category
//   /sets/<set>/prompt/{indptr [N+1] int64, utf8 [bytes] uint8}   ragged UTF-8: the prompt of each document
//   /sets/<set>/text/{indptr [N+1] int64, utf8 [bytes] uint8}     ragged UTF-8: the pooled tokens' bytes
//   /sets/<set>/tokens/{indptr [N+1] int64, id [T] int32, end [T] int64,
//                       topk_feature [T, K] int32, topk_value [T, K] float32}   per pooled token: its id,
//        its end byte in the document's text row, and its K strongest features (-1 / 0 in unused slots);
//        attribute k (topk_* absent when k = 0)
//   /sets/<set>/evidence/{row [E] int64, feature [E] int32, indptr [E+1] int64, values [V] float32}   exact
//        per-token activations of the top-diff features in their strongest documents: entry e is feature[e] in
//        document row[e], its values[indptr[e]:indptr[e+1]] one per pooled token; entries sorted by (row, feature)
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/pooled_doc.h"

namespace saediff {

// Ragged UTF-8 strings: row i is bytes[indptr[i], indptr[i + 1]).
struct RaggedText {
  std::vector<int64_t> indptr{0};
  std::string bytes;
  void push_back(std::string_view s) {
    bytes.append(s);
    indptr.push_back(static_cast<int64_t>(bytes.size()));
  }
  std::string_view row(size_t i) const {
    return std::string_view(bytes).substr(static_cast<size_t>(indptr[i]), static_cast<size_t>(indptr[i + 1] - indptr[i]));
  }
  size_t size() const { return indptr.size() - 1; }
};

// Per pooled token of every document of a set (empty when the file has no token rows).
struct TokenRows {
  int64_t k = 0;                      // features kept per token
  std::vector<int64_t> indptr;        // [N + 1] token rows per document (= cumulative n_pooled)
  std::vector<int32_t> id;            // [T] token ids
  std::vector<int64_t> end;           // [T] end byte of the token within its document's text row
  std::vector<int32_t> topk_feature;  // [T * k]
  std::vector<float> topk_value;      // [T * k]
  bool empty() const { return indptr.empty(); }
};

// Exact per-token activations of selected (document, feature) pairs (empty in older files).
struct EvidenceRows {
  std::vector<int64_t> row;      // [E] sorted by (row, feature)
  std::vector<int32_t> feature;  // [E]
  std::vector<int64_t> indptr;   // [E + 1] into values
  std::vector<float> values;     // one per pooled token of the entry's document
  // The values of `feature` in document `row`, or nullptr when the file has none; n receives their count.
  const float* find(int64_t r, int32_t f, int64_t& n) const;
};

struct SetLayout {
  std::string name;
  int64_t first_doc = 0;                     // global index of this set's first document
  int64_t n_docs = 0;                        // N: documents encoded (every rank)
  std::vector<std::string> doc_ids;          // [N] in row order (rank 0)
  std::vector<std::string> failed_doc_ids;   // responses that failed to collect
  std::vector<std::string> truncated_doc_ids;  // encoded, but cut by max_tokens (finish_reason "length")
  std::vector<std::string> cut_doc_ids;      // encoded, but longer than --max-doc-tokens: read up to it (every rank)
  std::vector<int64_t> cut_doc_tokens;       // their whole length in tokens
  std::vector<int64_t> active_docs;          // [d_sae] reduced counts (same on every rank)
  std::vector<std::string> categories;       // [N] the prompt's category (rank 0)
  std::string model_id;                      // the provider's model id the set was collected from
  std::string collected_first, collected_last;  // ISO 8601 range of the set's collected_at
  RaggedText prompts;                        // [N] the prompt of each document (rank 0)
  // Every rank: the evidence entries (row, feature), sorted; their values come from the owners' PooledDoc.
  std::vector<int64_t> evidence_row;
  std::vector<int32_t> evidence_feature;
};

struct EncodedAttrs {
  std::map<std::string, std::string> text;  // model, sae, pooling, dtype, config, version, ...
  std::map<std::string, int64_t> integer;   // layer, d_sae, d_model, n_rank, token_topk, ...
  double threshold = 0.5;                   // the threshold of active_docs
};

// One rank's documents for the writer, loaded one at a time so that memory stays bounded.
class DocSource {
 public:
  virtual ~DocSource() = default;
  virtual std::vector<DocSizes> sizes() const = 0;  // ascending doc_index
  virtual PooledDoc load(size_t i) = 0;              // the i-th document of sizes()
};

// A DocSource over documents already in memory (any order).
class MemoryDocSource : public DocSource {
 public:
  explicit MemoryDocSource(const std::vector<PooledDoc>& docs);
  std::vector<DocSizes> sizes() const override;
  PooledDoc load(size_t i) override;

 private:
  std::vector<const PooledDoc*> ordered_;
};

// The exact per-token values of one document's evidence entries, held by whichever rank computed them:
// values[e * n_pooled + t] for the document's e-th entry (in the set's (row, feature) order), token t.
struct EvidenceValues {
  int64_t doc_index = 0;
  std::vector<float> values;
};

// Writes encoded.h5 with parallel HDF5 (MPI-IO, collective transfers) into PATH.tmp and renames it to PATH
// on commit(), so a failed run never leaves a partial file under the final name. Every call is collective
// over `comm`; every rank passes the same `sets` (counts and evidence entries), rank 0 also their strings.
class EncodedWriter {
 public:
  EncodedWriter(std::string path, MPI_Comm comm, const std::vector<SetLayout>& sets, const EncodedAttrs& attrs,
                int64_t d_sae);
  ~EncodedWriter();
  EncodedWriter(const EncodedWriter&) = delete;
  EncodedWriter& operator=(const EncodedWriter&) = delete;
  // Every per-document dataset. Each rank writes the documents of its `source` (every document exactly once
  // over all ranks), in rounds of at most `round_bytes` of row data; `visit` sees each one as it is written.
  void write_documents(DocSource& source, const std::function<void(const PooledDoc&)>& visit = {},
                       int64_t round_bytes = int64_t{64} << 20);
  // /sets/<set>/evidence, for the entries in `sets` (evidence_row, evidence_feature); after write_documents.
  void write_evidence(const std::vector<SetLayout>& sets, const std::vector<EvidenceValues>& mine);
  void write_attr(const std::string& name, const std::string& value);  // a file attribute, same on every rank
  void commit();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// All of the above for documents in memory: evidence values from each PooledDoc's evidence_values.
void write_encoded_h5(const std::string& path, MPI_Comm comm, const std::vector<SetLayout>& sets,
                      const std::vector<PooledDoc>& mine, const EncodedAttrs& attrs, int64_t d_sae);

struct CsrMatrix {
  std::vector<int64_t> indptr;   // [N + 1]
  std::vector<int32_t> indices;  // [nnz]
  std::vector<float> values;     // [nnz]
};

struct EncodedSet {
  std::string name;
  std::vector<std::string> doc_ids;
  std::vector<int64_t> n_tokens;
  std::vector<int64_t> n_pooled;
  CsrMatrix max, sum, count;
  std::vector<int64_t> active_docs;  // [d_sae]
  double active_threshold = 0.0;
  std::vector<std::string> failed_doc_ids;
  std::vector<std::string> truncated_doc_ids;  // empty in files written before it existed
  std::vector<std::string> cut_doc_ids;        // longer than encode's --max-doc-tokens: read up to it (ditto)
  std::vector<int64_t> cut_doc_tokens;         // their whole length in tokens
  // Empty in files written before they existed:
  std::string model_id, collected_first, collected_last;
  std::vector<std::string> categories;
  RaggedText prompts, texts;
  TokenRows tokens;
  EvidenceRows evidence;
};

struct EncodedFile {
  std::vector<EncodedSet> sets;
  EncodedAttrs attrs;
  int64_t d_sae = 0;
  const EncodedSet& set(const std::string& name) const;  // throws, listing the sets, if absent
};

// Serial read of the whole file, validating the CSR structure.
EncodedFile read_encoded_h5(const std::string& path);

// The documents `rows` (ascending row numbers) of `set` as a set of their own: every per-document field,
// token row and evidence entry, renumbered; active_docs and the failed/truncated/cut lists are left empty
// (recount with active_counts). interpret's discovery part, for instance.
EncodedSet select_rows(const EncodedSet& set, const std::vector<size_t>& rows);

// A 64-bit hash (hex) of a set's name, document ids, pooled lengths and pooled max rows: what findings made from
// an encoded file record, so that a report made from other data does not show them.
std::string set_fingerprint(const EncodedSet& set);

}  // namespace saediff
