#pragma once
// Encode stage: plan (run_encode composes plan, dispatch, read, assemble, reduce, evidence): what there is to encode.
// Rank 0 reads the responses and what an earlier, interrupted run of the same --out left in the spool; every
// rank learns the sets. Rank 0 then packs every document (not only the pending ones) into batches of about
// --batch-tokens, longest first, and the batches into the chunks it hands out. A batch runs through the reader as
// one packed forward pass and a document's values depend, in their last bits, on what it was packed with:
// batches made from the whole corpus alone are the same on any number of ranks and after a resume, and so are
// the files. A batch only partly in the spool is encoded whole again; only its missing documents are written.
#include <cstdint>
#include <string>
#include <vector>

#include "app/encode.h"
#include "io/encoded_h5.h"
#include "io/responses.h"
#include "model/llama.h"
#include "text/tokenizer.h"

namespace saediff {

// Where one document's spool record is: the file, the record, and its sizes (kWireFields int64 on the wire).
struct SpoolEntry {
  int64_t doc = 0;
  int64_t file = -1;
  int64_t offset = 0;
  int64_t bytes = 0;
  DocSizes sizes;
};
constexpr size_t kWireFields = 8;
void entry_to_wire(const SpoolEntry& e, std::vector<int64_t>& out);
SpoolEntry entry_from_wire(const int64_t* w);

// The most tokens read per document: --max-doc-tokens, else the model's max_position_embeddings (0: no cap).
int64_t doc_token_cap(const EncodeConfig& config, const LlamaConfig& model);

// The set holding global document `doc` (sets are contiguous, in order).
size_t set_of(const std::vector<SetLayout>& sets, int64_t doc);
// "set/prompt id" of a spool key, for messages.
std::string key_name(const std::string& key);

class EncodePlan {
 public:
  // Collective. Reads the responses (refusing a set name that cannot name a set) and scans the spool (rank 0),
  // checking an existing one against the run's fingerprint; nothing is created.
  static EncodePlan make(const EncodeConfig& config, const std::string& tokenizer_path, const std::string& spool_dir);
  // Rank 0 (a no-op elsewhere): creates the spool folder and its manifest where there are none; before the
  // first chunk is handed out, after everything that can refuse the run.
  void open_spool() const;
  // Rank 0 (a no-op elsewhere): the batches of the corpus and the chunks of the batches that hold pending documents.
  // Batches hold about min(batch_tokens, max(corpus tokens / 64, kMinBatchTokens)) tokens.
  static constexpr int64_t kMinBatchTokens = 4096;
  void make_batches(int64_t batch_tokens, int64_t chunk_tokens, int n_rank);
  // Collective: the documents longer than `cap` tokens (0: none), found on rank 0 by tokenizing only those whose
  // text could be that long, into every rank's sets (cut_doc_ids, cut_doc_tokens). Before make_batches, which
  // then estimates them at `cap`.
  void find_cut_documents(const Tokenizer& tokenizer, int64_t cap);
  size_t n_chunks() const { return chunks_.size(); }
  // Rank 0: chunk c as the dispatcher sends it (per batch, per document: index, set, hash, whether to write its
  // record, key, text).
  std::string chunk_message(size_t c) const;

  // Every rank.
  std::vector<SetLayout> sets;
  int64_t n_doc = 0, n_failed = 0, n_resumed = 0;
  std::string tokenizer_sha256;  // rank 0 (broadcast by the assemble stage)
  // Rank 0: per document its record where one exists, the spool files of earlier runs, and the text bytes left.
  std::vector<SpoolEntry> stored;
  std::vector<std::string> old_files;
  int64_t pending_bytes = 0;

 private:
  struct Doc {
    size_t record;  // into outcomes_
    int32_t set;
    uint64_t hash;  // spool::key_hash of (set, prompt id) and the response
  };
  std::string spool_dir_, fingerprint_;  // rank 0
  int64_t cap_ = 0;                      // tokens read per document, at most (0: no cap)
  std::vector<size_t> cut_;              // rank 0: the documents longer than cap_
  std::vector<ResponseRecord> outcomes_;
  std::vector<Doc> docs_;  // every document to encode, in global order
  std::vector<std::vector<size_t>> batches_;  // document indices per batch
  std::vector<std::vector<size_t>> chunks_;   // batch indices per chunk
  void read_corpus(const std::string& responses);
  void scan_spool(const std::string& spool_dir);
};

}  // namespace saediff
