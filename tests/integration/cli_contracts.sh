#!/usr/bin/env bash
# CLI contracts on a finished demo run ($1): diff reproduces the run's report; bad input fails fast on
# every rank with a clear message and leaves nothing half-written. $2: scratch folder.
set -euo pipefail
run=$1 tmp=$2
: "${SAEDIFF:?SAEDIFF must point at the saediff binary}"
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
rm -rf "$tmp" && mkdir -p "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
n_pass=0
pass() { echo "ok: $*"; n_pass=$((n_pass + 1)); }

help=$("$SAEDIFF" --help)
for sub in collect encode diff run tokenize forward; do
  grep -qw "$sub" <<<"$help" || fail "--help does not list $sub"
done
pass "--help lists every subcommand"

# A lean start-up: --version names the build, and the single-process subcommands start no MPI. Open MPI's
# MPI_Init reads its MCA parameter files (openmpi-mca-params.conf; Open MPI 4 and 5 alike) and, in a
# singleton under Open MPI 4, forks its daemon (orted): a traced run that does neither never initialised MPI.
version=$("$SAEDIFF" --version)
for what in "^saediff [0-9]" "^libtorch [0-9]+\.[0-9]+" "^CUDA: " "^NCCL: " "^MPI: .*(Open MPI|MPICH)"; do
  grep -Eq "$what" <<<"$version" || fail "--version has no line matching '$what': $version"
done
pass "--version names saediff, libtorch, CUDA, NCCL and the MPI library"
command -v strace >/dev/null || fail "strace is needed to check the start-up (scripts/setup.sh installs it)"
mpi_trace() {  # $1: label; the rest: the command, run outside any launcher under strace
  local label=$1; shift
  env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK -u PMI_SIZE -u PMI_FD -u SLURM_STEP_ID \
    strace -f -qq -e trace=execve,openat -o "$tmp/strace.$label" "$@" >/dev/null 2>"$tmp/stderr.$label"
}
started_mpi() { grep -Eq 'mca-params\.conf|execve\("[^"]*/(orted|prte)"' "$tmp/strace.$1"; }
no_mpi() {
  local label=$1
  mpi_trace "$@" || fail "$label failed: $(tail -n 3 "$tmp/stderr.$label")"
  grep -q 'execve(' "$tmp/strace.$label" || fail "$label: strace saw no execve at all (the check cannot see)"
  if started_mpi "$label"; then fail "$label initialised MPI: $(grep -E 'mca-params|orted|prte' "$tmp/strace.$label" | head -n 2)"; fi
}
printf '{"text": "Hello, world"}\n' >"$tmp/texts.jsonl"
no_mpi version "$SAEDIFF" --version
no_mpi help "$SAEDIFF" diff --help
no_mpi tokenize "$SAEDIFF" tokenize --tokenizer "$SAEDIFF_TOKENIZER_JSON" --input "$tmp/texts.jsonl" --output "$tmp/ids.jsonl"
# The run labels the report with the planted features' labels (demo-model/labels.json); so do these diffs.
no_mpi diff "$SAEDIFF" diff --encoded "$run/encoded.h5" --baseline terse --candidate verbose --threshold 0.5 \
  --top-k 15 --labels "$run/demo-model/labels.json" --out "$tmp/diff-nompi"
cmp "$tmp/diff-nompi/features.csv" "$run/report/features.csv" || fail "diff without MPI differs from run's report"
# The check can fail: encode is collective, so even outside a launcher it initialises MPI.
mpi_trace encode "$SAEDIFF" encode --responses /nonexistent.jsonl --model /nonexistent --sae /nonexistent \
  --out "$tmp/never.h5" || true
started_mpi encode || fail "encode did not initialise MPI (the start-up check sees nothing)"
pass "--version, --help, tokenize and diff start without MPI (no orted); encode starts it"

"$SAEDIFF" diff --encoded "$run/encoded.h5" --baseline terse --candidate verbose --threshold 0.5 --top-k 15 \
  --labels "$run/demo-model/labels.json" --out "$tmp/diff"
cmp "$tmp/diff/features.csv" "$run/report/features.csv" || fail "diff's features.csv differs from run's"
pass "diff on encoded.h5 reproduces the run's features.csv"

"$SAEDIFF" diff --encoded "$run/encoded.h5" --baseline terse --candidate verbose --threshold 0 --out "$tmp/diff0"
head -1 "$tmp/diff0/features.csv" | grep -q '^feature,label,freq_baseline,freq_candidate,diff' || fail "features.csv header"
! cmp -s "$tmp/diff0/features.csv" "$run/report/features.csv" || fail "threshold 0 gave the same result as 0.5"
pass "diff --threshold 0 (the reference's binarisation) runs and differs"

# report.html and the figures: well-formed, and the HTML's top tables list the same features as features.csv.
python3 - "$run/report" <<'PY' || fail "report.html / figures"
import csv, re, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
for svg in ("freq_scatter.svg", "volcano.svg", "top_diff.svg", "lengths.svg"):
    ET.parse(f"{d}/{svg}")
page = open(f"{d}/report.html", encoding="utf-8").read()
def table_after(anchor):
    section = page.split(f'<h2 id="{anchor}">', 1)[1]
    table = section[section.index("<table>"):section.index("</table>")]
    return [int(m) for m in re.findall(r'<tr><td class="r">\d+</td><td class="r">#(\d+)</td>', table)]
rows = list(csv.DictReader(open(f"{d}/features.csv")))
up = [int(r["feature"]) for r in rows if float(r["diff"]) > 0][:15]
down = [int(r["feature"]) for r in rows if float(r["diff"]) < 0][:15]
assert table_after("up") == up and table_after("down") == down, (table_after("up")[:5], up[:5])
assert page.count("<svg") >= 4
PY
pass "report.html lists the same top features as features.csv, with the figures; every SVG is well-formed"

# A config file gives the options; the command line wins.
cat >"$tmp/diff.toml" <<TOML
[diff]
encoded = "$run/encoded.h5"
baseline = "terse"
candidate = "verbose"
top_k = 15
labels = "$run/demo-model/labels.json"
out = "$tmp/from-config"
TOML
"$SAEDIFF" diff --config "$tmp/diff.toml" --out "$tmp/from-cli"
[[ -f "$tmp/from-cli/features.csv" && ! -e "$tmp/from-config" ]] || fail "--out on the command line did not win over the config"
cmp "$tmp/from-cli/features.csv" "$run/report/features.csv" || fail "config-driven diff differs"
pass "diff --config works and the command line wins"

printf '[diff]\nbaselin = "terse"\n' >"$tmp/typo.toml"
if out=$("$SAEDIFF" diff --config "$tmp/typo.toml" 2>&1); then fail "unknown config key accepted"; fi
grep -q "unknown key 'baselin'" <<<"$out" || fail "unknown key message: $out"
pass "an unknown config key is a clear error"

printf 'out = "x"\n[encdoe]\nlayer = 2\n' >"$tmp/section.toml"
if out=$("$SAEDIFF" run --config "$tmp/section.toml" 2>&1); then fail "unknown config section accepted"; fi
grep -q "unknown section \[encdoe\]" <<<"$out" || fail "unknown section message: $out"
pass "an unknown config section is a clear error"

if out=$("$SAEDIFF" diff --encoded "$run/encoded.h5" --baseline terse --candidate nosuch --out "$tmp/x" 2>&1); then
  fail "unknown set accepted"
fi
grep -q "set 'nosuch' is not in the encoded file; it has: terse, verbose" <<<"$out" || fail "unknown set message: $out"
pass "an unknown set names the sets that exist"

# Rank 0 alone meets the bad line while ranks 1-2 wait for their work: all must stop, fast.
head -3 "$SAEDIFF_SOURCE_DIR/configs/demo/responses.jsonl" >"$tmp/bad.jsonl"
echo '{"prompt_id": "broken", ' >>"$tmp/bad.jsonl"
head -5 "$SAEDIFF_SOURCE_DIR/configs/demo/responses.jsonl" | tail -2 >>"$tmp/bad.jsonl"
start=$(date +%s)
if out=$(timeout 120 "${mpirun[@]}" -np 3 "$SAEDIFF" encode --responses "$tmp/bad.jsonl" --model "$run/demo-model" \
           --sae "$run/demo-model/sae.safetensors" --layer 2 --out "$tmp/bad.h5" 2>&1); then
  fail "encode accepted a corrupt responses file"
fi
(( $(date +%s) - start < 100 )) || fail "the failed run took too long to abort"
grep -q "bad.jsonl:4: not valid JSON" <<<"$out" || fail "no line number in: $out"
[[ ! -e "$tmp/bad.h5" && ! -e "$tmp/bad.h5.tmp" ]] || fail "a failed encode left an output file"
pass "a bad line on rank 0 aborts all 3 ranks with file:line, and writes nothing"

if out=$(timeout 120 "${mpirun[@]}" -np 2 "$SAEDIFF" encode --responses "$SAEDIFF_SOURCE_DIR/configs/demo/responses.jsonl" \
           --model "$run/demo-model" --sae "$run/demo-model/sae.safetensors" --layer 9 --out "$tmp/l9.h5" 2>&1); then
  fail "encode accepted layer 9 of a 4-layer model"
fi
grep -qi "layer" <<<"$out" || fail "layer error message: $out"
pass "a layer beyond the model is a clear error on every rank"

echo "$n_pass passed, 0 failed"
