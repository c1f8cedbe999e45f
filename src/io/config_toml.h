#pragma once
// Config files (`--config FILE`), read strictly with toml++: every option value with its section and the line
// it is on, so that whoever applies it can name FILE:LINE. The file's shape is checked here: top-level keys
// and one level of [section]s, each value a string, number, boolean or an array of those. Which sections and
// keys exist is the command line's business (app/options.h).
#include <string>
#include <string_view>
#include <vector>

namespace saediff {

struct ConfigEntry {
  std::string section;              // "" for a top-level key
  std::string key;                  // as written: top-k or top_k
  std::vector<std::string> values;  // one per array element; numbers and booleans as text
  int line = 0;
};

struct ConfigSection {
  std::string name;
  int line = 0;  // of its [header]
};

struct ConfigFile {
  std::string path;
  std::vector<ConfigEntry> entries;    // in file order
  std::vector<ConfigSection> sections; // in file order

  bool has_section(const std::string& name) const;
};

// Parses `text` as the config file `path` (used in messages only). Throws saediff::Error naming path:line for
// malformed TOML, a nested or array-of-tables section, a date or inline table as a value, an empty or mixed
// array.
ConfigFile parse_config_toml(std::string_view text, const std::string& path);

// Reads and parses the file; a missing or unreadable file is an error naming it.
ConfigFile read_config_toml(const std::string& path);

}  // namespace saediff
