#include "app/cli.h"

#include <CLI/CLI.hpp>

namespace saediff {
int run_cli(int argc, char** argv) {
  CLI::App app{"saediff"};
  CLI11_PARSE(app, argc, argv);
  return 0;
}
}  // namespace saediff
