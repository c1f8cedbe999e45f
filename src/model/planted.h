#pragma once
// Planted SAE features for the offline demo: features with known meanings, so that the demo is a
// controlled experiment with a known answer (configs/demo/README.md, docs/report.md "The planted demo").
//
// Each planted feature j owns one residual dimension r_j (the last P of d_model):
//   - the embedding is 0 in r_j for every token except the feature's triggers, which hold kPlantAmplitude;
//   - no decoder layer writes r_j (the rows r_j of o_proj and down_proj are 0), so the output of every
//     layer holds exactly the embedding's value there, in any context;
//   - encoder row j is the unit vector on r_j with bias -kPlantBias.
// So the feature's activation is kPlantAmplitude - kPlantBias (2.0) on a trigger token and 0 (pre-activation
// -1.0) on every other token. make_planted_checkpoints checks that margin by running the written model and
// SAE on a probe, and fails if it is too small.
#include <cstdint>
#include <string>
#include <vector>

namespace saediff {

class Tokenizer;

inline constexpr double kPlantAmplitude = 3.0;
inline constexpr double kPlantBias = 1.0;

struct PlantedFeature {
  std::string label;
  std::vector<std::string> trigger_text;  // as given: each must be exactly one token
  std::vector<int32_t> triggers;          // their token ids
  std::string direction;                  // "candidate", "baseline" or "none": where the data has it more often
  int32_t feature = -1;                   // SAE feature id
  int64_t dim = -1;                       // residual dimension it owns
};

// The plant file (configs/demo/behaviours.json): {"features": [{"label", "direction", "triggers": [text],
// "documents": {set: count}}], "baseline", "candidate", "about", "seed"}. Every trigger must be one token
// that is not a special token; an unknown key, an empty label or trigger list, a repeated trigger within a
// feature or a direction other than the three is refused, naming the file and the feature.
std::vector<PlantedFeature> read_plant_file(const std::string& path, const Tokenizer& tokenizer);

// Gives each feature its SAE id (distinct, drawn from `seed`) and its dimension (d_model - P + j).
// Refuses more planted features than d_model / 2 or than d_sae.
void place_planted(std::vector<PlantedFeature>& features, int64_t d_model, int64_t d_sae, uint64_t seed);

// DIR/planted.json (the contract: {"features": [{"feature", "label", "triggers", "direction"}]}, plus
// trigger_text, dim, amplitude and activation) and DIR/labels.json ({"<feature id>": label}, the layout
// --labels reads).
void write_planted(const std::string& dir, const std::vector<PlantedFeature>& features);

struct PlantMargin {
  double min_trigger = 0.0;   // smallest activation of a planted feature on one of its triggers
  double max_other = 0.0;     // largest pre-activation of a planted feature on any other token
  int64_t n_tokens = 0;       // probe tokens
  int n_layers = 0;           // layers checked (0..n_layers-1)
};

// Loads the written model at every layer and the SAE, runs a seeded probe (every trigger, among random
// vocabulary tokens) and measures the margin. Throws, naming the feature, unless every trigger activates its
// feature to at least 1.0 and every other token's pre-activation is at most -0.5.
PlantMargin check_planted(const std::string& model_dir, const std::string& sae_path,
                          const std::vector<PlantedFeature>& features, uint64_t seed);

}  // namespace saediff
