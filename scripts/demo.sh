#!/usr/bin/env bash
# The main job, offline: installs what is missing, builds, and runs the demo on N ranks (default 2).
#   scripts/demo.sh [N] [OUTDIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
n_rank=${1:-2}
out=${2:-$root/out/demo}

bash scripts/setup.sh
cmake --preset default -G Ninja
cmake --build --preset default -j "$(nproc)" --target saediff
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun --oversubscribe --bind-to none -np "$n_rank" build/saediff run --config configs/demo.toml --out "$out"
echo
echo "Report: $out/report/report.md ($out/report/features.csv, $out/encoded.h5)"
