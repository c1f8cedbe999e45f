#pragma once
// The command line: subcommands collect, encode, diff, run, tokenize, forward (CLI11, TOML --config).
namespace saediff {
// Parses argv, runs the subcommand under MPI, and returns the exit code. A fatal error on any rank
// is printed with its rank and aborts every rank (MPI_Abort), so no rank waits forever.
int run_cli(int argc, char** argv);
}  // namespace saediff
