#include "app/encode_read.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

#include "app/encode_plan.h"
#include "core/error.h"
#include "core/log.h"
#include "core/timer.h"
#include "dist/mpi.h"
#include "text/chat_template.h"

namespace saediff {

struct ChunkReader::Batch {
  struct Item {
    spool::Record rec;
    std::string text;
    int64_t g = 0;
    int32_t set = 0;
    bool write = false;
    int64_t n_token = 0;
  };
  std::vector<Item> items;
  std::vector<int32_t> packed;   // every document's ids, end to end
  std::vector<int64_t> lengths;  // tokens per document
};

struct ChunkReader::Finished {
  std::vector<int64_t> entries;  // kWireFields per written document
  int64_t docs = 0, tokens = 0, bytes = 0;
};

ChunkReader::ChunkReader(const EncodeConfig& config, const LlamaModel& model, const Sae& sae, const Tokenizer& tokenizer,
                         PoolScope scope, int64_t n_set, torch::Device device, std::string spool_dir)
    : config_(config),
      model_(model),
      sae_(sae),
      tokenizer_(tokenizer),
      scope_(scope),
      device_(device),
      spool_dir_(std::move(spool_dir)),
      counts_(torch::zeros({n_set, sae.d_sae()}, torch::TensorOptions().dtype(torch::kLong).device(device))) {}

ChunkReader::~ChunkReader() = default;

// The next batch of a chunk message, as sent: no tokenizing yet.
ChunkReader::Batch ChunkReader::prepare(ByteReader& in) const {
  Batch b;
  b.items.resize(in.get<uint64_t>());
  for (Batch::Item& it : b.items) {
    it.g = in.get<int64_t>();
    it.set = in.get<int32_t>();
    it.rec.hash = in.get<uint64_t>();
    it.write = in.get<uint8_t>() != 0;
    it.rec.key = in.get_string();
    it.text = in.get_string();
  }
  return b;
}

// Host work before the device: the chat template, tokens, pooled ranges, and the packed ids.
ChunkReader::Batch ChunkReader::tokenize(Batch b) const {
  const int64_t cap = doc_token_cap(config_, model_.config());
  // A test hook: SAEDIFF_TEST_FAIL_DOC=ID makes the rank that reads document ID fail there, as a fault on one rank
  // in the middle of a run would (tests/integration/encode_failures.py checks that every rank stops, fast).
  static const char* const fail_doc = std::getenv("SAEDIFF_TEST_FAIL_DOC");
  for (Batch::Item& it : b.items) {
    SAEDIFF_CHECK(fail_doc == nullptr || key_name(it.rec.key) != fail_doc, "document '", key_name(it.rec.key),
                  "': the fault SAEDIFF_TEST_FAIL_DOC asked for");
    TemplatedDoc td = tokenize_document(tokenizer_, it.text, ChatTemplate::llama3);
    // A document longer than the cap is read up to it (rank 0 listed it as cut when it planned the batches).
    if (cap > 0 && static_cast<int64_t>(td.ids.size()) > cap) {
      td.ids.resize(static_cast<size_t>(cap));
      td.content_end = std::min<int32_t>(td.content_end, static_cast<int32_t>(cap));
    }
    it.n_token = static_cast<int64_t>(td.ids.size());
    it.rec.pool_begin = scope_ == PoolScope::content ? td.content_begin : 0;
    it.rec.pool_end = scope_ == PoolScope::content ? td.content_end : static_cast<int32_t>(it.n_token);
    b.packed.insert(b.packed.end(), td.ids.begin(), td.ids.end());
    b.lengths.push_back(it.n_token);
    it.rec.ids = std::move(td.ids);
  }
  return b;
}

// Host work after the device: each written document's sparse rows, text and token ends, appended to the spool.
ChunkReader::Finished ChunkReader::finish(Batch b, HostBatch host) {
  std::vector<PooledDoc> pooled = finish_host(host);
  Finished done;
  const int rank = mpi::comm_rank();
  for (size_t i = 0; i < b.items.size(); ++i) {
    Batch::Item& it = b.items[i];
    if (!it.write) continue;
    spool::Record& rec = it.rec;
    rec.doc = std::move(pooled[i]);
    // The pooled tokens' bytes are the document's text row; each token's end byte locates it there.
    for (int32_t t = rec.pool_begin; t < rec.pool_end; ++t) {
      const int32_t id = rec.ids[static_cast<size_t>(t)];
      rec.doc.text += tokenizer_.token_bytes(id);
      rec.doc.token_id.push_back(id);
      rec.doc.token_end.push_back(static_cast<int64_t>(rec.doc.text.size()));
    }
    const auto [offset, bytes] = writer_->append(rec);
    entry_to_wire({it.g, rank, offset, bytes,
                   {it.g, it.n_token, rec.doc.n_pooled, static_cast<int64_t>(rec.doc.feature.size()),
                    static_cast<int64_t>(rec.doc.text.size())}},
                  done.entries);
    ++done.docs;
    done.tokens += it.n_token;
    done.bytes += static_cast<int64_t>(it.text.size());
  }
  return done;
}

void ChunkReader::process(const std::string& message, WorkProgress& progress, const std::function<void()>& poll) {
  if (!writer_) {
    const auto stamp = std::chrono::system_clock::now().time_since_epoch().count();
    writer_ = std::make_unique<spool::Writer>(
        (std::filesystem::path(spool_dir_) / cat("r", mpi::comm_rank(), "-", stamp, "-", ::getpid(), ".spool")).string());
  }
  ByteReader in(message, "a chunk message");
  torch::NoGradGuard no_grad;
  const auto n_batch = in.get<uint64_t>();
  std::vector<Batch> raw;
  for (uint64_t b = 0; b < n_batch; ++b) raw.push_back(prepare(in));
  std::vector<int64_t> entries;  // this chunk's record places
  const auto take = [&](Finished done) {
    entries.insert(entries.end(), done.entries.begin(), done.entries.end());
    progress.docs += done.docs;
    progress.tokens += done.tokens;
    progress.bytes += done.bytes;
  };
  // The pipeline: `next` tokenizes batch b + 1 and `finishing` finishes batch b - 1 while batch b runs here.
  // Futures of std::async wait for their task when destroyed, so an exception leaves no task running.
  std::future<Batch> next;
  std::future<Finished> finishing;
  if (n_batch > 0) next = std::async(std::launch::async, [this, b = std::move(raw[0])]() mutable { return tokenize(std::move(b)); });
  for (uint64_t b = 0; b < n_batch; ++b) {
    Batch batch = next.get();
    if (b + 1 < n_batch) {
      next = std::async(std::launch::async, [this, r = std::move(raw[b + 1])]() mutable { return tokenize(std::move(r)); });
    }
    const Timer batch_timer;
    // The reader over the whole batch at once: one packed forward pass.
    const torch::Tensor x = model_.forward_packed(batch.packed, batch.lengths, LlamaModel::kMaxScoreElements, model_.dtype());
    poll();  // rank 0 answers requests while its batch runs, not only between batches
    // The SAE and pooling of the whole batch, on its pooled tokens only: blocks of rows spanning documents (the
    // dense [tokens, d_sae] activations of one block at a time). Documents already in the spool are pooled too,
    // so that a batch's blocks, and so its values' last bits, are the same after a resume; only the others are
    // counted and written.
    std::vector<PoolRange> ranges;
    int64_t row = 0;
    for (size_t i = 0; i < batch.items.size(); ++i) {
      const Batch::Item& it = batch.items[i];
      ranges.push_back({row, batch.lengths[i], it.rec.pool_begin, it.rec.pool_end, it.g});
      row += batch.lengths[i];
    }
    PendingBatch pending = pool_batch(sae_, x, std::move(ranges), config_.token_topk);
    std::vector<int64_t> counted_rows, counted_sets;  // rows of pending.max to count, and their sets
    for (size_t i = 0; i < batch.items.size(); ++i) {
      if (!batch.items[i].write || pending.pooled_row[i] < 0) continue;
      counted_rows.push_back(pending.pooled_row[i]);
      counted_sets.push_back(batch.items[i].set);
    }
    if (!counted_rows.empty()) {
      torch::Tensor max = pending.max;
      if (static_cast<int64_t>(counted_rows.size()) < max.size(0)) {
        max = max.index_select(0, torch::tensor(counted_rows, torch::kLong).to(device_));
      }
      // Compared in double, as the host does for resumed documents and diff does when it checks the counts.
      counts_.index_add_(0, torch::tensor(counted_sets, torch::kLong).to(device_),
                         max.to(torch::kDouble).gt(config_.threshold).to(torch::kLong));
    }
    HostBatch host = start_host_copy(std::move(pending));  // queued after this batch's work
    // Progress at least once per batch: a batch longer than the progress interval says so on its own rank (rank
    // 0's line counts a worker's documents only when it asks for its next chunk).
    if (const double s = batch_timer.seconds(); config_.progress_seconds > 0 && s >= config_.progress_seconds) {
      int64_t tokens = 0, longest = 0;
      for (int64_t n : batch.lengths) tokens += n, longest = std::max(longest, n);
      log_info("encode: a batch of ", batch.lengths.size(), " documents, ", tokens, " tokens (the longest ", longest,
               ") took ", s, " s on this rank");
    }
    if (finishing.valid()) take(finishing.get());
    poll();
    finishing = std::async(std::launch::async, [this, bt = std::move(batch), h = std::move(host)]() mutable {
      return finish(std::move(bt), std::move(h));
    });
  }
  if (finishing.valid()) take(finishing.get());
  writer_->sync();
  // The chunk's record places go to a side file, not memory, so that a rank's memory stays flat however many
  // documents it encodes; they are read back once, after the loop.
  std::ofstream index(writer_->path() + ".idx", std::ios::binary | std::ios::app);
  index.write(reinterpret_cast<const char*>(entries.data()), static_cast<std::streamsize>(entries.size() * sizeof(int64_t)));
  index.close();  // flushes: a full disk shows here, not at the end
  SAEDIFF_CHECK(!index.fail(), "cannot write '", writer_->path(), ".idx'");
}

std::string ChunkReader::close() {
  const std::string path = writer_ ? writer_->path() : std::string();
  writer_.reset();
  return path;
}

}  // namespace saediff
