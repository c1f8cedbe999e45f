#!/usr/bin/env bash
# Debian 13 (trixie) roots for saediff's second platform: libtorch 2.6 from Debian's own packages, made with
# debootstrap, cached between runs and entered with the checkout bound at its own path.
#   scripts/debian13.sh make cpu|cuda        make (or reuse) the root and install what it needs; idempotent
#   scripts/debian13.sh exec cpu|cuda CMD... run CMD in the root, in this checkout
#   scripts/debian13.sh path cpu|cuda        print the root's folder
# Roots live under SAEDIFF_DEBIAN13_DIR (default /var/cache/saediff, outside any checkout, so that a fresh
# clone reuses them). The two roots differ in libtorch: Debian's libtorch-dev (CPU) and libtorch-cuda-dev
# conflict, so each has its own. Needs root, debootstrap (installed here if missing) and mount namespaces.
# The mirror is SAEDIFF_DEBIAN13_MIRROR (default: the host's Debian mirror).
set -euo pipefail
checkout=$(cd "$(dirname "$0")/.." && pwd)
base=${SAEDIFF_DEBIAN13_DIR:-/var/cache/saediff}
mirror=${SAEDIFF_DEBIAN13_MIRROR:-http://deb.debian.org/debian}

die() { echo "debian13: $*" >&2; exit 1; }
usage() { sed -n '2,10p' "$0" >&2; exit 2; }

[[ $# -ge 2 ]] || usage
action=$1 flavour=$2
shift 2
[[ $flavour == cpu || $flavour == cuda ]] || usage
rootfs=$base/debian13-$flavour

# The CUDA root builds saediff and runs its unit tests; the CPU root runs the whole suite, so it gets
# everything scripts/setup.sh installs (run there, from this checkout).
cuda_packages=(
  build-essential cmake ninja-build pkg-config git ccache python3
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev libcurl4-openssl-dev libssl-dev zlib1g-dev
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libpcre2-dev googletest libgtest-dev
  libtorch-cuda-dev nvidia-cuda-toolkit libnccl-dev binutils
)

# Runs "$@" inside the root: a private mount namespace (every mount below vanishes with the process), /proc,
# /dev and /sys from the host, the checkout at the same path, and a clean environment that keeps only what the
# build and the tests read (CI, ccache, Open MPI's root permission, OpenBLAS's core type, saediff's own).
in_root() {
  local keep=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
              DEBIAN_FRONTEND=noninteractive)
  local v
  for v in $(compgen -e); do
    case $v in
      CI|TERM|CCACHE_*|OMPI_*|OPENBLAS_*|SAEDIFF_*) keep+=("$v=${!v}") ;;
    esac
  done
  unshare --mount --propagation private -- bash -c '
    set -e
    r=$1 co=$2; shift 2
    mount -t proc proc "$r/proc"
    mount --rbind /dev "$r/dev"
    mount --rbind /sys "$r/sys"
    mkdir -p "$r$co"
    mount --bind "$co" "$r$co"
    cp -L /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
    cp -L /etc/hosts "$r/etc/hosts" 2>/dev/null || true   # the host name resolves as outside (Slurm needs it)
    exec chroot "$r" "$@"' in_root "$rootfs" "$checkout" env -i "${keep[@]}" bash -c 'cd "$0" && exec "$@"' \
      "$checkout" "$@"
}

make_root() {
  [[ $(id -u) -eq 0 ]] || die "making the root needs root (debootstrap, mounts)"
  if [[ ! -x $rootfs/bin/bash || ! -f $rootfs/.saediff-bootstrapped ]]; then
    command -v debootstrap >/dev/null || {
      echo "debian13: installing debootstrap"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap \
        || die "cannot install debootstrap"
    }
    [[ -f /usr/share/keyrings/debian-archive-trixie-stable.gpg || -f /usr/share/keyrings/debian-archive-keyring.gpg ]] \
      || die "no Debian archive keyring to check trixie's Release file (package debian-archive-keyring)"
    local tmp=$rootfs.new
    rm -rf "$tmp"
    mkdir -p "$base"
    echo "debian13: debootstrap trixie into $rootfs (about 0.2 GB)"
    local t0=$SECONDS
    if ! debootstrap --variant=minbase --components=main,contrib,non-free trixie "$tmp" "$mirror" \
          >"$base/debootstrap-$flavour.log" 2>&1; then
      tail -n 20 "$base/debootstrap-$flavour.log" >&2
      rm -rf "$tmp"
      die "debootstrap of trixie from $mirror failed (full log: $base/debootstrap-$flavour.log)"
    fi
    touch "$tmp/.saediff-bootstrapped"
    rm -rf "$rootfs"
    mv "$tmp" "$rootfs"
    echo "debian13: root made in $((SECONDS - t0)) s"
  fi
  # Installing in the root: the same idempotent check as setup.sh (dpkg-query first, apt only for what is missing).
  if [[ $flavour == cpu ]]; then
    in_root bash scripts/setup.sh || die "installing saediff's dependencies in $rootfs failed (see above)"
  else
    make_cuda_root
  fi
}

# libtorch-cuda-2.6 depends on nvidia-cudnn, which is an installer that downloads cuDNN from NVIDIA at install
# time and cannot work without NVIDIA's site. The dependency is met by an empty package of that name (equivs'
# idea, made with dpkg-deb), so apt takes the rest of libtorch-cuda's dependencies from Debian; the cuDNN
# libraries themselves, which only a GPU run loads, are stood in for at link time (cmake/cuda_stubs.cmake).
make_cuda_root() {
  local missing=() p
  for p in "${cuda_packages[@]}"; do
    in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    echo "debian13: CUDA root already has its packages"
    return
  fi
  if ! in_root dpkg-query -W -f='${Status}' nvidia-cudnn 2>/dev/null | grep -q "install ok installed"; then
    local pkg=$rootfs/tmp/nvidia-cudnn-standin
    rm -rf "$pkg"
    mkdir -p "$pkg/DEBIAN" "$pkg/usr/share/doc/nvidia-cudnn"
    cat >"$pkg/DEBIAN/control" <<'EOF'
Package: nvidia-cudnn
Version: 9.99~saediff.standin
Architecture: all
Maintainer: saediff <saediff@localhost>
Section: contrib/libs
Priority: optional
Description: stand-in for Debian's cuDNN installer (saediff's build root)
 Debian's nvidia-cudnn downloads cuDNN from NVIDIA when installed. saediff's Debian 13 CUDA root builds and
 links without a GPU, so this empty package satisfies libtorch-cuda's dependency instead.
EOF
    echo "Empty stand-in made by saediff's scripts/debian13.sh." >"$pkg/usr/share/doc/nvidia-cudnn/README"
    dpkg-deb --build --root-owner-group "$pkg" "$rootfs/tmp/nvidia-cudnn-standin.deb" >/dev/null
    in_root dpkg -i /tmp/nvidia-cudnn-standin.deb >/dev/null || die "cannot install the nvidia-cudnn stand-in"
    rm -rf "$pkg" "$rootfs/tmp/nvidia-cudnn-standin.deb"
  fi
  echo "debian13: installing ${missing[*]} in the CUDA root (about 3 GB)"
  in_root apt-get update -qq || die "apt-get update in $rootfs failed"
  # nvidia-cuda-toolkit asks to accept NVIDIA's licence through debconf; the answer is given, not prompted.
  in_root bash -c 'echo "nvidia-cuda-toolkit nvidia-cuda-toolkit/license note" | debconf-set-selections' || true
  in_root apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "installing the CUDA build's packages in $rootfs failed (see above)"
  in_root apt-get clean
}

# Ends every process still running inside the root (daemons a killed test left behind, such as its Slurm
# cluster), so that none outlives the job and holds its ports.
reap_root() {
  local pid real
  real=$(readlink -f "$rootfs")
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [[ $pid == "$$" ]] && continue
    [[ $(readlink "/proc/$pid/root" 2>/dev/null) == "$real" ]] && kill -TERM "$pid" 2>/dev/null || true
  done
  return 0
}

case $action in
  make) make_root; reap_root ;;
  exec)
    [[ -x $rootfs/bin/bash ]] || die "no root at $rootfs: run scripts/debian13.sh make $flavour first"
    [[ $# -ge 1 ]] || usage
    rc=0
    in_root "$@" || rc=$?
    reap_root
    exit "$rc" ;;
  path) echo "$rootfs" ;;
  *) usage ;;
esac
