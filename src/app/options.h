#pragma once
// Command-line options of each stage (CLI11) and TOML config files.
// A config file's keys are the long option names (dashes or underscores); a stage reads its own
// section ([collect], [encode], [diff]); `run` also reads the top-level keys. Options given on the
// command line win over the file. Relative paths in a file are relative to the file's folder.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "analysis/diff.h"
#include "analysis/labeling.h"
#include "app/encode.h"
#include "collect/collector.h"

namespace saediff {

// Numeric bounds whose messages read as a person writes them ("must be at least 0, got -1"), where CLI11's
// PositiveNumber / NonNegativeNumber print their upper bound, DBL_MAX, in 309 digits. A bound that is a large
// power of two is written 2^N.
CLI::Validator at_least(double lo);                    // x >= lo
CLI::Validator greater_than(double lo);                // x > lo
CLI::Validator in_range(double lo, double hi);         // lo <= x <= hi
std::string bound_text(double x);                      // 0.5, 16384, 2^40

void add_collect_options(CLI::App& app, CollectConfig& config);
void add_client_options(CLI::App& app, CollectConfig& config);  // the HTTP client's options (collect, label)
void add_label_options(CLI::App& app, LabelConfig& config);
void add_encode_options(CLI::App& app, EncodeConfig& config);
void add_diff_options(CLI::App& app, DiffConfig& config);

// Applies the items of `section` ("" for top-level keys) from the TOML file to options of `app` that
// the command line left unset. Unknown keys are errors naming the file and the key.
void apply_config_file(CLI::App& app, const std::string& path, const std::string& section);

// Fails, naming the section, when the file has a [section] outside `allowed` (a typo would otherwise be
// silently ignored).
void check_config_sections(const std::string& path, const std::vector<std::string>& allowed);

// The resolved options of `app` as TOML (defaults included), under `[section]` when given.
std::string resolved_toml(const CLI::App& app, const std::string& section = "");

// Checks that required options have values, with a hint that the config file can give them too.
void require_options(const CLI::App& app, const std::vector<std::string>& names);

}  // namespace saediff
