#include "app/encode_plan.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/timer.h"
#include "dist/dispatch.h"
#include "dist/mpi.h"
#include "io/spool.h"
#include "text/chat_template.h"

namespace saediff {
namespace {

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

}  // namespace

void entry_to_wire(const SpoolEntry& e, std::vector<int64_t>& out) {
  out.insert(out.end(), {e.doc, e.file, e.offset, e.bytes, e.sizes.n_token, e.sizes.n_pooled, e.sizes.nnz,
                         e.sizes.text_bytes});
}

SpoolEntry entry_from_wire(const int64_t* w) {
  SpoolEntry e;
  e.doc = w[0];
  e.file = w[1];
  e.offset = w[2];
  e.bytes = w[3];
  e.sizes = {w[0], w[4], w[5], w[6], w[7]};
  return e;
}

size_t set_of(const std::vector<SetLayout>& sets, int64_t doc) {
  size_t s = 0;
  while (s + 1 < sets.size() && sets[s + 1].first_doc <= doc) ++s;
  return s;
}

std::string key_name(const std::string& key) {
  std::string k = key;
  std::replace(k.begin(), k.end(), '\0', '/');
  return k;
}

void EncodePlan::read_corpus(const std::string& responses) {
  const ReadResponsesResult read = read_responses(responses);
  if (read.torn_tail) log_warn(responses, ": ignoring a torn last line (an interrupted collect)");
  outcomes_ = latest_outcomes(read.records);
  SAEDIFF_CHECK(!outcomes_.empty(), "'", responses, "' has no responses");
  std::vector<std::string> order;  // sets in order of first appearance
  std::map<std::string, std::vector<size_t>> by_set;
  for (size_t i = 0; i < outcomes_.size(); ++i) {
    const ResponseRecord& r = outcomes_[i];
    if (!by_set.count(r.set)) {
      const std::string problem = set_name_problem(r.set);
      SAEDIFF_CHECK(problem.empty(), responses, ": the set '", r.set, "' of prompt '", r.prompt_id,
                    "' cannot name a set in encoded.h5: ", problem);
      order.push_back(r.set);
    }
    by_set[r.set].push_back(i);
  }
  int64_t g = 0;
  for (const std::string& name : order) {
    SetLayout layout;
    layout.name = name;
    layout.first_doc = g;
    for (size_t i : by_set[name]) {
      const ResponseRecord& r = outcomes_[i];
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
      docs_.push_back({i, static_cast<int32_t>(sets.size()), spool::key_hash(spool::doc_key(name, r.prompt_id), *r.response)});
      ++g;
    }
    layout.n_docs = static_cast<int64_t>(layout.doc_ids.size());
    sets.push_back(std::move(layout));
  }
}

void EncodePlan::scan_spool(const std::string& spool_dir) {
  stored.resize(docs_.size());
  std::unordered_map<uint64_t, size_t> by_hash;
  for (size_t g = 0; g < docs_.size(); ++g) {
    by_hash.emplace(docs_[g].hash, g);
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
      const ResponseRecord& r = outcomes_[docs_[it->second].record];
      if (rec.key != spool::doc_key(r.set, r.prompt_id) || stored[it->second].file >= 0) continue;
      stored[it->second] = {static_cast<int64_t>(it->second), file, rec.offset, rec.bytes, rec.sizes};
      stored[it->second].sizes.doc_index = static_cast<int64_t>(it->second);
    }
  }
}

EncodePlan EncodePlan::make(const EncodeConfig& config, const std::string& tokenizer_path, const std::string& spool_dir) {
  EncodePlan plan;
  std::string layout_json;
  const bool root = mpi::comm_rank() == 0;
  if (root) {
    const Timer read_timer;
    plan.read_corpus(config.responses);
    log_info("read ", plan.outcomes_.size(), " responses (", plan.docs_.size(), " to encode) from ", config.responses,
             " in ", read_timer.seconds(), " s");
    layout_json = layout_to_json(plan.sets);
    plan.tokenizer_sha256 = sha256_file(tokenizer_path);
    nlohmann::json fingerprint = {{"format", 1},          {"model", config.model},   {"sae", config.sae},
                                  {"layer", config.layer}, {"pool", config.pool},     {"dtype", config.dtype},
                                  {"device", config.device}, {"token_topk", config.token_topk},
                                  {"batch_tokens", config.batch_tokens},  // a document's batch sets its bits
                                  {"tokenizer_sha256", plan.tokenizer_sha256}};
    // Only when given: the default (the model's limit) is fixed by the model, and older spools stay usable.
    if (config.max_doc_tokens > 0) fingerprint["max_doc_tokens"] = config.max_doc_tokens;
    plan.spool_dir_ = spool_dir;
    plan.fingerprint_ = fingerprint.dump();
    spool::check_dir(spool_dir, plan.fingerprint_);
    plan.scan_spool(spool_dir);
    for (size_t g = 0; g < plan.stored.size(); ++g) {
      if (plan.stored[g].file >= 0) {
        ++plan.n_resumed;
      } else {
        plan.pending_bytes += static_cast<int64_t>(plan.outcomes_[plan.docs_[g].record].response->size());
      }
    }
  }
  mpi::broadcast(layout_json);
  if (!root) plan.sets = layout_from_json(layout_json);
  for (const SetLayout& s : plan.sets) {
    plan.n_doc += s.n_docs;
    plan.n_failed += static_cast<int64_t>(s.failed_doc_ids.size());
  }
  MPI_CHECK(MPI_Bcast(&plan.n_resumed, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
  return plan;
}

int64_t doc_token_cap(const EncodeConfig& config, const LlamaConfig& model) {
  return config.max_doc_tokens > 0 ? config.max_doc_tokens : std::max<int64_t>(model.max_position_embeddings, 0);
}

void EncodePlan::find_cut_documents(const Tokenizer& tokenizer, int64_t cap) {
  cap_ = cap;
  std::string wire;  // per set, [[prompt id, tokens], ...]
  if (mpi::comm_rank() == 0 && cap > 0) {
    // A text of B bytes makes at most 3B tokens (one per byte; three where invalid UTF-8 becomes U+FFFD) after the
    // template's: only a text that could pass the cap is tokenized here.
    const auto fixed = static_cast<int64_t>(tokenize_document(tokenizer, "", ChatTemplate::llama3).ids.size());
    std::vector<size_t> maybe;
    for (size_t g = 0; g < docs_.size(); ++g) {
      if (fixed + 3 * static_cast<int64_t>(outcomes_[docs_[g].record].response->size()) > cap) maybe.push_back(g);
    }
    std::vector<int64_t> n_token(maybe.size());
    parallel_for(maybe.size(), 0, [&](size_t i) {
      n_token[i] = static_cast<int64_t>(
          tokenize_document(tokenizer, *outcomes_[docs_[maybe[i]].record].response, ChatTemplate::llama3).ids.size());
    });
    nlohmann::json cut = nlohmann::json::array();
    for (size_t s = 0; s < sets.size(); ++s) cut.push_back(nlohmann::json::array());
    for (size_t i = 0; i < maybe.size(); ++i) {
      if (n_token[i] <= cap) continue;
      const Doc& d = docs_[maybe[i]];
      cut[static_cast<size_t>(d.set)].push_back({outcomes_[d.record].prompt_id, n_token[i]});
      cut_.push_back(maybe[i]);
    }
    if (!cut_.empty()) {
      log_info("encode: ", cut_.size(), " document(s) are longer than ", cap, " tokens (--max-doc-tokens, else the model's ",
               "max_position_embeddings): each is read up to its first ", cap, " tokens, and the report lists them");
    }
    wire = cut.dump();
  }
  if (cap <= 0) return;
  mpi::broadcast(wire);
  const nlohmann::json cut = nlohmann::json::parse(wire);
  for (size_t s = 0; s < sets.size(); ++s) {
    for (const auto& e : cut[s]) {
      sets[s].cut_doc_ids.push_back(e[0].get<std::string>());
      sets[s].cut_doc_tokens.push_back(e[1].get<int64_t>());
    }
  }
}

void EncodePlan::open_spool() const {
  if (mpi::comm_rank() == 0) spool::open_dir(spool_dir_, fingerprint_);
}

void EncodePlan::make_batches(int64_t batch_tokens, int64_t chunk_tokens, int n_rank) {
  if (mpi::comm_rank() != 0) return;
  std::vector<int64_t> estimate;  // tokens, before tokenizing: ~4 bytes a token, plus the template's 31
  estimate.reserve(docs_.size());
  for (const Doc& d : docs_) estimate.push_back(static_cast<int64_t>(outcomes_[d.record].response->size()) / 4 + 31);
  for (size_t g : cut_) estimate[g] = cap_;
  // A small corpus still makes batches enough to spread over the ranks: at most 1/64 of all its tokens each, but
  // not under kMinBatchTokens, where a batch's fixed cost (its operations, a few hundred whatever it holds)
  // would outweigh its work (a function of the corpus, not of the ranks or of what is already done).
  int64_t corpus_tokens = 0;
  for (int64_t e : estimate) corpus_tokens += e;
  const int64_t batch_budget = std::min(batch_tokens, std::max(corpus_tokens / 64, kMinBatchTokens));
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
    batches_.push_back(std::move(batch));
    batch_estimate.push_back(tokens);
    total += tokens;
  }
  // At least ~4 chunks per rank, so that a small corpus still spreads over every rank.
  const int64_t budget = std::max<int64_t>(1, std::min<int64_t>(chunk_tokens, total / (4 * n_rank)));
  chunks_ = plan_chunks(batch_estimate, budget);
  log_info("encode: ", n_doc - n_resumed, " documents to encode in ", batches_.size(), " batches of up to ~",
           batch_budget, " tokens, ", chunks_.size(), " chunks of up to ~", budget, " tokens");
}

std::string EncodePlan::chunk_message(size_t c) const {
  ByteWriter w;
  w.put(static_cast<uint64_t>(chunks_[c].size()));
  for (size_t b : chunks_[c]) {
    w.put(static_cast<uint64_t>(batches_[b].size()));
    for (size_t g : batches_[b]) {
      const Doc& d = docs_[g];
      const ResponseRecord& r = outcomes_[d.record];
      w.put(static_cast<int64_t>(g));
      w.put(d.set);
      w.put(d.hash);
      w.put(static_cast<uint8_t>(stored[g].file < 0));  // 1: write its record; 0: in the spool, context only
      w.put_string(spool::doc_key(r.set, r.prompt_id));
      w.put_string(*r.response);
    }
  }
  return std::move(w.str());
}

}  // namespace saediff
