#include "model/planted.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hash.h"
#include "model/llama.h"
#include "model/sae.h"
#include "text/tokenizer.h"

namespace saediff {
namespace {

void check_keys(const nlohmann::json& obj, const std::set<std::string>& allowed, const std::string& where) {
  for (const auto& [key, value] : obj.items()) {
    SAEDIFF_CHECK(allowed.count(key) > 0, where, ": unknown key '", key, "'");
  }
}

}  // namespace

std::vector<PlantedFeature> read_plant_file(const std::string& path, const Tokenizer& tokenizer) {
  std::ifstream in(path);
  SAEDIFF_CHECK(in, "plant file '", path, "' cannot be read");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    SAEDIFF_FAIL("plant file '", path, "' is not valid JSON: ", e.what());
  }
  SAEDIFF_CHECK(doc.is_object() && doc.contains("features") && doc["features"].is_array() && !doc["features"].empty(),
                "plant file '", path, "' must be an object with a non-empty \"features\" array");
  check_keys(doc, {"about", "baseline", "candidate", "seed", "features"}, path);
  std::vector<PlantedFeature> out;
  for (size_t i = 0; i < doc["features"].size(); ++i) {
    const nlohmann::json& f = doc["features"][i];
    const std::string where = path + ": feature " + std::to_string(i);
    SAEDIFF_CHECK(f.is_object(), where, " is not an object");
    check_keys(f, {"label", "direction", "triggers", "documents"}, where);
    PlantedFeature p;
    SAEDIFF_CHECK(f.contains("label") && f["label"].is_string() && !f["label"].get<std::string>().empty(), where,
                  ": \"label\" must be a non-empty string");
    p.label = f["label"].get<std::string>();
    const std::string named = where + " ('" + p.label + "')";
    SAEDIFF_CHECK(f.contains("direction") && f["direction"].is_string(), named, ": \"direction\" is missing");
    p.direction = f["direction"].get<std::string>();
    SAEDIFF_CHECK(p.direction == "candidate" || p.direction == "baseline" || p.direction == "none", named,
                  ": direction '", p.direction, "' is not candidate, baseline or none");
    SAEDIFF_CHECK(f.contains("triggers") && f["triggers"].is_array() && !f["triggers"].empty(), named,
                  ": \"triggers\" must be a non-empty array of strings");
    for (const nlohmann::json& t : f["triggers"]) {
      SAEDIFF_CHECK(t.is_string(), named, ": every trigger must be a string");
      const std::string text = t.get<std::string>();
      const std::vector<int32_t> ids = tokenizer.encode(text);
      SAEDIFF_CHECK(ids.size() == 1, named, ": trigger '", text, "' is ", ids.size(),
                    " tokens; each trigger must be exactly one token");
      SAEDIFF_CHECK(!tokenizer.is_added(ids[0]), named, ": trigger '", text, "' is a special token");
      SAEDIFF_CHECK(std::find(p.triggers.begin(), p.triggers.end(), ids[0]) == p.triggers.end(), named,
                    ": trigger '", text, "' is given twice");
      p.trigger_text.push_back(text);
      p.triggers.push_back(ids[0]);
    }
    out.push_back(std::move(p));
  }
  return out;
}

void place_planted(std::vector<PlantedFeature>& features, int64_t d_model, int64_t d_sae, uint64_t seed) {
  const auto n = static_cast<int64_t>(features.size());
  SAEDIFF_CHECK(n <= d_model / 2, n, " planted features need ", n, " of the model's ", d_model,
                " dimensions; at most d_model / 2 = ", d_model / 2, " can be planted");
  SAEDIFF_CHECK(n <= d_sae, n, " planted features do not fit an SAE of ", d_sae);
  uint64_t state = seed;
  std::set<int32_t> used;
  for (int64_t j = 0; j < n; ++j) {
    int32_t id = 0;
    do {
      id = static_cast<int32_t>(splitmix64(state) % static_cast<uint64_t>(d_sae));
    } while (!used.insert(id).second);
    features[static_cast<size_t>(j)].feature = id;
    features[static_cast<size_t>(j)].dim = d_model - n + j;
  }
}

void write_planted(const std::string& dir, const std::vector<PlantedFeature>& features) {
  nlohmann::json list = nlohmann::json::array();
  nlohmann::json labels = nlohmann::json::object();
  for (const PlantedFeature& p : features) {
    list.push_back({{"feature", p.feature},
                    {"label", p.label},
                    {"triggers", p.triggers},
                    {"direction", p.direction},
                    {"trigger_text", p.trigger_text},
                    {"dim", p.dim}});
    labels[std::to_string(p.feature)] = p.label;
  }
  const nlohmann::json planted = {
      {"features", list},
      {"amplitude", kPlantAmplitude},
      {"activation", kPlantAmplitude - kPlantBias},
      {"about", "SAE features planted by saediff make-demo-model: each fires (activation 'activation') on a pooled "
                "token exactly when it is one of 'triggers', and is 0 on every other token; 'direction' says which "
                "set of the demo data has the behaviour more often (none: equally often)."}};
  for (const auto& [name, value] : {std::pair{"planted.json", planted}, std::pair{"labels.json", labels}}) {
    const std::filesystem::path file = std::filesystem::path(dir) / name;
    std::ofstream out(file);
    SAEDIFF_CHECK(out, "cannot write ", file.string());
    out << value.dump(2) << '\n';
    SAEDIFF_CHECK(out.good(), "cannot write ", file.string());
  }
}

PlantMargin check_planted(const std::string& model_dir, const std::string& sae_path,
                          const std::vector<PlantedFeature>& features, uint64_t seed) {
  const nlohmann::json config = nlohmann::json::parse(std::ifstream(std::filesystem::path(model_dir) / "config.json"));
  const int n_layer = config.at("num_hidden_layers").get<int>();
  const auto vocab = config.at("vocab_size").get<int64_t>();
  // The probe: 256 random vocabulary tokens (ids below 128000, the ordinary tokens of the Llama 3 vocabulary),
  // with every trigger of every feature inserted at a random position.
  uint64_t state = seed ^ 0x5eed;
  std::vector<int32_t> ids;
  for (int i = 0; i < 256; ++i) {
    ids.push_back(static_cast<int32_t>(splitmix64(state) % static_cast<uint64_t>(std::min<int64_t>(vocab, 128000))));
  }
  for (const PlantedFeature& p : features) {
    for (int32_t t : p.triggers) {
      ids.insert(ids.begin() + static_cast<std::ptrdiff_t>(splitmix64(state) % (ids.size() + 1)), t);
    }
  }
  const Sae sae = Sae::load(sae_path, torch::kFloat32, torch::kCPU);
  PlantMargin m;
  m.n_tokens = static_cast<int64_t>(ids.size());
  m.n_layers = n_layer;
  m.min_trigger = 1e30;
  m.max_other = -1e30;
  for (int layer = 0; layer < n_layer; ++layer) {
    const LlamaModel model = LlamaModel::load(model_dir, layer, torch::kFloat32, torch::kCPU);
    const torch::Tensor hidden = model.forward(ids);  // [T, d]
    const torch::Tensor act = sae.encode(hidden);     // [T, d_sae]
    for (const PlantedFeature& p : features) {
      const torch::Tensor pre = torch::matmul(hidden, sae.weight()[p.feature]) + sae.bias()[p.feature];
      const auto a = act.select(1, p.feature).contiguous();
      const float* av = a.data_ptr<float>();
      const auto pc = pre.contiguous();
      const float* pv = pc.data_ptr<float>();
      for (size_t i = 0; i < ids.size(); ++i) {
        const bool trigger = std::find(p.triggers.begin(), p.triggers.end(), ids[i]) != p.triggers.end();
        if (trigger) {
          m.min_trigger = std::min(m.min_trigger, static_cast<double>(av[i]));
          SAEDIFF_CHECK(av[i] >= 1.0, "planted feature ", p.feature, " ('", p.label, "') activates only ", av[i],
                        " on its trigger token ", ids[i], " at position ", i, " of the probe, layer ", layer,
                        ": the margin is too small (need >= 1.0)");
        } else {
          m.max_other = std::max(m.max_other, static_cast<double>(pv[i]));
          SAEDIFF_CHECK(pv[i] <= -0.5, "planted feature ", p.feature, " ('", p.label, "') has pre-activation ",
                        pv[i], " on the non-trigger token ", ids[i], " at position ", i, " of the probe, layer ",
                        layer, ": the margin is too small (need <= -0.5)");
        }
      }
    }
  }
  return m;
}

}  // namespace saediff
