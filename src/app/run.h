#pragma once
// `saediff run`: collect (unless a responses file is given), encode and diff in one job.
#include <cstdint>
#include <string>

#include "analysis/diff.h"
#include "analysis/interpret.h"
#include "app/encode.h"
#include "collect/collector.h"

namespace saediff {

struct RunConfig {
  std::string out;                 // job folder: responses/, encoded.h5, report/ (and demo-model/)
  std::string responses;           // when set, collection is skipped and this file is encoded
  bool demo_model = false;         // generate a small random Llama + SAE into OUT/demo-model and use them
  std::string demo_tokenizer;      // tokenizer.json copied into the generated model folder
  uint64_t seed = 1234;            // seed of the generated checkpoints
  int64_t demo_d_sae = 16384;      // SAE width of the generated SAE
  std::string demo_plant;          // plant file (configs/demo/behaviours.json): SAE features with known triggers
  // Which stages this job runs, comma-separated (collect, encode, diff, interpret): the Slurm stage scripts run
  // one each, chained with afterok, on the same job folder. interpret (an LLM proposer and judge, [interpret])
  // runs after diff and renders the report again with its findings first.
  std::string stages = "collect,encode,diff";
  CollectConfig collect;
  EncodeConfig encode;
  DiffConfig diff;
  InterpretConfig interpret;
};

struct RunStages {
  bool collect = false, encode = false, diff = false, interpret = false;
};
RunStages run_stages(const std::string& list);  // throws on an unknown stage

// Fills in the stage settings that `run` owns: collect.out, encode.{responses,model,sae,out,threshold},
// diff.{encoded,out}, interpret.{encoded,report,responses,out}, all under `out`; and diff.findings, when a job that
// does not encode again finds OUT/interpret/findings.json.
void derive_run_paths(RunConfig& config);

// Collective over MPI_COMM_WORLD; returns the process exit code.
int run_pipeline(RunConfig config, const std::string& resolved_config);

// Rank 0: writes the demo checkpoints (model folder with tokenizer.json, SAE file). With a plant file
// (model/planted.h), the features it lists are planted, checked on a probe, and written down in
// MODEL_DIR/planted.json and MODEL_DIR/labels.json.
void make_demo_checkpoints(const std::string& model_dir, const std::string& sae_path, const std::string& tokenizer,
                           uint64_t seed, int64_t d_sae, const std::string& plant_file = "");

}  // namespace saediff
