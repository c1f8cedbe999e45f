#pragma once
// Command-line options of each stage (CLI11) and TOML config files.
// A config file's keys are the long option names (dashes or underscores); a stage reads its own
// section ([collect], [encode], [diff]); `run` also reads the top-level keys. Options given on the
// command line win over the file. Relative paths in a file are relative to the file's folder.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "analysis/diff.h"
#include "analysis/interpret.h"
#include "analysis/labeling.h"
#include "app/encode.h"
#include "collect/collector.h"
#include "io/config_toml.h"

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
void add_interpret_options(CLI::App& app, InterpretConfig& config);

// Checks a config file against the command line: every [section] names a subcommand that takes --config,
// every key in it is a configurable option of that subcommand, top-level keys are `run`'s, no option is set
// twice (top-k and top_k), and a subcommand other than run that reads the file finds its own [section].
// Each refusal names FILE:LINE. `root` is the app whose subcommands these are; `reader` the one reading.
void check_config_file(const CLI::App& root, const ConfigFile& file, const std::string& reader);

// Applies the keys of `section` ("" for the top level) to the options of `app` that the command line left
// unset; relative paths resolve against the file's folder. A bad value names FILE:LINE.
void apply_config(CLI::App& app, const ConfigFile& file, const std::string& section);

// The resolved options of `app` as TOML (defaults included), under `[section]` when given.
std::string resolved_toml(const CLI::App& app, const std::string& section = "");

// Checks that required options have values, with a hint that the config file can give them too.
void require_options(const CLI::App& app, const std::vector<std::string>& names);

}  // namespace saediff
