// TOML config files: sections, precedence of the command line, relative paths, and every refusal with its line.
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

// A root like saediff's: run (top-level keys), diff and encode with --config, make-demo-model without.
struct Root {
  CLI::App app{"saediff"};
  DiffConfig diff;
  EncodeConfig encode;
  std::string config, run_out, demo_out;
  Root() {
    CLI::App* run = app.add_subcommand("run");
    run->add_option("--config", config)->configurable(false);
    run->add_option("--out", run_out);
    CLI::App* d = app.add_subcommand("diff");
    d->add_option("--config", config)->configurable(false);
    add_diff_options(*d, diff);
    CLI::App* e = app.add_subcommand("encode");
    e->add_option("--config", config)->configurable(false);
    add_encode_options(*e, encode);
    app.add_subcommand("make-demo-model")->add_option("--out", demo_out);
  }
  // The message check_config_file refuses `text` with when `reader` reads it ("" when it is accepted).
  std::string refusal(const std::string& text, const std::string& reader = "diff") {
    try {
      check_config_file(app, parse_config_toml(text, "f.toml"), reader);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

TEST(Options, SectionValuesRelativePathsAndCommandLinePrecedence) {
  const std::string path = write_config("a.toml",
                                        "out = \"job\"\n[diff]\nbaseline = \"old\"\ncandidate = \"new\"\ntop_k = 7\n"
                                        "out = \"reports/x\"\nthreshold = 0.0\nalpha = 1e-3\n[encode]\nlayer = 3\n");
  Root root;
  CLI::App& app = *root.app.get_subcommand("diff");
  const char* argv[] = {"diff", "--candidate", "cli-wins"};
  app.parse(3, const_cast<char**>(argv));
  const ConfigFile file = read_config_toml(path);
  EXPECT_NO_THROW(check_config_file(root.app, file, "diff"));
  apply_config(app, file, "diff");
  DiffConfig& c = root.diff;
  EXPECT_EQ(c.baseline, "old");
  EXPECT_EQ(c.candidate, "cli-wins");
  EXPECT_EQ(c.top_k, 7);
  EXPECT_EQ(c.threshold, 0.0) << "a 0.0 in the file is applied, not the default";
  EXPECT_DOUBLE_EQ(c.alpha, 1e-3);
  const auto dir = std::filesystem::path(path).parent_path();
  EXPECT_EQ(c.out, (dir / "reports/x").lexically_normal().string()) << "relative to the config file's folder";
  EXPECT_EQ(root.encode.layer, EncodeConfig{}.layer) << "[encode] is not diff's";
  const std::string toml = resolved_toml(app, "diff");
  EXPECT_NE(toml.find("[diff]"), std::string::npos);
  EXPECT_NE(toml.find("candidate=\"cli-wins\""), std::string::npos) << toml;
}

TEST(Options, ConfigEntriesKeepTheirLines) {
  const ConfigFile f = parse_config_toml("# c\nout = 'x'\n\n[encode]\nlayer = 2\nthreads = [1, 2]\n[diff]\nscore = true\n",
                                         "f.toml");
  ASSERT_EQ(f.entries.size(), 4u);
  EXPECT_EQ(f.entries[0].section, "");
  EXPECT_EQ(f.entries[0].line, 2);
  EXPECT_EQ(f.entries[1].key, "layer");
  EXPECT_EQ(f.entries[1].line, 5);
  EXPECT_EQ(f.entries[2].values, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(f.entries[3].values, (std::vector<std::string>{"true"}));
  ASSERT_EQ(f.sections.size(), 2u);
  EXPECT_EQ(f.sections[0].name, "encode");
  EXPECT_EQ(f.sections[0].line, 4);
  EXPECT_EQ(f.sections[1].line, 7);
}

// Non-ASCII text reaches toml++ as escapes (toml++ 3.3/3.4 has undefined behaviour on some code points): strings of
// every kind keep their exact value, comments may hold any text, and anywhere else it is refused with its place.
TEST(Options, NonAsciiTextKeepsItsValue) {
  const ConfigFile f = parse_config_toml(
      "# caf\u00e9 \u00a7 comment\n"
      "a = \"caf\u00e9 \u00a7 \\\"q\\\" \U0001F600\"\n"
      "b = 'lit\u00e9ral \\ \"dq\"'\n"
      "c = '''ml \u00a7\n'' \\ \"\"\" end'''\n"
      "d = \"\"\"\\\n   \u00a7 after a line-ending backslash\"\"\"\n"
      "\"cl\u00e9\" = 'key'\n",
      "u.toml");
  ASSERT_EQ(f.entries.size(), 5u);
  EXPECT_EQ(f.entries[0].values[0], "caf\u00e9 \u00a7 \"q\" \U0001F600");
  EXPECT_EQ(f.entries[1].values[0], "lit\u00e9ral \\ \"dq\"");
  EXPECT_EQ(f.entries[2].values[0], "ml \u00a7\n'' \\ \"\"\" end");
  EXPECT_EQ(f.entries[3].values[0], "\u00a7 after a line-ending backslash");
  EXPECT_EQ(f.entries[4].key, "cl\u00e9");
  EXPECT_EQ(f.entries[4].line, 8);
  const auto message = [](const std::string& text) {
    try {
      parse_config_toml(text, "u.toml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message("a = 1\nb = 2 \u00e9\n").find("u.toml:2:7: a non-ASCII character outside a string or comment"),
            std::string::npos);
  EXPECT_NE(message("a = \"x\\\u00e9\"\n").find("u.toml:1:8: a non-ASCII character after a backslash"), std::string::npos);
  EXPECT_NE(message("a = \"\xff\"\n").find("u.toml:1:6: not valid UTF-8"), std::string::npos);
  EXPECT_NE(message("\"\" = 1\n").find("u.toml:1: an empty key"), std::string::npos);
}

// Each way a file used to be silently ignored is refused, naming the file and line.
TEST(Options, ConfigFilesAreAppliedWholeOrRefused) {
  Root r;
  const auto refused = [&](const std::string& text, const std::string& expect, const std::string& reader = "diff") {
    const std::string m = r.refusal(text, reader);
    EXPECT_NE(m.find(expect), std::string::npos) << "for:\n" << text << "\ngot: " << m;
  };
  refused("[diff\nthreshold = 0.0\n", "f.toml:1:");                           // broken header
  refused("[diff]\nthreshold = 0.0\nthis is garbage\n", "f.toml:3:");         // garbage
  refused("[dif]\nthreshold = 0.0\n", "f.toml:1: unknown section [dif] (the sections are diff, encode)");
  refused("[diff]\nthreshold = 0.0\n[make-demo-model]\nout = 'x'\n", "f.toml:3: unknown section [make-demo-model]");
  refused("threshold = 0.0\n", "f.toml:1: unknown top-level key 'threshold': top-level keys are `saediff run`'s; "
                               "diff's 'threshold' goes under [diff]");
  refused("[diff]\nbaselin = 'terse'\n", "f.toml:2: unknown key 'baselin' in [diff]");
  refused("[diff]\nalpha = 0.1\n[encode]\nlayr = 2\n", "f.toml:4: unknown key 'layr' in [encode]");
  refused("[diff]\ntop-k = 5\ntop_k = 6\n", "f.toml:3: 'top_k' sets --top-k again (as 'top-k' on line 2)");
  refused("[diff]\n[diff.x]\na = 1\n", "sections do not nest");
  refused("[[diff]]\nalpha = 0.1\n", "arrays of tables");
  refused("[diff]\nalpha = 1979-05-27\n", "f.toml:2: 'alpha' in [diff] is a date");
  refused("[diff]\nalpha = []\n", "empty array");
  refused("[diff]\nlabels = {a = 1}\n", "inline table");
  refused("out = 'x'\n[encode]\nlayer = 2\n", "f.toml has no [diff] section, so nothing in it applies to `saediff diff` "
                                              "(it has [encode])");
  refused("out = 'x'\n", "(its keys are at the top level, which is `saediff run`'s)");
  EXPECT_EQ(r.refusal("out = 'x'\n[diff]\nalpha = 0.1\n[encode]\nlayer = 2\n"), "") << "a run file shared by stages";
  EXPECT_EQ(r.refusal("out = 'x'\n[encode]\nlayer = 2\n", "run"), "");
  refused("[diff]\nalpha = 0.1\nout = 'x'\n[diff]\nalpha = 0.2\n", "f.toml:4:");  // TOML: a table defined twice
}

TEST(Options, BadValuesNameTheLine) {
  Root r;
  CLI::App& app = *r.app.get_subcommand("diff");
  app.parse(std::vector<std::string>{});
  try {
    apply_config(app, parse_config_toml("[diff]\n\ntop_k = \"many\"\n", "c.toml"), "diff");
    FAIL() << "a bad value was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("c.toml:3: bad value for 'top_k' in [diff]"), std::string::npos) << e.what();
  }
  try {
    apply_config(app, parse_config_toml("[diff]\nalpha = 2.0\n", "c.toml"), "diff");
    FAIL() << "an out-of-range value was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must be from 0 to 1, got 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_config_toml("/nonexistent.toml"), Error);
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
