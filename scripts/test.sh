#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test (unit, MPI at 1-5 ranks,
# HDF5 read-back, HF tokenizer parity, loopback HTTP, encode resume and failures).
#   scripts/test.sh             the default build (build/) and the whole suite
#   scripts/test.sh --sanitize  the ASan+UBSan build (build-asan/): unit tests, MPI demo runs, CLI, HTTP, tokenizer
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
preset=default
[[ "${1:-}" == "--sanitize" ]] && preset=asan
jobs=$(nproc)
# ccache: share hits between checkouts (CI builds a fresh clone) by hashing paths relative to the root.
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=true

bash scripts/setup.sh
cmake --preset "$preset" -G Ninja
if [[ $preset == asan ]]; then
  # The sanitizer run covers the unit tests and the tests labelled `sanitize` (MPI runs, HTTP, tokenizer).
  cmake --build --preset "$preset" -j "$jobs" --target saediff_tests saediff pth_dump bench_dispatch
else
  cmake --build --preset "$preset" -j "$jobs"
fi
# Open MPI refuses root without these, and CI runs as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --preset "$preset" -j "$jobs" --timeout 900
