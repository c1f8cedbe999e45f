// saediff: SAE-based data diffing of two LLM checkpoints. See README.md.
#include "app/cli.h"

int main(int argc, char** argv) { return saediff::run_cli(argc, argv); }
