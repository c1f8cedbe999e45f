#include "app/encode.h"
#include "app/device.h"

#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "app/evidence_pass.h"
#include "core/bytes.h"
#include "core/files.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/timer.h"
#include "dist/dispatch.h"
#include "dist/gpu.h"
#include "dist/mpi.h"
#include "dist/reduce.h"
#include "io/encoded_h5.h"
#include "io/hf_cache.h"
#include "io/responses.h"
#include "io/spool.h"
#include "model/llama.h"
#include "model/pooling.h"
#include "model/sae.h"
#include "saediff/version.h"
#include "text/chat_template.h"

namespace saediff {
namespace {

// Rank 0's view of the responses: the sets, and every document to encode in global order (sets contiguous).
struct Corpus {
  std::vector<ResponseRecord> outcomes;
  std::vector<SetLayout> sets;
  struct Doc {
    size_t record;   // into outcomes
    int32_t set;
    uint64_t hash;   // spool::key_hash of (set, prompt id) and the response
  };
  std::vector<Doc> docs;
};

Corpus build_corpus(const std::string& responses) {
  const ReadResponsesResult read = read_responses(responses);
  if (read.torn_tail) log_warn(responses, ": ignoring a torn last line (an interrupted collect)");
  Corpus corpus;
  corpus.outcomes = latest_outcomes(read.records);
  SAEDIFF_CHECK(!corpus.outcomes.empty(), "'", responses, "' has no responses");
  std::vector<std::string> order;  // sets in order of first appearance
  std::map<std::string, std::vector<size_t>> by_set;
  for (size_t i = 0; i < corpus.outcomes.size(); ++i) {
    const ResponseRecord& r = corpus.outcomes[i];
    if (!by_set.count(r.set)) order.push_back(r.set);
    by_set[r.set].push_back(i);
  }
  int64_t g = 0;
  for (const std::string& name : order) {
    SetLayout layout;
    layout.name = name;
    layout.first_doc = g;
    for (size_t i : by_set[name]) {
      const ResponseRecord& r = corpus.outcomes[i];
      if (!r.ok()) {
        layout.failed_doc_ids.push_back(r.prompt_id);
        continue;
      }
      if (r.finish_reason == "length") layout.truncated_doc_ids.push_back(r.prompt_id);
      layout.doc_ids.push_back(r.prompt_id);
      layout.prompts.push_back(r.prompt);
      layout.categories.push_back(r.category);
      if (layout.model_id.empty()) layout.model_id = r.model;
      if (layout.collected_first.empty() || r.collected_at < layout.collected_first) layout.collected_first = r.collected_at;
      layout.collected_last = std::max(layout.collected_last, r.collected_at);
      corpus.docs.push_back({i, static_cast<int32_t>(corpus.sets.size()),
                             spool::key_hash(spool::doc_key(name, r.prompt_id), *r.response)});
      ++g;
    }
    layout.n_docs = static_cast<int64_t>(layout.doc_ids.size());
    corpus.sets.push_back(std::move(layout));
  }
  return corpus;
}

// What every rank needs of the layout (rank 0 alone keeps the per-document strings).
std::string layout_to_json(const std::vector<SetLayout>& sets) {
  nlohmann::json j = nlohmann::json::array();
  for (const SetLayout& s : sets) {
    j.push_back({{"name", s.name}, {"first_doc", s.first_doc}, {"n_docs", s.n_docs}, {"failed", s.failed_doc_ids},
                 {"truncated", s.truncated_doc_ids}, {"model_id", s.model_id},
                 {"collected", {s.collected_first, s.collected_last}}});
  }
  return j.dump();
}

std::vector<SetLayout> layout_from_json(const std::string& text) {
  std::vector<SetLayout> sets;
  for (const auto& j : nlohmann::json::parse(text)) {
    SetLayout s;
    s.name = j["name"].get<std::string>();
    s.first_doc = j["first_doc"].get<int64_t>();
    s.n_docs = j["n_docs"].get<int64_t>();
    s.failed_doc_ids = j["failed"].get<std::vector<std::string>>();
    s.truncated_doc_ids = j["truncated"].get<std::vector<std::string>>();
    s.model_id = j["model_id"].get<std::string>();
    s.collected_first = j["collected"][0].get<std::string>();
    s.collected_last = j["collected"][1].get<std::string>();
    sets.push_back(std::move(s));
  }
  return sets;
}

size_t set_of(const std::vector<SetLayout>& sets, int64_t doc) {
  size_t s = 0;
  while (s + 1 < sets.size() && sets[s + 1].first_doc <= doc) ++s;
  return s;
}

// "set/prompt id" for messages.
std::string key_name(const std::string& key) {
  std::string k = key;
  std::replace(k.begin(), k.end(), '\0', '/');
  return k;
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "unknown";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return cat(s / 3600, " h ", (s % 3600) / 60, " min");
  if (s >= 60) return cat(s / 60, " min ", s % 60, " s");
  return cat(s, " s");
}

// Where each document's spool record is: the file, the record, and its sizes (8 int64 on the wire).
struct Entry {
  int64_t doc = 0;
  int64_t file = -1;
  int64_t offset = 0;
  int64_t bytes = 0;
  DocSizes sizes;
};
constexpr size_t kWireFields = 8;
void entry_to_wire(const Entry& e, std::vector<int64_t>& out) {
  out.insert(out.end(), {e.doc, e.file, e.offset, e.bytes, e.sizes.n_token, e.sizes.n_pooled, e.sizes.nnz,
                         e.sizes.text_bytes});
}
Entry entry_from_wire(const int64_t* w) {
  Entry e;
  e.doc = w[0];
  e.file = w[1];
  e.offset = w[2];
  e.bytes = w[3];
  e.sizes = {w[0], w[4], w[5], w[6], w[7]};
  return e;
}

// This rank's share of the final file: a contiguous run of documents, read back from the spool.
class SpoolSource : public DocSource {
 public:
  SpoolSource(std::vector<Entry> entries, const std::vector<std::string>& files) : entries_(std::move(entries)), reader_(files) {}
  std::vector<DocSizes> sizes() const override {
    std::vector<DocSizes> out;
    for (const Entry& e : entries_) out.push_back(e.sizes);
    return out;
  }
  PooledDoc load(size_t i) override { return record(i).doc; }
  spool::Record record(size_t i) {
    const Entry& e = entries_.at(i);
    spool::Record r = reader_.read(static_cast<size_t>(e.file), e.offset, e.bytes);
    r.doc.doc_index = e.doc;
    return r;
  }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
  spool::RecordReader reader_;
};

void log_load_balance(const std::vector<WorkProgress>& ranks, double wall) {
  double busy_max = 0, busy_sum = 0;
  for (size_t r = 0; r < ranks.size(); ++r) {
    const WorkProgress& p = ranks[r];
    busy_max = std::max(busy_max, p.busy_s);
    busy_sum += p.busy_s;
    char line[256];
    std::snprintf(line, sizeof line,
                  "  rank %3zu: %6lld chunks %9lld docs %12lld tokens  busy %8.2f s  waited %7.2f s  %10.1f tokens/s  peak %.2f GiB",
                  r, static_cast<long long>(p.chunks), static_cast<long long>(p.docs), static_cast<long long>(p.tokens),
                  p.busy_s, p.wait_s, p.busy_s > 0 ? static_cast<double>(p.tokens) / p.busy_s : 0.0, gib(p.peak_rss_bytes));
    log_info(line);
  }
  const double mean = ranks.empty() ? 0 : busy_sum / static_cast<double>(ranks.size());
  log_info("load balance: busiest rank ", busy_max, " s, mean ", mean, " s (", mean > 0 ? 100.0 * (busy_max / mean - 1) : 0.0,
           "% over the mean), wall ", wall, " s");
}

}  // namespace

torch::Dtype parse_dtype(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  SAEDIFF_FAIL("unknown dtype '", name, "': expected float32 or bfloat16");
}

namespace {
std::string this_host() {
  char host[256] = {0};
  return gethostname(host, sizeof(host) - 1) == 0 ? std::string(host) : std::string("?");
}
}  // namespace

torch::Device select_device(const std::string& name, bool share_gpus) {
  if (name == "cpu") return torch::kCPU;
  SAEDIFF_CHECK(name == "cuda", "unknown device '", name, "': expected cpu or cuda");
  SAEDIFF_CHECK(torch::cuda::is_available(), "--device cuda, but this libtorch has no CUDA or no GPU is visible");
  const auto n_device = static_cast<int>(torch::cuda::device_count());
  const int n_local = mpi::local_size();
  SAEDIFF_CHECK(n_local <= n_device || share_gpus, n_local, " ranks run on host ", this_host(), ", but it shows them ",
                "only ", n_device, " GPU(s) (CUDA_VISIBLE_DEVICES=",
                std::getenv("CUDA_VISIBLE_DEVICES") ? std::getenv("CUDA_VISIBLE_DEVICES") : "unset", "): start one rank per GPU (srun --gpus-per-task=1, or mpirun -np <GPUs per node> per node), or pass "
                "--share-gpus to let ranks share them");
  const int index = mpi::local_rank() % n_device;
  bind_cuda_device(index);  // once per rank, before libtorch or NCCL touch a device
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

void set_torch_threads(int threads) {
  int n = threads;
  if (n <= 0) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    n = std::max(1, cores / std::max(1, mpi::local_size()));
  }
  torch::set_num_threads(n);
  log_debug("libtorch threads: ", n);
}

EncodeSummary run_encode(const EncodeConfig& given, const std::string& resolved_config) {
  // Folders and files, or repo ids resolved in the local Hugging Face cache.
  EncodeConfig config = given;
  if (!config.model.empty()) config.model = resolve_model_dir(config.model);
  if (!config.sae.empty()) config.sae = resolve_checkpoint_file(config.sae);
  SAEDIFF_CHECK(!config.responses.empty(), "encode needs --responses FILE.jsonl");
  SAEDIFF_CHECK(!config.model.empty(), "encode needs --model DIR");
  SAEDIFF_CHECK(!config.sae.empty(), "encode needs --sae FILE");
  SAEDIFF_CHECK(!config.out.empty(), "encode needs --out FILE.h5");
  SAEDIFF_CHECK(config.layer >= 0, "--layer must be >= 0");
  SAEDIFF_CHECK(config.chunk_tokens > 0, "--chunk-tokens must be positive");
  SAEDIFF_CHECK(config.batch_tokens > 0, "--batch-tokens must be positive");
  const PoolScope scope = parse_pool_scope(config.pool);
  const torch::Dtype dtype = parse_dtype(config.dtype);
  const torch::Device device = select_device(config.device, config.share_gpus);
  const int rank = mpi::comm_rank();
  const int n_rank = mpi::comm_size();
  SAEDIFF_CHECK(config.reduce == "auto" || config.reduce == "mpi" || config.reduce == "nccl",
                "unknown --reduce '", config.reduce, "': expected auto, mpi or nccl");
  const ReduceBackend backend =
      config.reduce == "nccl" || (config.reduce == "auto" && device.is_cuda() && nccl_usable()) ? ReduceBackend::nccl
                                                                                                 : ReduceBackend::mpi;
  set_torch_threads(config.threads);
  const Timer total_timer;
  const std::string tokenizer_path =
      config.tokenizer.empty() ? (std::filesystem::path(config.model) / "tokenizer.json").string() : config.tokenizer;
  const std::string spool_dir = spool::dir_for(config.out);

  // Rank 0 reads the responses, and what an earlier, interrupted run of the same --out left in the spool.
  Corpus corpus;
  std::string layout_json, tokenizer_sha256;
  std::vector<std::string> old_files;
  std::vector<Entry> stored;  // rank 0: per document, its record if one exists
  if (rank == 0) {
    const Timer read_timer;
    corpus = build_corpus(config.responses);
    log_info("read ", corpus.outcomes.size(), " responses (", corpus.docs.size(), " to encode) from ", config.responses, " in ",
             read_timer.seconds(), " s");
    layout_json = layout_to_json(corpus.sets);
    tokenizer_sha256 = sha256_file(tokenizer_path);
    const nlohmann::json fingerprint = {{"format", 1},          {"model", config.model},   {"sae", config.sae},
                                        {"layer", config.layer}, {"pool", config.pool},     {"dtype", config.dtype},
                                        {"device", config.device}, {"token_topk", config.token_topk},
                                        {"batch_tokens", config.batch_tokens},  // a document's batch sets its bits
                                        {"tokenizer_sha256", tokenizer_sha256}};
    spool::open_dir(spool_dir, fingerprint.dump());
    stored.resize(corpus.docs.size());
    std::unordered_map<uint64_t, size_t> by_hash;
    for (size_t g = 0; g < corpus.docs.size(); ++g) {
      by_hash.emplace(corpus.docs[g].hash, g);
      stored[g].doc = static_cast<int64_t>(g);
    }
    for (const std::string& path : spool::list_files(spool_dir)) {
      std::string problem;
      const std::vector<spool::ScannedRecord> records = spool::scan_file(path, problem);
      if (!problem.empty()) {
        log_warn(path, ": ", problem, "; the ", records.size(), " records before it are used, the rest is encoded again");
      }
      const auto file = static_cast<int64_t>(old_files.size());
      old_files.push_back(path);
      for (const spool::ScannedRecord& rec : records) {
        const auto it = by_hash.find(rec.hash);
        if (it == by_hash.end()) continue;  // a response that is no longer in the file, or has changed
        const Corpus::Doc& d = corpus.docs[it->second];
        const ResponseRecord& r = corpus.outcomes[d.record];
        if (rec.key != spool::doc_key(r.set, r.prompt_id) || stored[it->second].file >= 0) continue;
        stored[it->second] = {static_cast<int64_t>(it->second), file, rec.offset, rec.bytes, rec.sizes};
        stored[it->second].sizes.doc_index = static_cast<int64_t>(it->second);
      }
    }
  }
  mpi::broadcast(layout_json);
  std::vector<SetLayout> sets = rank == 0 ? std::move(corpus.sets) : layout_from_json(layout_json);
  int64_t n_doc = 0, n_failed = 0;
  for (const SetLayout& s : sets) {
    n_doc += s.n_docs;
    n_failed += static_cast<int64_t>(s.failed_doc_ids.size());
  }
  std::vector<size_t> pending;  // rank 0: documents without a record
  int64_t n_resumed = 0, pending_bytes = 0;
  if (rank == 0) {
    for (size_t g = 0; g < stored.size(); ++g) {
      if (stored[g].file >= 0) {
        ++n_resumed;
      } else {
        pending.push_back(g);
        pending_bytes += static_cast<int64_t>(corpus.outcomes[corpus.docs[g].record].response->size());
      }
    }
  }
  MPI_CHECK(MPI_Bcast(&n_resumed, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
  const double setup_s = total_timer.seconds();  // reading the responses and the spool, on rank 0
  log_info0("encode: ", n_doc, " documents in ", sets.size(), " sets (", n_failed, " failed responses skipped) on ",
            n_rank, " ranks");
  if (n_resumed > 0) {
    log_info0("encode: resuming: ", n_resumed, " of ", n_doc, " documents are already encoded in ", spool_dir, "; encoding the other ",
              n_doc - n_resumed);
  }

  // The SAE first, checked against config.json, so that a mismatched pair fails before the model loads.
  Timer step;
  const Sae sae = Sae::load(config.sae, dtype, device);
  sae.check_input_width(LlamaConfig::from_json_file((std::filesystem::path(config.model) / "config.json").string()).d_model,
                        config.model);
  const LlamaModel model = LlamaModel::load(config.model, config.layer, dtype, device);
  const Tokenizer tokenizer = Tokenizer::from_file(tokenizer_path);
  const double load_s = step.seconds();
  log_info("loaded layers 0..", config.layer, " of ", config.model, " (", gib(model.weight_bytes()),
           " GiB), the SAE and the tokenizer in ", load_s, " s; ", memory_report(device));
  const int64_t d_sae = sae.d_sae();
  const auto n_set = static_cast<int64_t>(sets.size());
  const int64_t max_positions = model.config().max_position_embeddings;

  // Per-set counts of documents whose pooled max > threshold, kept on the device: [n_set, d_sae].
  torch::Tensor counts = torch::zeros({n_set, d_sae}, torch::TensorOptions().dtype(torch::kLong).device(device));

  // The encode loop: chunks of similar-length documents from rank 0's queue, each finished document appended to
  // this rank's spool file, made durable at the end of every chunk.
  // Rank 0 packs every document (not only the pending ones) into batches of about --batch-tokens, longest first,
  // and hands out chunks of whole batches. A batch runs through the reader as one packed forward pass, and a
  // document's values depend, in their last bits, on what it was packed with: batches made from the whole corpus
  // alone are the same on any number of ranks and after a resume, and so are the files. A batch that is only
  // partly in the spool is encoded whole again; only its missing documents are written.
  std::vector<std::vector<size_t>> batches;  // rank 0: document indices per batch
  std::vector<std::vector<size_t>> chunks;   // rank 0: batch indices per chunk
  if (rank == 0) {
    std::vector<int64_t> estimate;  // tokens, before tokenizing: ~4 bytes a token, plus the template's 31
    estimate.reserve(corpus.docs.size());
    for (const Corpus::Doc& d : corpus.docs) estimate.push_back(static_cast<int64_t>(corpus.outcomes[d.record].response->size()) / 4 + 31);
    // A small corpus still makes batches enough to spread over the ranks: at most 1/64 of all its tokens each
    // (a function of the corpus, not of the ranks or of what is already done).
    int64_t corpus_tokens = 0;
    for (int64_t e : estimate) corpus_tokens += e;
    const int64_t batch_budget = std::clamp<int64_t>(corpus_tokens / 64, 1, config.batch_tokens);
    std::vector<int64_t> batch_estimate;
    int64_t total = 0;
    for (std::vector<size_t>& batch : plan_chunks(estimate, batch_budget)) {
      int64_t tokens = 0;
      bool needed = false;
      for (size_t g : batch) {
        tokens += estimate[g];
        needed = needed || stored[g].file < 0;
      }
      if (!needed) continue;
      batches.push_back(std::move(batch));
      batch_estimate.push_back(tokens);
      total += tokens;
    }
    // At least ~4 chunks per rank, so that a small corpus still spreads over every rank.
    const int64_t budget = std::max<int64_t>(1, std::min<int64_t>(config.chunk_tokens, total / (4 * n_rank)));
    chunks = plan_chunks(batch_estimate, budget);
    log_info("encode: ", pending.size(), " documents to encode in ", batches.size(), " batches of up to ~",
             batch_budget, " tokens, ", chunks.size(), " chunks of up to ~", budget, " tokens");
  }
  std::unique_ptr<spool::Writer> spool_writer;
  std::vector<int64_t> my_entries;  // kWireFields per document of the current chunk
  DispatchHooks hooks;
  hooks.pack = [&](size_t c) {
    ByteWriter w;
    w.put(static_cast<uint64_t>(chunks[c].size()));
    for (size_t b : chunks[c]) {
      w.put(static_cast<uint64_t>(batches[b].size()));
      for (size_t g : batches[b]) {
        const Corpus::Doc& d = corpus.docs[g];
        const ResponseRecord& r = corpus.outcomes[d.record];
        w.put(static_cast<int64_t>(g));
        w.put(d.set);
        w.put(d.hash);
        w.put(static_cast<uint8_t>(stored[g].file < 0));  // 1: write its record; 0: in the spool, context only
        w.put_string(spool::doc_key(r.set, r.prompt_id));
        w.put_string(*r.response);
      }
    }
    return std::move(w.str());
  };
  hooks.process = [&](const std::string& message, WorkProgress& progress, const std::function<void()>& poll) {
    if (!spool_writer) {
      const auto stamp = std::chrono::system_clock::now().time_since_epoch().count();
      spool_writer = std::make_unique<spool::Writer>(
          (std::filesystem::path(spool_dir) / cat("r", rank, "-", stamp, "-", ::getpid(), ".spool")).string());
    }
    ByteReader in(message, "a chunk message");
    torch::NoGradGuard no_grad;
    const auto n_batch = in.get<uint64_t>();
    for (uint64_t b = 0; b < n_batch; ++b) {
      struct Item {
        spool::Record rec;
        int64_t g = 0;
        int32_t set = 0;
        bool write = false;
        int64_t bytes = 0;
      };
      std::vector<Item> items(in.get<uint64_t>());
      std::vector<int32_t> packed;
      std::vector<int64_t> lengths;
      for (Item& it : items) {
        it.g = in.get<int64_t>();
        it.set = in.get<int32_t>();
        it.rec.hash = in.get<uint64_t>();
        it.write = in.get<uint8_t>() != 0;
        it.rec.key = in.get_string();
        const std::string text = in.get_string();
        it.bytes = static_cast<int64_t>(text.size());
        TemplatedDoc td = tokenize_document(tokenizer, text, ChatTemplate::llama3);
        const auto n_token = static_cast<int64_t>(td.ids.size());
        SAEDIFF_CHECK(max_positions <= 0 || n_token <= max_positions, "document '", key_name(it.rec.key), "' has ", n_token,
                      " tokens, more than the model's max_position_embeddings (", max_positions, ") in ", config.model);
        it.rec.pool_begin = scope == PoolScope::content ? td.content_begin : 0;
        it.rec.pool_end = scope == PoolScope::content ? td.content_end : static_cast<int32_t>(n_token);
        packed.insert(packed.end(), td.ids.begin(), td.ids.end());
        lengths.push_back(n_token);
        it.rec.ids = std::move(td.ids);
      }
      // The reader over the whole batch at once: one packed forward pass.
      const torch::Tensor x = model.forward_packed(packed, lengths, LlamaModel::kMaxScoreElements, model.dtype());
      poll();  // rank 0 answers requests while its batch runs, not only between batches
      // The SAE and pooling of the whole batch, on its pooled tokens only: blocks of rows spanning documents (the
      // dense [tokens, d_sae] activations of one block at a time), then one copy of all the batch's results to the
      // host. Documents already in the spool are pooled too, so that a batch's blocks, and so its values' last
      // bits, are the same after a resume; only the others are counted and written.
      std::vector<PoolRange> ranges;
      std::vector<size_t> written;  // items whose records are written
      int64_t row = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        const Item& it = items[i];
        ranges.push_back({row, lengths[i], it.rec.pool_begin, it.rec.pool_end, it.g});
        row += lengths[i];
        if (it.write) written.push_back(i);
      }
      const PendingBatch pending_pools = pool_batch(sae, x, std::move(ranges), config.token_topk);
      std::vector<int64_t> counted_rows, counted_sets;  // rows of pending_pools.max to count, and their sets
      for (const size_t i : written) {
        if (pending_pools.pooled_row[i] < 0) continue;
        counted_rows.push_back(pending_pools.pooled_row[i]);
        counted_sets.push_back(items[i].set);
      }
      if (!counted_rows.empty()) {
        torch::Tensor max = pending_pools.max;
        if (static_cast<int64_t>(counted_rows.size()) < max.size(0)) {
          max = max.index_select(0, torch::tensor(counted_rows, torch::kLong).to(device));
        }
        // Compared in double, as the host does for resumed documents and diff does when it checks the counts.
        counts.index_add_(0, torch::tensor(counted_sets, torch::kLong).to(device),
                          max.to(torch::kDouble).gt(config.threshold).to(torch::kLong));
      }
      std::vector<PooledDoc> pooled = finish_batch(pending_pools);
      for (size_t w = 0; w < written.size(); ++w) {
        Item& it = items[written[w]];
        const int64_t n_token = lengths[written[w]];
        spool::Record& rec = it.rec;
        rec.doc = std::move(pooled[written[w]]);
        // The pooled tokens' bytes are the document's text row; each token's end byte locates it there.
        for (int32_t t = rec.pool_begin; t < rec.pool_end; ++t) {
          const int32_t id = rec.ids[static_cast<size_t>(t)];
          rec.doc.text += tokenizer.token_bytes(id);
          rec.doc.token_id.push_back(id);
          rec.doc.token_end.push_back(static_cast<int64_t>(rec.doc.text.size()));
        }
        const auto [offset, bytes] = spool_writer->append(rec);
        entry_to_wire({it.g, rank, offset, bytes,
                       {it.g, n_token, rec.doc.n_pooled, static_cast<int64_t>(rec.doc.feature.size()),
                        static_cast<int64_t>(rec.doc.text.size())}},
                      my_entries);
        ++progress.docs;
        progress.tokens += n_token;
        progress.bytes += it.bytes;
        poll();
      }
    }
    spool_writer->sync();
    // The chunk's record places go to a side file, not memory, so that a rank's memory stays flat however many
    // documents it encodes; they are read back once, after the loop.
    std::ofstream index(spool_writer->path() + ".idx", std::ios::binary | std::ios::app);
    index.write(reinterpret_cast<const char*>(my_entries.data()), static_cast<std::streamsize>(my_entries.size() * sizeof(int64_t)));
    index.close();  // flushes: a full disk shows here, not at the end
    SAEDIFF_CHECK(!index.fail(), "cannot write '", spool_writer->path(), ".idx'");
    my_entries.clear();
  };
  const Timer encode_timer;
  hooks.report_seconds = config.progress_seconds > 0 ? config.progress_seconds : 1e300;
  hooks.report = [&](const std::vector<WorkProgress>& ranks) {
    int64_t docs = n_resumed, tokens = 0, bytes = 0, rss = 0;
    for (const WorkProgress& p : ranks) {
      docs += p.docs;
      tokens += p.tokens;
      bytes += p.bytes;
      rss = std::max(rss, p.rss_bytes);
    }
    const double t = encode_timer.seconds();
    const double eta = bytes > 0 ? static_cast<double>(pending_bytes - bytes) * t / static_cast<double>(bytes) : NAN;
    char memory[32];
    std::snprintf(memory, sizeof memory, "%.2f", gib(rss));
    log_info("encode: ", docs, "/", n_doc, " documents (", n_doc > 0 ? 100 * docs / n_doc : 100, "%), ", tokens,
             " tokens, ", static_cast<int64_t>(t > 0 ? static_cast<double>(tokens) / t : 0), " tokens/s, ETA ",
             duration_text(eta), "; largest rank resident ", memory, " GiB");
  };
  const std::vector<WorkProgress> loads = dispatch_chunks(MPI_COMM_WORLD, chunks.size(), hooks);
  const double encode_s = encode_timer.seconds();
  chunks.clear();
  int64_t n_tokens = 0;
  if (rank == 0) {
    for (const WorkProgress& p : loads) n_tokens += p.tokens;
    log_info("encode: ", n_doc - n_resumed, " documents, ", n_tokens, " tokens in ", encode_s, " s (",
             encode_s > 0 ? static_cast<double>(n_tokens) / encode_s : 0.0, " tokens/s); per rank:");
    log_load_balance(loads, encode_s);
  }
  MPI_CHECK(MPI_Bcast(&n_tokens, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));

  // Every record's place, on rank 0; then each rank takes a contiguous run of documents, balanced by bytes.
  step.reset();
  const std::string my_file = spool_writer ? spool_writer->path() : std::string();
  spool_writer.reset();
  if (!my_file.empty()) {
    std::ifstream index(my_file + ".idx", std::ios::binary);
    const auto bytes = static_cast<size_t>(std::filesystem::file_size(my_file + ".idx"));
    my_entries.resize(bytes / sizeof(int64_t));
    index.read(reinterpret_cast<char*>(my_entries.data()), static_cast<std::streamsize>(my_entries.size() * sizeof(int64_t)));
    SAEDIFF_CHECK(index.good() && bytes % (kWireFields * sizeof(int64_t)) == 0, "cannot read back '", my_file, ".idx'");
  }
  const std::vector<int64_t> new_entries = mpi::gatherv(my_entries);
  my_entries = {};
  std::vector<int> name_lengths;
  const std::vector<char> names = mpi::gatherv(std::vector<char>(my_file.begin(), my_file.end()), 0, MPI_COMM_WORLD, &name_lengths);
  std::vector<std::string> files;
  std::vector<std::vector<int64_t>> parts(static_cast<size_t>(n_rank));
  if (rank == 0) {
    files = old_files;
    std::vector<int64_t> file_of_rank(static_cast<size_t>(n_rank), -1);
    size_t at = 0;
    for (int r = 0; r < n_rank; ++r) {
      const auto len = static_cast<size_t>(name_lengths[static_cast<size_t>(r)]);
      if (len > 0) {
        file_of_rank[static_cast<size_t>(r)] = static_cast<int64_t>(files.size());
        files.emplace_back(names.data() + at, len);
      }
      at += len;
    }
    for (size_t i = 0; i + kWireFields <= new_entries.size(); i += kWireFields) {
      Entry e = entry_from_wire(new_entries.data() + i);
      SAEDIFF_CHECK(e.doc >= 0 && e.doc < n_doc && stored[static_cast<size_t>(e.doc)].file < 0, "document ", e.doc,
                    " was encoded twice, or is out of range");
      e.file = file_of_rank.at(static_cast<size_t>(e.file));  // the writing rank's file
      stored[static_cast<size_t>(e.doc)] = e;
    }
    int64_t total_bytes = 0;
    for (const Entry& e : stored) {
      SAEDIFF_CHECK(e.file >= 0, "document ", e.doc, " was never encoded");
      total_bytes += e.bytes;
    }
    int64_t acc = 0;
    for (const Entry& e : stored) {
      const auto r = static_cast<size_t>(std::min<int64_t>(n_rank - 1, total_bytes > 0 ? acc * n_rank / total_bytes : 0));
      entry_to_wire(e, parts[r]);
      acc += e.bytes;
    }
    stored = {};
  }
  std::string files_json = rank == 0 ? nlohmann::json(files).dump() : std::string();
  mpi::broadcast(files_json);
  files = nlohmann::json::parse(files_json).get<std::vector<std::string>>();
  const std::vector<int64_t> my_wire = mpi::scatterv(parts);
  parts = {};
  std::vector<Entry> mine;
  for (size_t i = 0; i + kWireFields <= my_wire.size(); i += kWireFields) mine.push_back(entry_from_wire(my_wire.data() + i));
  int64_t n_old_files = static_cast<int64_t>(old_files.size());  // files 0..n_old_files-1 hold earlier runs' records
  MPI_CHECK(MPI_Bcast(&n_old_files, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
  SpoolSource source(std::move(mine), files);

  // Counts of the documents an earlier run encoded (this run's are already on the device), then the reduction.
  std::vector<int64_t> host_counts(static_cast<size_t>(n_set * d_sae), 0);
  for (size_t i = 0; i < source.entries().size(); ++i) {
    if (source.entries()[i].file >= n_old_files) continue;
    const PooledDoc d = source.load(i);
    const size_t s = set_of(sets, d.doc_index);
    for (size_t k = 0; k < d.feature.size(); ++k) {
      if (d.max[k] > config.threshold) ++host_counts[s * static_cast<size_t>(d_sae) + static_cast<size_t>(d.feature[k])];
    }
  }
  counts.add_(torch::from_blob(host_counts.data(), {n_set, d_sae}, torch::kLong).to(device));
  const Timer reduce_timer;
  if (backend == ReduceBackend::nccl && device.is_cuda()) {
    allreduce_counts_device(counts.data_ptr<int64_t>(), static_cast<size_t>(counts.numel()), MPI_COMM_WORLD);
    const torch::Tensor host = counts.to(torch::kCPU).contiguous();
    host_counts.assign(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + host.numel());
  } else {
    const torch::Tensor host = counts.to(torch::kCPU).contiguous();
    host_counts.assign(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + host.numel());
    allreduce_counts(host_counts, MPI_COMM_WORLD, backend);
  }
  const double reduce_s = reduce_timer.seconds();
  for (size_t s = 0; s < sets.size(); ++s) {
    sets[s].active_docs.assign(host_counts.begin() + static_cast<ptrdiff_t>(s * static_cast<size_t>(d_sae)),
                               host_counts.begin() + static_cast<ptrdiff_t>((s + 1) * static_cast<size_t>(d_sae)));
  }

  // The file: rank 0's strings, every rank's run of documents streamed from the spool, then the evidence.
  EncodedAttrs attrs;
  attrs.text = {{"model", config.model},      {"sae", config.sae},          {"pooling", pool_scope_name(scope)},
                {"dtype", config.dtype},      {"config", resolved_config},  {"version", kVersion},
                {"commit", kGitCommit},       {"reduce", backend == ReduceBackend::nccl ? "nccl" : "mpi"},
                {"device", device.is_cuda() ? "cuda" : "cpu"},               {"tokenizer", tokenizer_path}};
  mpi::broadcast(tokenizer_sha256);
  attrs.text["tokenizer_sha256"] = tokenizer_sha256;
  attrs.integer = {{"layer", config.layer}, {"d_model", model.config().d_model}, {"n_rank", n_rank},
                   {"token_topk", config.token_topk}, {"evidence_features", config.evidence_features},
                   {"evidence_docs", config.evidence_docs}};
  attrs.threshold = config.threshold;
  const std::filesystem::path out_dir = std::filesystem::path(config.out).parent_path();
  if (rank == 0 && !out_dir.empty()) std::filesystem::create_directories(out_dir);
  mpi::barrier();
  EncodedWriter writer(config.out, MPI_COMM_WORLD, sets, attrs, d_sae);
  const std::vector<int32_t> ev_features = evidence_features(host_counts, sets, d_sae, config.evidence_features);
  EvidenceCandidates candidates(ev_features, config.evidence_docs);
  writer.write_documents(source, [&](const PooledDoc& d) { candidates.add(d, static_cast<int64_t>(set_of(sets, d.doc_index))); });
  const double write_s = step.seconds();

  // Evidence: the top-diff features' exact per-token activations in their strongest documents, run again by the
  // rank whose run of documents holds them.
  step.reset();
  const std::map<int64_t, std::vector<int32_t>> plan = candidates.plan(MPI_COMM_WORLD);
  for (const auto& [doc, features] : plan) {
    const size_t s = set_of(sets, doc);
    for (int32_t f : features) {
      sets[s].evidence_row.push_back(doc - sets[s].first_doc);
      sets[s].evidence_feature.push_back(f);
    }
  }
  std::vector<EvidenceValues> evidence;
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < source.entries().size(); ++i) {
      const auto it = plan.find(source.entries()[i].doc);
      if (it == plan.end()) continue;
      const spool::Record rec = source.record(i);
      const torch::Tensor idx = torch::tensor(std::vector<int64_t>(it->second.begin(), it->second.end()), torch::kLong);
      const torch::Tensor v = encode_feature_rows(sae, model.forward(rec.ids), rec.pool_begin, rec.pool_end, idx)
                                  .t()
                                  .contiguous()
                                  .to(torch::kCPU);  // [features, n_pooled]
      evidence.push_back({rec.doc.doc_index, std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel())});
    }
  }
  writer.write_evidence(sets, evidence);
  const double evidence_s = step.seconds();
  log_info0("evidence: ", ev_features.size(), " top-diff features in ", plan.size(), " documents, run again in ", evidence_s, " s");

  // Timings and the per-rank load, for users and benchmarks (never compared between runs).
  std::string timings;
  if (rank == 0) {
    nlohmann::json per_rank = nlohmann::json::array();
    for (const WorkProgress& p : loads) {
      per_rank.push_back({{"chunks", p.chunks}, {"docs", p.docs}, {"tokens", p.tokens}, {"busy_s", p.busy_s},
                          {"wait_s", p.wait_s}, {"peak_rss_bytes", p.peak_rss_bytes}});
    }
    timings = nlohmann::json{{"setup_s", setup_s}, {"load_s", load_s}, {"encode_s", encode_s}, {"reduce_s", reduce_s}, {"write_s", write_s},
                             {"evidence_s", evidence_s}, {"total_s", total_timer.seconds()}, {"n_resumed", n_resumed},
                             {"n_tokens", n_tokens}, {"ranks", per_rank}}.dump();
  }
  mpi::broadcast(timings);
  writer.write_attr("timings", timings);
  writer.commit();
  if (rank == 0 && !config.keep_spool) std::filesystem::remove_all(spool_dir);
  log_info0("encode: wrote ", config.out, " in ", total_timer.seconds(), " s (setup ", setup_s, " s, load ", load_s, " s, encode ", encode_s,
            " s, reduce ", reduce_s, " s, write ", write_s, " s, evidence ", evidence_s, " s)");
  EncodeSummary summary;
  summary.n_docs = n_doc;
  summary.n_failed = n_failed;
  summary.n_tokens = n_tokens;
  summary.seconds = encode_s;
  summary.n_resumed = n_resumed;
  return summary;
}

}  // namespace saediff
