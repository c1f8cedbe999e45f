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

#include "app/encode_assemble.h"
#include "app/encode_plan.h"
#include "app/encode_read.h"
#include "app/encode_reduce.h"
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

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "unknown";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return cat(s / 3600, " h ", (s % 3600) / 60, " min");
  if (s >= 60) return cat(s / 60, " min ", s % 60, " s");
  return cat(s, " s");
}

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

// The configuration with repo ids resolved in the local Hugging Face cache, or an error naming what is missing.
EncodeConfig checked_config(const EncodeConfig& given) {
  EncodeConfig config = given;
  if (!config.model.empty()) config.model = resolve_model_dir(config.model);
  if (!config.sae.empty()) config.sae = resolve_checkpoint_file(config.sae);
  SAEDIFF_CHECK(!config.responses.empty(), "encode needs --responses FILE.jsonl");
  SAEDIFF_CHECK(!config.model.empty(), "encode needs --model DIR");
  SAEDIFF_CHECK(!config.sae.empty(), "encode needs --sae FILE");
  SAEDIFF_CHECK(!config.out.empty(), "encode needs --out FILE.h5");
  check_output_path(config.out, OutputKind::file, "encode --out");
  check_output_path(spool::dir_for(config.out), OutputKind::folder, "encode's record of finished documents");
  SAEDIFF_CHECK(config.layer >= 0, "--layer must be >= 0");
  SAEDIFF_CHECK(config.chunk_tokens > 0, "--chunk-tokens must be positive");
  SAEDIFF_CHECK(config.batch_tokens > 0, "--batch-tokens must be positive");
  SAEDIFF_CHECK(config.reduce == "auto" || config.reduce == "mpi" || config.reduce == "nccl",
                "unknown --reduce '", config.reduce, "': expected auto, mpi or nccl");
  return config;
}

// Rank 0's progress line: documents, tokens, rate, ETA (by bytes of text) and the largest rank's memory.
void log_progress(const std::vector<WorkProgress>& ranks, int64_t n_resumed, int64_t n_doc, int64_t pending_bytes, double t) {
  int64_t docs = n_resumed, tokens = 0, bytes = 0, rss = 0;
  for (const WorkProgress& p : ranks) {
    docs += p.docs;
    tokens += p.tokens;
    bytes += p.bytes;
    rss = std::max(rss, p.rss_bytes);
  }
  const double eta = bytes > 0 ? static_cast<double>(pending_bytes - bytes) * t / static_cast<double>(bytes) : NAN;
  char memory[32];
  std::snprintf(memory, sizeof memory, "%.2f", gib(rss));
  log_info("encode: ", docs, "/", n_doc, " documents (", n_doc > 0 ? 100 * docs / n_doc : 100, "%), ", tokens,
           " tokens, ", static_cast<int64_t>(t > 0 ? static_cast<double>(tokens) / t : 0), " tokens/s, ETA ",
           duration_text(eta), "; largest rank resident ", memory, " GiB");
}

// encoded.h5's attributes: what the file was made with (never a secret).
EncodedAttrs encoded_attrs(const EncodeConfig& config, const std::string& resolved_config, PoolScope scope,
                           ReduceBackend backend, const torch::Device& device, const std::string& tokenizer_path,
                           const std::string& tokenizer_sha256, int64_t d_model) {
  EncodedAttrs attrs;
  attrs.text = {{"model", config.model},      {"sae", config.sae},          {"pooling", pool_scope_name(scope)},
                {"dtype", config.dtype},      {"config", resolved_config},  {"version", kVersion},
                {"commit", kGitCommit},       {"reduce", backend == ReduceBackend::nccl ? "nccl" : "mpi"},
                {"device", device.is_cuda() ? "cuda" : "cpu"},               {"tokenizer", tokenizer_path}};
  attrs.text["tokenizer_sha256"] = tokenizer_sha256;
  attrs.integer = {{"layer", config.layer}, {"d_model", d_model}, {"n_rank", mpi::comm_size()},
                   {"token_topk", config.token_topk}, {"evidence_features", config.evidence_features},
                   {"evidence_docs", config.evidence_docs}};
  attrs.threshold = config.threshold;
  return attrs;
}

// The "timings" attribute: the phases' seconds and counts, and the per-rank load (for users and benchmarks; never
// compared between runs).
std::string timings_json(const std::vector<WorkProgress>& loads, nlohmann::json phases) {
  nlohmann::json per_rank = nlohmann::json::array();
  for (const WorkProgress& p : loads) {
    per_rank.push_back({{"chunks", p.chunks}, {"docs", p.docs}, {"tokens", p.tokens}, {"busy_s", p.busy_s},
                        {"wait_s", p.wait_s}, {"peak_rss_bytes", p.peak_rss_bytes}});
  }
  phases["ranks"] = per_rank;
  return phases.dump();
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
  const EncodeConfig config = checked_config(given);
  const PoolScope scope = parse_pool_scope(config.pool);
  const torch::Dtype dtype = parse_dtype(config.dtype);
  const torch::Device device = select_device(config.device, config.share_gpus);
  const int rank = mpi::comm_rank();
  const int n_rank = mpi::comm_size();
  const ReduceBackend backend =
      config.reduce == "nccl" || (config.reduce == "auto" && device.is_cuda() && nccl_usable()) ? ReduceBackend::nccl
                                                                                                 : ReduceBackend::mpi;
  set_torch_threads(config.threads);
  const Timer total_timer;
  const std::string tokenizer_path =
      config.tokenizer.empty() ? (std::filesystem::path(config.model) / "tokenizer.json").string() : config.tokenizer;
  const std::string spool_dir = spool::dir_for(config.out);
  const LlamaConfig llama = LlamaConfig::from_json_file((std::filesystem::path(config.model) / "config.json").string());
  SAEDIFF_CHECK(llama.max_position_embeddings <= 0 || config.max_doc_tokens <= llama.max_position_embeddings,
                "--max-doc-tokens ", config.max_doc_tokens, " is more than the model's max_position_embeddings (",
                llama.max_position_embeddings, ") in ", config.model, ": positions past it were never trained");
  SAEDIFF_CHECK(config.layer < llama.n_layer, "layer ", config.layer, " does not exist: '", config.model, "' has ",
                llama.n_layer, " decoder layers (0..", llama.n_layer - 1, ")");
  // One writer per output: a second encode of the same --out is refused here, before any work.
  OutputLock lock;
  if (rank == 0) lock = OutputLock(config.out, "encode --out");

  // Plan: rank 0 reads the responses and what an earlier, interrupted run of the same --out left in the spool;
  // every rank learns the sets.
  EncodePlan plan = EncodePlan::make(config, tokenizer_path, spool_dir);
  std::vector<SetLayout>& sets = plan.sets;
  const int64_t n_doc = plan.n_doc, n_failed = plan.n_failed, n_resumed = plan.n_resumed;
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
  sae.check_input_width(llama.d_model, config.model);
  const LlamaModel model = LlamaModel::load(config.model, config.layer, dtype, device);
  const Tokenizer tokenizer = Tokenizer::from_file(tokenizer_path);
  const double load_s = step.seconds();
  log_info("loaded layers 0..", config.layer, " of ", config.model, " (", gib(model.weight_bytes()),
           " GiB), the SAE and the tokenizer in ", load_s, " s; ", memory_report(device));
  const int64_t d_sae = sae.d_sae();
  const auto n_set = static_cast<int64_t>(sets.size());
  plan.find_cut_documents(tokenizer, doc_token_cap(config, model.config()));
  plan.make_batches(config.batch_tokens, config.chunk_tokens, n_rank);
  plan.open_spool();  // everything that can refuse the run has passed: from here on, work is recorded

  // Dispatch and read: rank 0 hands out chunks of whole batches to whichever rank asks; each rank's reader
  // encodes them, pipelined, into its spool file, made durable at the end of every chunk.
  ChunkReader reader(config, model, sae, tokenizer, scope, n_set, device, spool_dir);
  DispatchHooks hooks;
  hooks.pack = [&](size_t c) { return plan.chunk_message(c); };
  hooks.process = [&](const std::string& message, WorkProgress& progress, const std::function<void()>& poll) {
    reader.process(message, progress, poll);
  };
  const Timer encode_timer;
  hooks.report_seconds = config.progress_seconds > 0 ? config.progress_seconds : 1e300;
  hooks.report = [&](const std::vector<WorkProgress>& ranks) {
    log_progress(ranks, n_resumed, n_doc, plan.pending_bytes, encode_timer.seconds());
  };
  const std::vector<WorkProgress> loads = dispatch_chunks(MPI_COMM_WORLD, plan.n_chunks(), hooks);
  const double encode_s = encode_timer.seconds();
  int64_t n_tokens = 0;
  if (rank == 0) {
    for (const WorkProgress& p : loads) n_tokens += p.tokens;
    log_info("encode: ", n_doc - n_resumed, " documents, ", n_tokens, " tokens in ", encode_s, " s (",
             encode_s > 0 ? static_cast<double>(n_tokens) / encode_s : 0.0, " tokens/s); per rank:");
    log_load_balance(loads, encode_s);
  }
  MPI_CHECK(MPI_Bcast(&n_tokens, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));

  // Assemble: every record's place, on rank 0; then each rank takes a contiguous run of documents.
  step.reset();
  const Assembly assembly = place_records(plan, reader.close());
  SpoolSource& source = *assembly.source;

  // Reduce: per-set counts over all ranks, this run's and earlier runs' documents.
  const Timer reduce_timer;
  const std::vector<int64_t> host_counts =
      reduce_counts(reader.counts(), source, assembly.n_old_files, config.threshold, backend, sets);
  const double reduce_s = reduce_timer.seconds();

  // The file: rank 0's strings, every rank's run of documents streamed from the spool, then the evidence.
  mpi::broadcast(plan.tokenizer_sha256);
  const EncodedAttrs attrs = encoded_attrs(config, resolved_config, scope, backend, device, tokenizer_path,
                                           plan.tokenizer_sha256, model.config().d_model);
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
  const std::map<int64_t, std::vector<int32_t>> evidence_plan = candidates.plan(MPI_COMM_WORLD);
  const std::vector<EvidenceValues> evidence = read_evidence(evidence_plan, source, model, sae, sets);
  writer.write_evidence(sets, evidence);
  const double evidence_s = step.seconds();
  log_info0("evidence: ", ev_features.size(), " top-diff features in ", evidence_plan.size(), " documents, run again in ", evidence_s, " s");

  // Timings and the per-rank load, for users and benchmarks (never compared between runs).
  std::string timings;
  if (rank == 0) {
    timings = timings_json(loads, {{"setup_s", setup_s}, {"load_s", load_s}, {"encode_s", encode_s},
                                   {"reduce_s", reduce_s}, {"write_s", write_s}, {"evidence_s", evidence_s},
                                   {"total_s", total_timer.seconds()}, {"n_resumed", n_resumed}, {"n_tokens", n_tokens}});
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
