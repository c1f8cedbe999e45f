#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test (unit, MPI at 1-5 ranks,
# HDF5 read-back, HF tokenizer parity, loopback HTTP, encode resume and failures).
#   scripts/test.sh                 the default build (build/) and the whole suite, on this Debian 12 host
#   scripts/test.sh --sanitize      the ASan+UBSan build (build-asan/): unit tests, MPI demo runs, CLI, HTTP, tokenizer
#   scripts/test.sh --debian13      the whole suite in a Debian 13 root (libtorch 2.6, gcc 14; build-debian13/),
#                                   made or reused by scripts/debian13.sh
#   scripts/test.sh --debian13-cuda the CUDA build in a Debian 13 root (libtorch-cuda 2.6, CUDA 12.4, NCCL 2.22;
#                                   build-debian13-cuda/): every target compiled and linked, the unit tests on the CPU
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-}
jobs=$(nproc)
# ccache: share hits between checkouts (CI builds a fresh clone) by hashing paths relative to the root.
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=true
# Open MPI refuses root without these, and CI runs as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

case $mode in
  --debian13|--debian13-cuda)
    flavour=cpu
    [[ $mode == --debian13-cuda ]] && flavour=cuda
    t0=$SECONDS
    # The npm references live in the checkout (git-ignored), which the root shares: fetch them here.
    [[ $flavour == cpu ]] && SAEDIFF_SKIP_APT=1 bash scripts/setup.sh
    bash scripts/debian13.sh make "$flavour"
    echo "test.sh: Debian 13 $flavour root ready in $((SECONDS - t0)) s"
    bash scripts/debian13.sh exec "$flavour" bash scripts/test.sh "--in-debian13-$flavour"
    echo "test.sh: Debian 13 $flavour job took $((SECONDS - t0)) s"
    exit 0 ;;
  --in-debian13-cpu)
    # Inside the root (scripts/debian13.sh exec): the whole suite against Debian 13's libtorch 2.6.
    bash scripts/setup.sh
    cmake --preset debian13 -G Ninja
    cmake --build --preset debian13 -j "$jobs"
    ctest --preset debian13 -j "$jobs" --timeout 900
    exit 0 ;;
  --in-debian13-cuda)
    # Inside the CUDA root: cuDNN is absent (its Debian package is an installer that downloads it), so stubs stand in
    # for it at link time and for the CPU-only unit tests; every target is built with CUDA and NCCL.
    stubs=$root/build-debian13-cuda/link-stubs
    torch_cuda=$(ls /usr/lib/*/libtorch_cuda.so | head -n 1)
    echo "test.sh: link stand-ins for libtorch_cuda's missing libraries:"
    bash scripts/cuda_stubs.sh "$stubs" "$torch_cuda"
    cmake --preset debian13-cuda -G Ninja -DSAEDIFF_LINK_STUBS="$stubs"
    # The build runs the test binary to list its tests (gtest_discover_tests): it loads the stand-ins too.
    LD_LIBRARY_PATH=$stubs cmake --build --preset debian13-cuda -j "$jobs"
    LD_LIBRARY_PATH=$stubs ./build-debian13-cuda/saediff --version
    # The unit tests that need a GPU skip and say why; the rest run on the CPU with the CUDA libtorch.
    LD_LIBRARY_PATH=$stubs ctest --preset debian13-cuda -j "$jobs" --timeout 900
    exit 0 ;;
  ""|--sanitize) ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac

preset=default
[[ $mode == --sanitize ]] && preset=asan
bash scripts/setup.sh
cmake --preset "$preset" -G Ninja
if [[ $preset == asan ]]; then
  # The sanitizer run covers the unit tests and the tests labelled `sanitize` (MPI runs, HTTP, tokenizer).
  cmake --build --preset "$preset" -j "$jobs" --target saediff_tests saediff pth_dump bench_dispatch
else
  cmake --build --preset "$preset" -j "$jobs"
fi
ctest --preset "$preset" -j "$jobs" --timeout 900
