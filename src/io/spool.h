#pragma once
// The encode spool: every rank appends each finished document to its own record file under OUT.h5.parts/,
// flushed to disk (fdatasync) at the end of every chunk. A killed job leaves these records behind; the next run
// with the same --out reads them back and encodes only the documents that have none. The final encoded.h5
// is assembled from the records, so its contents do not depend on which rank or run encoded a document.
//
// A record: a 32-byte header (magic "SDR1", CRC-32 of the payload, payload bytes, key hash) and the payload
// (the document's key, token ids, pool range, pooled features, pooled text, token ends and per-token top-k).
// A torn or corrupt record ends the file's usable part: records are only ever appended.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/pooled_doc.h"

namespace saediff::spool {

// A document's identity across runs: its set, its prompt id and its response text.
std::string doc_key(std::string_view set, std::string_view doc_id);
uint64_t key_hash(std::string_view key, std::string_view text);

struct Record {
  uint64_t hash = 0;          // key_hash(key, response text)
  std::string key;            // doc_key(set, doc_id)
  std::vector<int32_t> ids;   // every token the reader saw (template included)
  int32_t pool_begin = 0;     // pooled range of ids
  int32_t pool_end = 0;
  PooledDoc doc;              // pooled features, text, token ids/ends, top-k (doc_index is not stored)
};

std::string encode_record(const Record& r);  // header + payload
// Decodes a whole record (header included); throws saediff::Error naming `where` if it is damaged.
Record decode_record(std::string_view bytes, const std::string& where);

// Where a record lies.
struct Location {
  int32_t file = 0;    // index into the spool's file list
  int64_t offset = 0;  // of the header
  int64_t bytes = 0;   // header + payload
};

// Appends records to one file. sync() makes everything appended so far durable.
class Writer {
 public:
  explicit Writer(std::string path);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  // Returns the offset and size of the record in this file.
  std::pair<int64_t, int64_t> append(const Record& r);
  void sync();
  const std::string& path() const { return path_; }
  int64_t bytes() const { return size_; }

 private:
  void flush();  // writes what is pending (no fdatasync)
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
  std::string pending_;
};

// The intact records of one file, in order: (hash, key, offset, bytes). Stops at the first torn or damaged
// record and says so in `problem` (empty when the whole file is intact).
struct ScannedRecord {
  uint64_t hash;
  std::string key;
  int64_t offset;
  int64_t bytes;
  DocSizes sizes;  // doc_index -1: a record does not know its place in this run
};
std::vector<ScannedRecord> scan_file(const std::string& path, std::string& problem);

// Reads one record back (pread), checking its CRC.
Record read_record(const std::string& path, int64_t offset, int64_t bytes);

// Reads records back from a set of files, keeping each open once read from (one descriptor per file, not one
// open per record: on a parallel file system opens are the expensive part).
class RecordReader {
 public:
  explicit RecordReader(std::vector<std::string> files);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;
  Record read(size_t file, int64_t offset, int64_t bytes);

 private:
  std::vector<std::string> files_;
  std::vector<int> fds_;  // -1 until first used
};

// The spool folder of an output file: OUT.parts. `fingerprint` (JSON text) says what the records were made
// with; check_dir checks that an existing manifest matches (true) or that there is no folder or only an empty one
// (false), and throws naming the first difference otherwise (the records stay untouched); open_dir checks, then
// creates the folder and its manifest where there is none. Encode checks before any work and opens the folder
// only once the model has loaded, so that a run refused before it leaves no folder behind.
std::string dir_for(const std::string& out);
bool check_dir(const std::string& dir, const std::string& fingerprint);
void open_dir(const std::string& dir, const std::string& fingerprint);
std::vector<std::string> list_files(const std::string& dir);  // *.spool, sorted by name

}  // namespace saediff::spool
