#include "app/run.h"

#include <algorithm>
#include <filesystem>

#include "analysis/report.h"
#include "core/log.h"
#include "dist/mpi.h"
#include "model/planted.h"
#include "model/random_checkpoint.h"
#include "text/tokenizer.h"

namespace saediff {

void make_demo_checkpoints(const std::string& model_dir, const std::string& sae_path, const std::string& tokenizer,
                           uint64_t seed, int64_t d_sae, const std::string& plant_file) {
  SAEDIFF_CHECK(std::filesystem::is_regular_file(tokenizer), "demo tokenizer '", tokenizer,
                "' not found (scripts/setup.sh fetches the Llama 3.1 tokenizer.json)");
  RandomLlamaSpec llama;
  llama.seed = seed;
  RandomSaeSpec sae;
  sae.d_model = llama.d_model;
  sae.d_sae = d_sae;
  sae.seed = seed + 1;
  // The plant file is read (and refused) before anything is written.
  std::vector<PlantedFeature> planted;
  if (!plant_file.empty()) {
    planted = read_plant_file(plant_file, Tokenizer::from_file(tokenizer));
    place_planted(planted, llama.d_model, d_sae, seed + 2);
    // The random features made as sparse as a trained SAE's (about 5 of 16,384 per token above 0.5, against
    // 40 with the unplanted defaults), so that they do not crowd out the planted ones by chance.
    sae.bias_min = 4.5;
    sae.bias_range = 1.0;
    for (const PlantedFeature& p : planted) {
      llama.planted.push_back(p.triggers);
      sae.planted.emplace_back(p.feature, p.dim);
    }
  }
  std::filesystem::create_directories(model_dir);
  write_random_llama(model_dir, llama);
  std::filesystem::copy_file(tokenizer, std::filesystem::path(model_dir) / "tokenizer.json",
                             std::filesystem::copy_options::overwrite_existing);
  write_random_sae(sae_path, sae);
  if (planted.empty()) return;
  const PlantMargin m = check_planted(model_dir, sae_path, planted, seed);
  write_planted(model_dir, planted);
  log_info("demo model: ", planted.size(), " planted features (", plant_file, "); on a probe of ", m.n_tokens,
           " tokens at layers 0..", m.n_layers - 1, " each fires at >= ", m.min_trigger,
           " on its triggers and has pre-activation <= ", m.max_other, " on every other token");
}

void derive_run_paths(RunConfig& config) {
  SAEDIFF_CHECK(!config.out.empty(), "run needs --out DIR (or 'out' in the config file)");
  const std::filesystem::path out(config.out);
  if (config.responses.empty()) {
    config.collect.out = (out / "responses").string();
    config.encode.responses = (out / "responses" / "responses.jsonl").string();
  } else {
    config.encode.responses = config.responses;
  }
  if (config.demo_model) {
    config.encode.model = (out / "demo-model").string();
    config.encode.sae = (out / "demo-model" / "sae.safetensors").string();
    // The planted features' labels, unless the config names labels of its own.
    if (!config.demo_plant.empty() && config.diff.labels.empty()) {
      config.diff.labels = (out / "demo-model" / "labels.json").string();
    }
  }
  config.encode.out = (out / "encoded.h5").string();
  config.encode.threshold = config.diff.threshold;
  config.diff.encoded = config.encode.out;
  config.diff.out = (out / "report").string();
  config.interpret.encoded = config.encode.out;
  config.interpret.report = config.diff.out;
  config.interpret.responses = config.encode.responses;
  config.interpret.out = (out / "interpret").string();
  // A later diff-only job shows the findings an earlier interpret stage wrote, when they were made from this
  // encoded file (diff checks, and leaves them out with a warning otherwise).
  const std::string findings = (out / "interpret" / "findings.json").string();
  const RunStages stages = run_stages(config.stages);
  if (config.diff.findings.empty() && !stages.encode && !stages.interpret && std::filesystem::is_regular_file(findings)) {
    config.diff.findings = findings;
    config.diff.findings_optional = true;
  }
}

RunStages run_stages(const std::string& list) {
  RunStages s;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string name = list.substr(start, comma - start);
    if (name == "collect") s.collect = true;
    else if (name == "encode") s.encode = true;
    else if (name == "diff") s.diff = true;
    else if (name == "interpret") s.interpret = true;
    else SAEDIFF_FAIL("unknown stage '", name, "' in --stages '", list, "': expected collect, encode, diff, interpret");
    start = comma + 1;
  }
  return s;
}

int run_pipeline(RunConfig config, const std::string& resolved_config) {
  derive_run_paths(config);
  const RunStages stages = run_stages(config.stages);
  const int rank = mpi::comm_rank();
  if (rank == 0) std::filesystem::create_directories(config.out);
  int exit_code = 0;

  // 1. Responses: collected on rank 0, or given.
  if (!stages.collect) {
    log_info0("run: collect stage not selected");
  } else if (config.responses.empty()) {
    int64_t state[2] = {0, 0};  // failed pairs, signal that stopped collection
    if (rank == 0) {
      const CollectSummary s = collect_responses(config.collect);
      state[0] = s.n_failed;
      state[1] = s.interrupted_by;
    }
    MPI_CHECK(MPI_Bcast(state, 2, MPI_INT64_T, 0, MPI_COMM_WORLD));
    const int64_t n_failed = state[0];
    if (state[1] != 0) {
      log_warn0("run: collection stopped by signal ", state[1], "; encode and diff skipped (run again to resume)");
      return 128 + static_cast<int>(state[1]);
    }
    if (n_failed > 0) {
      log_warn("run: ", n_failed, " pairs failed to collect; they are counted in the report and not encoded");
      exit_code = 3;
    }
  } else {
    log_info0("run: responses given (", config.responses, "): collection skipped");
  }

  if (!stages.encode && !stages.diff && !stages.interpret) return exit_code;

  // 2. Checkpoints: generated for the demo, else as configured.
  if (stages.encode && config.demo_model) {
    if (rank == 0) {
      log_info("run: generating the demo Llama and SAE (seed ", config.seed, ") in ", config.encode.model);
      make_demo_checkpoints(config.encode.model, config.encode.sae, config.demo_tokenizer, config.seed,
                            config.demo_d_sae, config.demo_plant);
    }
    mpi::barrier();
  }

  // 3. Encode on every rank.
  if (stages.encode) run_encode(config.encode, resolved_config);

  // 4. Diff and report on rank 0.
  if (stages.diff) {
    if (rank == 0) run_diff(config.diff, resolved_config);
    mpi::barrier();
    log_info0("run: done; report in ", config.diff.out);
  }

  // 5. Hypotheses verified on held-out pairs (rank 0), then the report again, led by them.
  if (stages.interpret) {
    if (rank == 0) {
      SAEDIFF_CHECK(!config.interpret.proposer.empty() && !config.interpret.judge.empty(),
                    "the interpret stage needs proposer and judge model ids ([interpret] in the config)");
      const InterpretSummary s = run_interpret(config.interpret);
      if (s.n_failed > 0 || s.n_unparsed > 0) exit_code = std::max(exit_code, 3);
      config.diff.findings = (std::filesystem::path(config.interpret.out) / "findings.json").string();
      config.diff.findings_optional = false;
      run_diff(config.diff, resolved_config);
    }
    int64_t code = exit_code;
    MPI_CHECK(MPI_Bcast(&code, 1, MPI_INT64_T, 0, MPI_COMM_WORLD));
    exit_code = static_cast<int>(code);
    log_info0("run: interpret done; findings in ", config.interpret.out, ", report in ", config.diff.out);
  }
  return exit_code;
}

}  // namespace saediff
