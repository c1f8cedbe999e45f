#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang with ASan+UBSan) and runs each for a bounded time from its
# committed seeds. Exits non-zero on the first crash, leak, sanitizer report or violated property.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60; CI runs this)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
bash "$root/scripts/setup.sh"
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=true
CXX=clang++ cmake -S "$root/fuzz" -B "$root/build-fuzz" -G Ninja >/dev/null
cmake --build "$root/build-fuzz" -j "$(nproc)"
for target in fuzz_tokenizer fuzz_tokenizer_json fuzz_labels fuzz_findings fuzz_pth fuzz_safetensors fuzz_spool fuzz_config; do
  seeds="$root/fuzz/corpus/${target#fuzz_}"
  work=$(mktemp -d)  # new inputs found this run; the committed seeds stay as they are
  echo "fuzz: $target for ${seconds}s"
  rc=0
  (cd "$work" && "$root/build-fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
      -print_final_stats=1 "$work" "$seeds" >"$work/log" 2>&1) || rc=$?
  grep -v "^#[0-9]" "$work/log" | tail -n 40
  rm -rf "$work"
  [[ $rc -eq 0 ]] || { echo "fuzz: $target FAILED (exit $rc)"; exit 1; }
done
echo "fuzz: all targets ran clean"
