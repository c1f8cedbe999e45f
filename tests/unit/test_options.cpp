// TOML config files: sections, precedence of the command line, relative paths, unknown keys.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "app/options.h"
#include "core/error.h"

namespace saediff {
namespace {

std::string write_config(const std::string& name, const std::string& text) {
  const auto dir = std::filesystem::temp_directory_path() / "saediff_options";
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(Options, SectionValuesRelativePathsAndCommandLinePrecedence) {
  const std::string path = write_config("a.toml",
                                        "top = 1\n[diff]\nbaseline = \"old\"\ncandidate = \"new\"\ntop_k = 7\n"
                                        "out = \"reports/x\"\nthreshold = 0.25\n[encode]\nlayer = 3\n");
  DiffConfig c;
  CLI::App app{"diff"};
  add_diff_options(app, c);
  const char* argv[] = {"diff", "--candidate", "cli-wins"};
  app.parse(3, const_cast<char**>(argv));
  apply_config_file(app, path, "diff");
  EXPECT_EQ(c.baseline, "old");
  EXPECT_EQ(c.candidate, "cli-wins");
  EXPECT_EQ(c.top_k, 7);
  EXPECT_DOUBLE_EQ(c.threshold, 0.25);
  const auto dir = std::filesystem::path(path).parent_path();
  EXPECT_EQ(c.out, (dir / "reports/x").lexically_normal().string()) << "relative to the config file's folder";
  const std::string toml = resolved_toml(app, "diff");
  EXPECT_NE(toml.find("[diff]"), std::string::npos);
  EXPECT_NE(toml.find("candidate=\"cli-wins\""), std::string::npos) << toml;
}

TEST(Options, UnknownKeysSectionsAndBadValuesAreErrors) {
  DiffConfig c;
  CLI::App app{"diff"};
  add_diff_options(app, c);
  app.parse(std::vector<std::string>{});
  EXPECT_THROW(apply_config_file(app, write_config("b.toml", "[diff]\nbaseline_set = \"x\"\n"), "diff"), Error);
  EXPECT_THROW(apply_config_file(app, write_config("c.toml", "[diff]\ntop_k = \"many\"\n"), "diff"), Error);
  EXPECT_THROW(apply_config_file(app, "/nonexistent.toml", "diff"), Error);
  EXPECT_THROW(check_config_sections(write_config("d.toml", "[dif]\nx = 1\n"), {"collect", "encode", "diff"}), Error);
  EXPECT_NO_THROW(check_config_sections(write_config("e.toml", "x = 1\n[diff]\ny = 2\n"), {"diff"}));
}

// Range errors name the rule as a person writes it, never DBL_MAX's 309 digits.
TEST(Options, BoundsReadAsWritten) {
  EXPECT_EQ(bound_text(0), "0");
  EXPECT_EQ(bound_text(0.5), "0.5");
  EXPECT_EQ(bound_text(16384), "16384");
  EXPECT_EQ(bound_text(0x1p40), "2^40");
  const auto error_of = [](std::vector<std::string> args) {
    EncodeConfig e;
    CollectConfig c;
    CLI::App app{"t"};
    add_encode_options(app, e);
    add_client_options(app, c);
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last first
    try {
      app.parse(args);
    } catch (const CLI::ParseError& err) {
      return std::string(err.what());
    }
    return std::string();
  };
  EXPECT_EQ(error_of({"--progress-seconds", "-1"}), "--progress-seconds: must be at least 0, got -1");
  EXPECT_EQ(error_of({"--timeout", "0"}), "--timeout: must be greater than 0, got 0");
  EXPECT_EQ(error_of({"--chunk-tokens", "0"}), "--chunk-tokens: must be from 1 to 2^40, got 0");
  EXPECT_EQ(error_of({"--timeout", "soon"}), "--timeout: 'soon' is not a number (it must be greater than 0)");
  EXPECT_EQ(error_of({"--timeout", "2.5", "--chunk-tokens", "1099511627776"}), "");
}

TEST(Options, ModelSpecs) {
  CollectConfig c;
  CLI::App app{"collect"};
  add_collect_options(app, c);
  const char* argv[] = {"collect", "--model", "gemini-2.0=google/gemini-2.0-flash-001", "--model",
                        "gemini-2.5=google/gemini-2.5-flash"};
  app.parse(5, const_cast<char**>(argv));
  ASSERT_EQ(c.models.size(), 2u);
  EXPECT_EQ(c.models[1].set, "gemini-2.5");
  EXPECT_EQ(c.models[1].id, "google/gemini-2.5-flash");
  EXPECT_THROW(parse_model_spec("no-equals"), Error);
  EXPECT_THROW(parse_model_spec("bad name=x"), Error);
  EXPECT_THROW(parse_model_spec("a="), Error);
}

}  // namespace
}  // namespace saediff
