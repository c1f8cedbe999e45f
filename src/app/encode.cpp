#include "app/encode.h"
#include "app/device.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/memory.h"
#include "core/timer.h"
#include "app/evidence_pass.h"
#include "dist/mpi.h"
#include "dist/reduce.h"
#include "dist/shard.h"
#include "io/encoded_h5.h"
#include "io/hf_cache.h"
#include "io/responses.h"
#include "model/llama.h"
#include "model/pooling.h"
#include "model/sae.h"
#include "saediff/version.h"
#include "text/chat_template.h"

namespace saediff {
namespace {

// What every rank must know about the documents: set names, row ids, failures.
struct Corpus {
  std::vector<SetLayout> sets;
  std::vector<DocWork> work;  // rank 0 only: every document, tokenized
};

Corpus build_corpus(const EncodeConfig& config, PoolScope scope) {
  const ReadResponsesResult read = read_responses(config.responses);
  if (read.torn_tail) log_warn(config.responses, ": ignoring a torn last line (an interrupted collect)");
  const std::vector<ResponseRecord> outcomes = latest_outcomes(read.records);
  SAEDIFF_CHECK(!outcomes.empty(), "'", config.responses, "' has no responses");

  std::vector<std::string> order;  // sets in order of first appearance
  std::map<std::string, std::vector<const ResponseRecord*>> by_set;
  for (const ResponseRecord& r : outcomes) {
    if (!by_set.count(r.set)) order.push_back(r.set);
    by_set[r.set].push_back(&r);
  }
  const std::string tokenizer_path =
      config.tokenizer.empty() ? (std::filesystem::path(config.model) / "tokenizer.json").string() : config.tokenizer;
  const Tokenizer tokenizer = Tokenizer::from_file(tokenizer_path);

  // Every successful response, in row order, tokenized on all of this rank's cores.
  std::vector<std::string_view> contents;
  for (const std::string& name : order)
    for (const ResponseRecord* r : by_set[name])
      if (r->ok()) contents.emplace_back(*r->response);
  const Timer timer;
  const std::vector<TemplatedDoc> docs = tokenize_documents(tokenizer, contents, ChatTemplate::llama3);
  log_info("tokenized ", docs.size(), " documents in ", timer.seconds(), " s");

  Corpus corpus;
  int64_t g = 0;
  for (const std::string& name : order) {
    SetLayout layout;
    layout.name = name;
    layout.first_doc = g;
    for (const ResponseRecord* r : by_set[name]) {
      if (!r->ok()) {
        layout.failed_doc_ids.push_back(r->prompt_id);
        continue;
      }
      if (r->finish_reason == "length") layout.truncated_doc_ids.push_back(r->prompt_id);
      const TemplatedDoc& doc = docs[static_cast<size_t>(g)];
      DocWork w;
      w.doc_index = g++;
      w.pool_begin = scope == PoolScope::content ? doc.content_begin : 0;
      w.pool_end = scope == PoolScope::content ? doc.content_end : static_cast<int32_t>(doc.ids.size());
      w.ids = doc.ids;
      // The pooled tokens' bytes are the document's text row; each token's end byte locates it there.
      std::string text;
      for (int32_t t = w.pool_begin; t < w.pool_end; ++t) {
        text += tokenizer.token_bytes(w.ids[static_cast<size_t>(t)]);
        layout.token_ids.push_back(w.ids[static_cast<size_t>(t)]);
        layout.token_end.push_back(static_cast<int64_t>(text.size()));
      }
      layout.texts.push_back(text);
      layout.prompts.push_back(r->prompt);
      layout.categories.push_back(r->category);
      if (layout.model_id.empty()) layout.model_id = r->model;
      if (layout.collected_first.empty() || r->collected_at < layout.collected_first) layout.collected_first = r->collected_at;
      layout.collected_last = std::max(layout.collected_last, r->collected_at);
      corpus.work.push_back(std::move(w));
      layout.doc_ids.push_back(r->prompt_id);
    }
    corpus.sets.push_back(std::move(layout));
  }
  return corpus;
}

std::string layout_to_json(const std::vector<SetLayout>& sets) {
  nlohmann::json j = nlohmann::json::array();
  for (const SetLayout& s : sets) {
    j.push_back({{"name", s.name}, {"first_doc", s.first_doc}, {"doc_ids", s.doc_ids}, {"failed", s.failed_doc_ids},
                 {"truncated", s.truncated_doc_ids}, {"categories", s.categories}, {"model_id", s.model_id},
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
    s.doc_ids = j["doc_ids"].get<std::vector<std::string>>();
    s.failed_doc_ids = j["failed"].get<std::vector<std::string>>();
    s.truncated_doc_ids = j["truncated"].get<std::vector<std::string>>();
    s.categories = j["categories"].get<std::vector<std::string>>();
    s.model_id = j["model_id"].get<std::string>();
    s.collected_first = j["collected"][0].get<std::string>();
    s.collected_last = j["collected"][1].get<std::string>();
    sets.push_back(std::move(s));
  }
  return sets;
}

}  // namespace

torch::Dtype parse_dtype(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  SAEDIFF_FAIL("unknown dtype '", name, "': expected float32 or bfloat16");
}

torch::Device select_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  SAEDIFF_CHECK(name == "cuda", "unknown device '", name, "': expected cpu or cuda");
  SAEDIFF_CHECK(torch::cuda::is_available(), "--device cuda, but this libtorch has no CUDA or no GPU is visible");
  const auto n_device = static_cast<int>(torch::cuda::device_count());
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(mpi::local_rank() % n_device));
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
  const PoolScope scope = parse_pool_scope(config.pool);
  const torch::Dtype dtype = parse_dtype(config.dtype);
  const torch::Device device = select_device(config.device);
  const int rank = mpi::comm_rank();
  const int n_rank = mpi::comm_size();
  SAEDIFF_CHECK(config.reduce == "auto" || config.reduce == "mpi" || config.reduce == "nccl",
                "unknown --reduce '", config.reduce, "': expected auto, mpi or nccl");
  const ReduceBackend backend =
      config.reduce == "nccl" || (config.reduce == "auto" && device.is_cuda() && nccl_usable()) ? ReduceBackend::nccl
                                                                                                 : ReduceBackend::mpi;
  set_torch_threads(config.threads);

  // Rank 0 reads and tokenizes every response, then hands out the documents.
  Corpus corpus;
  std::string layout_json;
  if (rank == 0) {
    corpus = build_corpus(config, scope);
    layout_json = layout_to_json(corpus.sets);
  }
  mpi::broadcast(layout_json);
  std::vector<SetLayout> sets = rank == 0 ? std::move(corpus.sets) : layout_from_json(layout_json);
  const std::vector<DocWork> mine = distribute_documents(corpus.work, MPI_COMM_WORLD);
  corpus.work.clear();
  int64_t n_doc = 0, n_failed = 0;
  for (const SetLayout& s : sets) {
    n_doc += static_cast<int64_t>(s.doc_ids.size());
    n_failed += static_cast<int64_t>(s.failed_doc_ids.size());
  }
  log_info0("encode: ", n_doc, " documents in ", sets.size(), " sets (", n_failed, " failed responses skipped) on ",
            n_rank, " ranks");

  // The SAE first, checked against config.json, so that a mismatched pair fails before the model loads.
  Timer load_timer;
  const Sae sae = Sae::load(config.sae, dtype, device);
  sae.check_input_width(LlamaConfig::from_json_file((std::filesystem::path(config.model) / "config.json").string()).d_model,
                        config.model);
  const LlamaModel model = LlamaModel::load(config.model, config.layer, dtype, device);
  log_info("loaded layers 0..", config.layer, " of ", config.model, " (", gib(model.weight_bytes()),
           " GiB) and the SAE in ", load_timer.seconds(), " s; ", memory_report(device));
  const int64_t d_sae = sae.d_sae();

  // Per-set counts of documents whose pooled max > threshold: [n_set * d_sae].
  std::vector<int64_t> counts(sets.size() * static_cast<size_t>(d_sae), 0);
  std::vector<PooledDoc> pooled;
  pooled.reserve(mine.size());
  int64_t my_tokens = 0;
  Timer timer;
  {
    torch::NoGradGuard no_grad;
    for (const DocWork& w : mine) {
      const torch::Tensor h = model.forward(w.ids);  // [n_token, d_model] float32
      const torch::Tensor f = sae.encode(h);         // [n_token, d_sae] float32
      PooledDoc doc = pool_features(f, w.pool_begin, w.pool_end, w.doc_index);
      token_topk(f, w.pool_begin, w.pool_end, config.token_topk, doc);
      size_t s = 0;
      while (s + 1 < sets.size() && sets[s + 1].first_doc <= w.doc_index) ++s;
      for (size_t k = 0; k < doc.feature.size(); ++k) {
        if (doc.max[k] > config.threshold) ++counts[s * static_cast<size_t>(d_sae) + static_cast<size_t>(doc.feature[k])];
      }
      my_tokens += static_cast<int64_t>(w.ids.size());
      pooled.push_back(std::move(doc));
    }
  }
  double seconds = timer.seconds();
  log_info("encoded ", mine.size(), " documents, ", my_tokens, " tokens in ", seconds, " s (",
           seconds > 0 ? static_cast<double>(my_tokens) / seconds : 0.0, " tokens/s); ", memory_report(device));

  allreduce_counts(counts, MPI_COMM_WORLD, backend);
  for (size_t s = 0; s < sets.size(); ++s) {
    sets[s].active_docs.assign(counts.begin() + static_cast<ptrdiff_t>(s * static_cast<size_t>(d_sae)),
                               counts.begin() + static_cast<ptrdiff_t>((s + 1) * static_cast<size_t>(d_sae)));
  }

  // Evidence pass: the top-diff features' exact per-token activations in their strongest documents.
  timer.reset();
  const std::vector<int32_t> ev_features = evidence_features(counts, sets, d_sae, config.evidence_features);
  const std::map<int64_t, std::vector<int32_t>> plan = plan_evidence(ev_features, sets, pooled, config.evidence_docs, MPI_COMM_WORLD);
  for (const auto& [doc, features] : plan) {
    size_t s = 0;
    while (s + 1 < sets.size() && sets[s + 1].first_doc <= doc) ++s;
    for (int32_t f : features) {
      sets[s].evidence_row.push_back(doc - sets[s].first_doc);
      sets[s].evidence_feature.push_back(f);
    }
  }
  int64_t n_rerun = 0;
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < mine.size(); ++i) {
      const auto it = plan.find(mine[i].doc_index);
      if (it == plan.end()) continue;
      const DocWork& w = mine[i];
      const torch::Tensor f = sae.encode(model.forward(w.ids));
      const torch::Tensor idx = torch::tensor(std::vector<int64_t>(it->second.begin(), it->second.end()), torch::kLong).to(f.device());
      const torch::Tensor v = f.slice(0, w.pool_begin, w.pool_end).index_select(1, idx).t().contiguous().to(torch::kCPU);
      pooled[i].evidence_values.assign(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
      ++n_rerun;
    }
  }
  log_info("evidence: ", ev_features.size(), " top-diff features; ran ", n_rerun, " of this rank's documents again in ",
           timer.seconds(), " s");

  EncodedAttrs attrs;
  attrs.text = {{"model", config.model},      {"sae", config.sae},          {"pooling", pool_scope_name(scope)},
                {"dtype", config.dtype},      {"config", resolved_config},  {"version", kVersion},
                {"commit", kGitCommit},       {"reduce", backend == ReduceBackend::nccl ? "nccl" : "mpi"},
                {"tokenizer", config.tokenizer.empty() ? (std::filesystem::path(config.model) / "tokenizer.json").string()
                                                       : config.tokenizer}};
  attrs.integer = {{"layer", config.layer}, {"d_model", model.config().d_model}, {"n_rank", n_rank},
                   {"token_topk", config.token_topk}, {"evidence_features", config.evidence_features},
                   {"evidence_docs", config.evidence_docs}};
  attrs.threshold = config.threshold;
  std::filesystem::path out_dir = std::filesystem::path(config.out).parent_path();
  if (rank == 0 && !out_dir.empty()) std::filesystem::create_directories(out_dir);
  mpi::barrier();
  write_encoded_h5(config.out, MPI_COMM_WORLD, sets, pooled, attrs, d_sae);

  int64_t n_tokens = my_tokens;
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &n_tokens, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD));
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD));
  log_info0("encode: ", n_tokens, " tokens in ", seconds, " s on the slowest rank (",
            seconds > 0 ? static_cast<double>(n_tokens) / seconds : 0.0, " tokens/s overall); wrote ", config.out);
  EncodeSummary summary;
  summary.n_docs = n_doc;
  summary.n_failed = n_failed;
  summary.n_tokens = n_tokens;
  summary.seconds = seconds;
  return summary;
}

}  // namespace saediff
