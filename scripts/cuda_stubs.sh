#!/usr/bin/env bash
# Link-time stand-ins for the shared libraries that a CUDA libtorch needs but a GPU-less build host lacks
# (cuDNN, when Debian's nvidia-cudnn installer could not fetch it): for each such library named in a DT_NEEDED
# entry of LIB, a stub with the same soname that defines every symbol LIB needs and no library found defines.
# The stubs only let the linker check libtorch's dependencies and let the unit tests load on a CPU; a GPU run
# uses the real libraries, and nothing calls into a stub (its functions do nothing).
#   scripts/cuda_stubs.sh OUTDIR LIB...      e.g. scripts/cuda_stubs.sh build/stubs /usr/lib/x86_64-linux-gnu/libtorch_cuda.so
# Prints the sonames it stood in for (none: every dependency was found).
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '2,8p' "$0" >&2; exit 2; }
out=$1; shift
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$work/missing"
for lib in "$@"; do
  [[ -f $lib ]] || { echo "cuda_stubs: no such library: $lib" >&2; exit 1; }
  ldd "$lib" | awk '/=> not found/ {print $1}' >>"$work/missing.$$" || true
  # Symbols LIB needs, less those the libraries it does find define.
  # name@VERSION as the library binds it; a definition elsewhere matches by name.
  nm -D --undefined-only "$lib" | awk '{print $NF}' | sed 's/@@*/@/' | sort -u >"$work/needed"
  : >"$work/defined"
  ldd "$lib" | awk '/=> \// {print $3}' | while read -r dep; do
    nm -D --defined-only "$dep" 2>/dev/null | awk '{print $NF}' | sed 's/@.*//' >>"$work/defined"
  done
  nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' >>"$work/defined"
  sort -u -o "$work/defined" "$work/defined"
  awk 'NR == FNR { have[$1] = 1; next } { name = $1; sub(/@.*/, "", name); if (!(name in have)) print }' \
    "$work/defined" "$work/needed" | grep -v '^_\?_\?\(gmon_start\|ITM_\|cxa_finalize\)' >>"$work/symbols" || true
done
sort -u "$work/missing.$$" >"$work/missing"
sort -u -o "$work/symbols" "$work/symbols" 2>/dev/null || : >"$work/symbols"
while read -r soname; do
  [[ -n $soname ]] || continue
  # A symbol that LIB needs with a version (name@VERSION, as libtorch's cuDNN symbols are bound to the version
  # node "libcudnn.so.9") must be defined with that version: a version script gives each node its symbols.
  # A missing library's symbols are those bound to its version node (name@SONAME, as libtorch's cuDNN symbols
  # are); a library without versioned symbols gets every symbol nothing found defines.
  if grep -q "@$soname\$" "$work/symbols"; then
    grep "@$soname\$" "$work/symbols" | sed 's/@.*//' >"$work/mine"
  else
    grep -v '@' "$work/symbols" >"$work/mine" || true
  fi
  {
    echo "/* Link-time stand-in for $soname, made by saediff's scripts/cuda_stubs.sh. Never called. */"
    while read -r sym; do [[ -n $sym ]] && echo "void $sym(void) {}"; done <"$work/mine"
  } >"$work/stub.c"
  flags=()
  if grep -q "@$soname\$" "$work/symbols"; then
    { echo "$soname {"; echo "  global:"; sed 's/$/;/; s/^/    /' "$work/mine"; echo "  local: *;"; echo "};"; } >"$work/stub.map"
    flags=(-Wl,--version-script="$work/stub.map")
  fi
  cc -shared -fPIC -o "$out/$soname" -Wl,-soname,"$soname" "${flags[@]}" "$work/stub.c"
  echo "$soname ($(wc -l <"$work/mine") symbols)"
done <"$work/missing"
