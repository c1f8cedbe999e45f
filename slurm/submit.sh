#!/usr/bin/env bash
# Submits the pipeline as three chained jobs: collect -> encode -> diff, each starting only when the one
# before it succeeded (--dependency=afterok), all on one job folder. Prints the three job ids.
#   slurm/submit.sh CONFIG.toml OUTDIR
# Extra sbatch options per stage (resources, account, partition, QoS) come from the environment:
#   SAEDIFF_SBATCH_OPTS (every stage), SAEDIFF_COLLECT_OPTS, SAEDIFF_ENCODE_OPTS, SAEDIFF_DIFF_OPTS, e.g.
#   SAEDIFF_SBATCH_OPTS="--account=interp" SAEDIFF_ENCODE_OPTS="-N 8 --ntasks-per-node=8" slurm/submit.sh ...
set -euo pipefail
if (( $# != 2 )); then
  echo "usage: slurm/submit.sh CONFIG.toml OUTDIR" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
config=$(realpath "$1")
out=$(realpath -m "$2")
mkdir -p "$out"
# shellcheck disable=SC2086
common=(--parsable --output="$out/slurm-%x-%j.out" ${SAEDIFF_SBATCH_OPTS:-})
# shellcheck disable=SC2086
collect=$(sbatch "${common[@]}" ${SAEDIFF_COLLECT_OPTS:-} "$here/collect.sbatch" "$config" "$out")
# shellcheck disable=SC2086
encode=$(sbatch "${common[@]}" --dependency="afterok:${collect%%;*}" --kill-on-invalid-dep=yes \
  ${SAEDIFF_ENCODE_OPTS:-} "$here/encode.sbatch" "$config" "$out")
# shellcheck disable=SC2086
diff=$(sbatch "${common[@]}" --dependency="afterok:${encode%%;*}" --kill-on-invalid-dep=yes \
  ${SAEDIFF_DIFF_OPTS:-} "$here/diff.sbatch" "$config" "$out")
echo "collect ${collect%%;*}"
echo "encode ${encode%%;*}"
echo "diff ${diff%%;*}"
