// Planted demo features (model/planted.h): the plant file's refusals, and the margin check on a written model,
// which must pass for a real plant and fail when an encoder row reads a dimension the layers write.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "model/planted.h"
#include "model/random_checkpoint.h"
#include "text/tokenizer.h"

namespace saediff {
namespace {

std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("saediff_planted_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

const Tokenizer& llama_tokenizer() {
  static const Tokenizer tok = Tokenizer::from_file(SAEDIFF_TOKENIZER_JSON);
  return tok;
}

std::string plant_file(const std::string& name, const std::string& features) {
  const auto path = temp_dir(name) / "plant.json";
  std::ofstream(path) << "{\"features\": [" << features << "]}";
  return path.string();
}

void refused(const std::string& name, const std::string& features, const std::string& want) {
  try {
    read_plant_file(plant_file(name, features), llama_tokenizer());
    FAIL() << name << ": accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << name << ": " << e.what();
  }
}

TEST(Planted, ReadsTriggersAsTokenIds) {
  ASSERT_TRUE(std::filesystem::exists(SAEDIFF_TOKENIZER_JSON)) << "run scripts/setup.sh for tokenizer.json";
  const auto f = read_plant_file(
      plant_file("ok", R"({"label": "hedging", "direction": "candidate", "triggers": [" might", "Perhaps"],
                           "documents": {"a": 1}})"),
      llama_tokenizer());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].triggers, (std::vector<int32_t>{2643, 32576}));  // HF tokenizers' ids for " might", "Perhaps"
  EXPECT_EQ(f[0].direction, "candidate");
}

TEST(Planted, RefusesBadPlantFiles) {
  ASSERT_TRUE(std::filesystem::exists(SAEDIFF_TOKENIZER_JSON)) << "run scripts/setup.sh for tokenizer.json";
  refused("multi", R"({"label": "e", "direction": "none", "triggers": ["😊"]})", "is 2 tokens");
  refused("special", R"({"label": "e", "direction": "none", "triggers": ["<|eot_id|>"]})", "special token");
  refused("dir", R"({"label": "e", "direction": "up", "triggers": [" might"]})", "not candidate, baseline or none");
  refused("key", R"({"label": "e", "direction": "none", "triggers": [" might"], "trigger": 1})", "unknown key 'trigger'");
  refused("twice", R"({"label": "e", "direction": "none", "triggers": [" might", " might"]})", "given twice");
  refused("empty", R"({"label": "e", "direction": "none", "triggers": []})", "non-empty array");
  refused("label", R"({"label": "", "direction": "none", "triggers": [" might"]})", "non-empty string");
  std::vector<PlantedFeature> many(40);
  EXPECT_THROW(place_planted(many, 64, 16384, 1), Error);  // more than d_model / 2
}

// Writes a planted model and SAE; `sae_dim_shift` points every encoder row at another dimension.
void write_planted_model(const std::filesystem::path& dir, std::vector<PlantedFeature>& features, int64_t sae_dim_shift) {
  place_planted(features, 64, 512, 7);
  RandomLlamaSpec llama;
  llama.n_layer = 2;
  RandomSaeSpec sae;
  sae.d_sae = 512;
  for (const PlantedFeature& p : features) {
    llama.planted.push_back(p.triggers);
    sae.planted.emplace_back(p.feature, p.dim - sae_dim_shift);
  }
  write_random_llama(dir.string(), llama);
  write_random_sae((dir / "sae.safetensors").string(), sae);
}

TEST(Planted, MarginHoldsAtEveryLayerAndFailsLoudlyWhenItCannot) {
  ASSERT_TRUE(std::filesystem::exists(SAEDIFF_TOKENIZER_JSON)) << "run scripts/setup.sh for tokenizer.json";
  const std::string spec = R"({"label": "a", "direction": "candidate", "triggers": [" might", " perhaps"]},
                              {"label": "b", "direction": "none", "triggers": ["Sure", " might"]})";
  {
    const auto dir = temp_dir("good");
    auto features = read_plant_file(plant_file("good_spec", spec), llama_tokenizer());
    write_planted_model(dir, features, 0);
    const PlantMargin m = check_planted(dir.string(), (dir / "sae.safetensors").string(), features, 3);
    EXPECT_EQ(m.n_layers, 2);
    EXPECT_NEAR(m.min_trigger, kPlantAmplitude - kPlantBias, 1e-6);  // exact in bf16 and float32
    EXPECT_NEAR(m.max_other, -kPlantBias, 1e-6);
    write_planted(dir.string(), features);
    EXPECT_TRUE(std::filesystem::exists(dir / "planted.json"));
    EXPECT_TRUE(std::filesystem::exists(dir / "labels.json"));
  }
  {
    // Rows read dimensions 30.. instead of the reserved 62, 63: the random layers write those, so the margin fails.
    const auto dir = temp_dir("bad");
    auto features = read_plant_file(plant_file("bad_spec", spec), llama_tokenizer());
    write_planted_model(dir, features, 32);
    try {
      check_planted(dir.string(), (dir / "sae.safetensors").string(), features, 3);
      FAIL() << "a plant without margin was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("margin is too small"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace saediff
