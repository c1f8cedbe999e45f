// libFuzzer: label files (JSON {id: label} or CSV feature,label) and LLM answers (`saediff label`).
// Properties: a label file loads into exactly d_sae labels or throws saediff::Error, nothing else; an
// answer gives a JSON object or a discarded value.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "analysis/labels.h"
#include "core/error.h"
#include "io/json_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json j = saediff::extract_json_object(text);
  if (!j.is_discarded() && !j.is_object()) __builtin_trap();

  static const std::string path = "/tmp/saediff_fuzz_labels_" + std::to_string(getpid());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  constexpr int64_t kSae = 64;
  try {
    const saediff::FeatureLabels labels = saediff::load_feature_labels(path, kSae);
    if (static_cast<int64_t>(labels.labels.size()) != kSae || labels.n_labelled <= 0 || labels.source != path) __builtin_trap();
  } catch (const saediff::Error&) {
  }
  return 0;
}
