#include "app/cli.h"

#include <CLI/CLI.hpp>
#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "analysis/report.h"
#include "app/build_info.h"
#include "app/device.h"
#include "app/options.h"
#include "app/run.h"
#include "analysis/search.h"
#include "core/files.h"
#include "core/log.h"
#include "core/memory.h"
#include "core/timer.h"
#include "io/json_text.h"
#include "dist/mpi.h"
#include "model/llama.h"
#include "model/safetensors.h"
#include "io/hf_cache.h"
#include "saediff/version.h"
#include "text/chat_template.h"

namespace saediff {
namespace {

struct TokenizeConfig {
  std::string tokenizer, input, output, chat_template = "none";
  int threads = 0;  // 0: every core
  bool decode = false;  // ids -> text instead
};

struct ForwardConfig {
  std::string model, input, output, dtype = "float32", device = "cpu";
  int layer = 19;
  int threads = 0;
};

// Reads a JSONL file whose every line is an object with `key`. Invalid UTF-8 and lone surrogates become
// U+FFFD, with one warning for the file.
std::vector<nlohmann::json> read_jsonl_field(const std::string& path, const char* key) {
  std::ifstream in(path, std::ios::binary);
  SAEDIFF_CHECK(in, "cannot open '", path, "'");
  std::vector<nlohmann::json> out;
  std::string line;
  int64_t line_no = 0;
  JsonRepairCounts repaired;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json j = parse_json_lossy(line, repaired);
    SAEDIFF_CHECK(!j.is_discarded() && j.is_object() && j.contains(key), path, ":", line_no,
                  ": expected a JSON object with \"", key, "\"");
    out.push_back(j[key]);
  }
  if (repaired.total() > 0) log_warn(path, ": ", describe_repairs(repaired));
  return out;
}

// {"ids": [...]} lines to {"text": ..., "pieces": [...]} lines: the decoded text, and each token's text in
// context (the pieces joined equal the text).
void run_detokenize(const TokenizeConfig& c, const Tokenizer& tokenizer) {
  const std::vector<nlohmann::json> docs = read_jsonl_field(c.input, "ids");
  std::string out;
  for (size_t i = 0; i < docs.size(); ++i) {
    SAEDIFF_CHECK(docs[i].is_array(), c.input, ": line ", i + 1, ": \"ids\" must be an array of token ids");
    std::vector<int32_t> ids;
    for (const auto& id : docs[i]) {
      SAEDIFF_CHECK(id.is_number_integer(), c.input, ": line ", i + 1, ": \"ids\" must be an array of token ids");
      const auto v = id.get<int64_t>();
      SAEDIFF_CHECK(v >= 0 && v < tokenizer.vocab_size(), c.input, ": line ", i + 1, ": token id ", v,
                    " outside the vocabulary [0, ", tokenizer.vocab_size(), ")");
      ids.push_back(static_cast<int32_t>(v));
    }
    out += nlohmann::json{{"text", tokenizer.decode(ids)}, {"pieces", tokenizer.decode_pieces(ids)}}.dump() + "\n";
  }
  write_file_atomic(c.output, out);
  log_info("tokenize --decode: ", docs.size(), " id lists -> ", c.output);
}

void run_tokenize(const TokenizeConfig& c) {
  const Tokenizer tokenizer = Tokenizer::from_file(c.tokenizer);
  if (c.decode) {
    run_detokenize(c, tokenizer);
    return;
  }
  const ChatTemplate tmpl = parse_chat_template(c.chat_template);
  const std::vector<nlohmann::json> texts = read_jsonl_field(c.input, "text");
  std::vector<std::string_view> views(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    SAEDIFF_CHECK(texts[i].is_string(), c.input, ": line ", i + 1, ": \"text\" must be a string");
    views[i] = texts[i].get_ref<const std::string&>();
  }
  const std::vector<TemplatedDoc> docs = tokenize_documents(tokenizer, views, tmpl, c.threads);
  std::string out;
  for (const TemplatedDoc& doc : docs) out += nlohmann::json{{"ids", doc.ids}}.dump() + "\n";
  write_file_atomic(c.output, out);
  log_info("tokenize: ", texts.size(), " texts -> ", c.output);
}

void run_forward(const ForwardConfig& c) {
  set_torch_threads(c.threads);
  const torch::Device device = select_device(c.device);
  Timer load_timer;
  const LlamaModel model = LlamaModel::load(resolve_model_dir(c.model), c.layer, parse_dtype(c.dtype), device);
  log_info("forward: loaded layers 0..", c.layer, " (", gib(model.weight_bytes()), " GiB) in ", load_timer.seconds(),
           " s; ", memory_report(device));
  const std::vector<nlohmann::json> docs = read_jsonl_field(c.input, "ids");
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < docs.size(); ++i) {
    const auto ids = docs[i].get<std::vector<int32_t>>();
    SAEDIFF_CHECK(!ids.empty(), c.input, ": line ", i + 1, ": empty ids");
    for (int32_t id : ids) {
      SAEDIFF_CHECK(id >= 0 && id < model.config().vocab_size, c.input, ": line ", i + 1, ": token id ", id,
                    " outside the vocabulary [0, ", model.config().vocab_size, ")");
    }
    tensors.emplace_back("doc." + std::to_string(i), model.forward(ids).to(torch::kCPU, torch::kFloat32));
  }
  write_safetensors(c.output, tensors, {{"layer", std::to_string(c.layer)}, {"model", c.model}});
  log_info("forward: ", docs.size(), " documents through layer ", c.layer, " -> ", c.output, "; ",
           memory_report(device));
}

// Adds `--config FILE` to a subcommand; returns where the path is stored.
void add_config_option(CLI::App& app, std::string& path) {
  app.add_option("--config", path, "TOML file with option values (command-line options win)")
      ->configurable(false)
      ->check(CLI::ExistingFile);
}

void print_resolved(const std::string& toml) {
  if (mpi::comm_rank() == 0) std::fprintf(stderr, "# saediff %s (%s): resolved config\n%s", kVersion, kGitCommit, toml.c_str());
}

}  // namespace

int run_cli(int argc, char** argv) {
  // MPI starts only where ranks take part: under a launcher (every rank must join, whatever the subcommand), or
  // for encode and run, which are collective. Everything else (--version, --help, tokenize, forward, diff, label,
  // make-demo-model, collect) runs as one process and never starts Open MPI's singleton daemon.
  std::optional<mpi::Environment> mpi_env;
  if (mpi::launched_by_mpi()) mpi_env.emplace(&argc, &argv);
  curl_global_init(CURL_GLOBAL_DEFAULT);  // once, before any thread exists
  CLI::App app{"saediff: SAE-based data diffing of two LLM checkpoints (collect, encode, diff)."};
  app.option_defaults()->always_capture_default();
  app.require_subcommand(1);
  app.set_version_flag("--version", [] { return build_info(); }, "Print the version and the build (libtorch, CUDA, NCCL, MPI)");
  std::string config_path;

  CollectConfig collect;
  CLI::App* c_collect = app.add_subcommand("collect", "Query every (prompt, model) pair through an OpenAI-compatible API");
  add_config_option(*c_collect, config_path);
  add_collect_options(*c_collect, collect);

  EncodeConfig encode;
  CLI::App* c_encode = app.add_subcommand("encode", "Read responses with Llama, encode with the SAE, pool, write HDF5 (MPI)");
  add_config_option(*c_encode, config_path);
  add_encode_options(*c_encode, encode);

  DiffConfig diff;
  CLI::App* c_diff = app.add_subcommand("diff", "Diff feature frequencies of two sets and write the report");
  add_config_option(*c_diff, config_path);
  add_diff_options(*c_diff, diff);

  LabelConfig label;
  CLI::App* c_label = app.add_subcommand("label", "Relabel the report's top features with an LLM (optionally scored)");
  add_config_option(*c_label, config_path);
  add_label_options(*c_label, label);

  InterpretConfig interpret;
  CLI::App* c_interpret = app.add_subcommand(
      "interpret", "Hypotheses from the discovery prompts' features, verified by an LLM judge on held-out answer pairs");
  add_config_option(*c_interpret, config_path);
  add_interpret_options(*c_interpret, interpret);

  SearchConfig search;
  CLI::App* c_search = app.add_subcommand("search", "The strongest documents of a feature (--feature ID or --label TEXT)");
  add_config_option(*c_search, config_path);
  c_search->add_option("--encoded", search.encoded, "encoded.h5 from encode")->check(CLI::ExistingFile);
  c_search->add_option("--feature", search.feature, "Feature id")->check(at_least(0));
  c_search->add_option("--label", search.label, "Every feature whose label contains this text (case-insensitive)");
  c_search->add_option("--labels", search.labels, "Labels to search and show: FILE.json|FILE.csv, or hf (as diff's)");
  c_search->add_option("--set", search.sets, "Sets to show (repeatable; default: every set)");
  c_search->add_option("--docs", search.docs, "Strongest documents per set")->check(in_range(1, 1000));
  c_search->add_option("--window", search.window, "Tokens either side of the strongest token (-1: whole document)")
      ->check(in_range(-1, 1 << 20));
  c_search->add_option("--max-features", search.max_features, "--label matches shown, at most")->check(in_range(1, 65536));
  c_search->add_option("--out", search.out, "Also write FILE.md or FILE.html");

  RunConfig run;
  CLI::App* c_run = app.add_subcommand("run", "collect, encode and diff in one job, from a TOML config");
  c_run->add_option("--config", config_path, "TOML config: top-level keys plus [collect], [encode], [diff]")
      ->configurable(false)
      ->check(CLI::ExistingFile);
  c_run->add_option("--out", run.out, "Job folder (overrides the config's 'out')");
  c_run->add_option("--responses", run.responses, "Encode this responses.jsonl instead of collecting");
  c_run->add_flag("--demo-model", run.demo_model, "Generate a small random Llama and SAE and use them");
  c_run->add_option("--demo-tokenizer", run.demo_tokenizer, "tokenizer.json for the generated model");
  c_run->add_option("--seed", run.seed, "Seed of the generated checkpoints");
  c_run->add_option("--demo-d-sae", run.demo_d_sae, "SAE width of the generated SAE")->check(greater_than(0));
  c_run->add_option("--demo-plant", run.demo_plant, "Plant the SAE features this file lists (configs/demo/behaviours.json)")
      ->check(CLI::ExistingFile);
  c_run->add_option("--stages", run.stages, "Stages to run, comma-separated: collect,encode,diff[,interpret] (the "
                    "Slurm stage scripts run one each on the same --out); interpret needs [interpret] proposer and judge");

  TokenizeConfig tok;
  CLI::App* c_tok = app.add_subcommand("tokenize", "Tokenize JSONL {\"text\"} lines into {\"ids\"} lines");
  add_config_option(*c_tok, config_path);
  c_tok->add_option("--tokenizer", tok.tokenizer, "tokenizer.json")->check(CLI::ExistingFile);
  c_tok->add_option("--input", tok.input, "JSONL with {\"text\": ...} per line")->check(CLI::ExistingFile);
  c_tok->add_option("--output", tok.output, "JSONL with {\"ids\": [...]} per line");
  c_tok->add_option("--chat-template", tok.chat_template, "none (no special tokens added) or llama3")
      ->check(CLI::IsMember({"none", "llama3"}));
  c_tok->add_option("--threads", tok.threads, "Threads (0: every core)")->check(at_least(0));
  c_tok->add_flag("--decode", tok.decode,
                  "Decode instead: {\"ids\"} lines to {\"text\", \"pieces\"} lines (pieces: each token's text)");

  ForwardConfig fwd;
  CLI::App* c_fwd = app.add_subcommand("forward", "Run the Llama reader to layer L on JSONL {\"ids\"} lines");
  add_config_option(*c_fwd, config_path);
  c_fwd->add_option("--model", fwd.model, "HF Llama folder, or a repo id in the local HF cache");
  c_fwd->add_option("--layer", fwd.layer, "Decoder layer (0-indexed)")->check(at_least(0));
  c_fwd->add_option("--input", fwd.input, "JSONL with {\"ids\": [...]} per line")->check(CLI::ExistingFile);
  c_fwd->add_option("--output", fwd.output, "safetensors: doc.<i> float32 [T_i, hidden]");
  c_fwd->add_option("--dtype", fwd.dtype, "float32 or bfloat16")->check(CLI::IsMember({"float32", "bfloat16"}));
  c_fwd->add_option("--device", fwd.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  c_fwd->add_option("--threads", fwd.threads, "libtorch threads (0: all cores)")->check(at_least(0));

  std::string demo_out, demo_tokenizer, demo_plant;
  uint64_t demo_seed = 1234;
  int64_t demo_d_sae = 16384;
  CLI::App* c_demo = app.add_subcommand("make-demo-model", "Write the random demo Llama (HF layout) and SAE");
  c_demo->add_option("--out", demo_out, "Model folder (the SAE goes to OUT/sae.safetensors)")->required();
  c_demo->add_option("--tokenizer", demo_tokenizer, "tokenizer.json to copy into the folder")->required();
  c_demo->add_option("--seed", demo_seed, "Seed");
  c_demo->add_option("--d-sae", demo_d_sae, "SAE width")->check(greater_than(0));
  c_demo->add_option("--plant", demo_plant, "Plant the SAE features this file lists (configs/demo/behaviours.json); "
                     "writes OUT/planted.json and OUT/labels.json")->check(CLI::ExistingFile);

  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      const int code = mpi::comm_rank() == 0 ? app.exit(e) : (e.get_exit_code() == 0 ? 0 : 2);
      return code == 0 ? 0 : 2;
    }
    CLI::App* sub = app.get_subcommands().front();
    const std::string name = sub->get_name();
    if (!mpi_env && (name == "encode" || name == "run")) mpi_env.emplace(&argc, &argv);

    if (name == "run") {
      // The run's own keys at the top level; each stage's in its section.
      CLI::App a_collect{"collect"}, a_encode{"encode"}, a_diff{"diff"}, a_interpret{"interpret"};
      for (CLI::App* a : {&a_collect, &a_encode, &a_diff, &a_interpret}) a->option_defaults()->always_capture_default();
      add_collect_options(a_collect, run.collect);
      add_encode_options(a_encode, run.encode);
      add_diff_options(a_diff, run.diff);
      add_interpret_options(a_interpret, run.interpret);
      if (!config_path.empty()) {
        const ConfigFile file = read_config_toml(config_path);
        check_config_file(app, file, "run");
        apply_config(*c_run, file, "");
        apply_config(a_collect, file, "collect");
        apply_config(a_encode, file, "encode");
        apply_config(a_diff, file, "diff");
        apply_config(a_interpret, file, "interpret");
      }
      // Show the paths run derives in the resolved config, as they will be used.
      derive_run_paths(run);
      // Only the recorded result changes (for the printout): the bound fields are already set, and
      // validators such as ExistingFile must not run on outputs that do not exist yet.
      const auto show = [](CLI::App& a, const std::string& option, const std::string& value) {
        CLI::Option* opt = a.get_option("--" + option);
        opt->clear();
        opt->add_result(value);
      };
      if (run.responses.empty()) show(a_collect, "out", run.collect.out);
      show(a_encode, "responses", run.encode.responses);
      show(a_encode, "model", run.encode.model);
      show(a_encode, "sae", run.encode.sae);
      show(a_encode, "out", run.encode.out);
      show(a_encode, "threshold", std::to_string(run.encode.threshold));
      show(a_diff, "encoded", run.diff.encoded);
      show(a_diff, "out", run.diff.out);
      if (!run.diff.findings.empty()) show(a_diff, "findings", run.diff.findings);
      std::string resolved = resolved_toml(*c_run) + "\n" + resolved_toml(a_collect, "collect") + "\n" +
                             resolved_toml(a_encode, "encode") + "\n" + resolved_toml(a_diff, "diff");
      if (run_stages(run.stages).interpret) {
        show(a_interpret, "encoded", run.interpret.encoded);
        show(a_interpret, "report", run.interpret.report);
        show(a_interpret, "responses", run.interpret.responses);
        show(a_interpret, "out", run.interpret.out);
        resolved += "\n" + resolved_toml(a_interpret, "interpret");
      }
      print_resolved(resolved);
      return run_pipeline(run, resolved);
    }
    if (!config_path.empty()) {
      const ConfigFile file = read_config_toml(config_path);
      check_config_file(app, file, name);
      apply_config(*sub, file, name);
    }
    if (name != "make-demo-model") print_resolved(resolved_toml(*sub, name));

    if (name == "encode") {
      run_encode(encode, resolved_toml(*sub, name));
      return 0;
    }
    if (mpi::comm_rank() != 0) return 0;  // the single-process subcommands run on rank 0
    if (name == "collect") {
      require_options(*sub, {"prompts", "out"});
      SAEDIFF_CHECK(!collect.models.empty(), "collect needs at least one --model NAME=ID");
      const CollectSummary s = collect_responses(collect);
      log_info("collect: ", s.n_pairs, " pairs: ", s.n_skipped, " already collected, ", s.n_ok, " collected now, ",
               s.n_failed, " failed");
      if (s.interrupted_by != 0) return 128 + s.interrupted_by;  // the shell's convention for a signal
      return s.n_failed > 0 ? 3 : 0;
    }
    if (name == "diff") {
      require_options(*sub, {"encoded", "baseline", "candidate", "out"});
      run_diff(diff, resolved_toml(*sub, name));
      return 0;
    }
    if (name == "interpret") {
      require_options(*sub, {"encoded", "report", "responses", "out", "proposer", "judge"});
      const InterpretSummary s = run_interpret(interpret);
      return s.n_failed > 0 || s.n_unparsed > 0 ? 3 : 0;
    }
    if (name == "search") {
      require_options(*sub, {"encoded"});
      run_search(search);
      return 0;
    }
    if (name == "label") {
      require_options(*sub, {"encoded", "features", "out", "labeler"});
      const LabelSummary s = run_label(label);
      return s.n_failed > 0 || s.n_unparsed > 0 ? 3 : 0;
    }
    if (name == "tokenize") {
      require_options(*sub, {"tokenizer", "input", "output"});
      run_tokenize(tok);
      return 0;
    }
    if (name == "forward") {
      require_options(*sub, {"model", "input", "output"});
      run_forward(fwd);
      return 0;
    }
    if (name == "make-demo-model") {
      make_demo_checkpoints(demo_out, (std::filesystem::path(demo_out) / "sae.safetensors").string(), demo_tokenizer,
                            demo_seed, demo_d_sae, demo_plant);
      return 0;
    }
    SAEDIFF_FAIL("unhandled subcommand '", name, "'");
  } catch (const std::exception& e) {
    // One rank's fatal error must not leave the others waiting in a collective: abort them all.
    log_error(e.what());
    if (mpi::comm_size() > 1) {
      // Most refusals fail on every rank at once. Rank 0 owns the outputs' lock file (and the folders it made):
      // the others give it a moment to unwind and remove them before the abort takes every rank down.
      if (mpi::comm_rank() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
      mpi::abort_all(1);
    }
    return 1;
  }
}

}  // namespace saediff
