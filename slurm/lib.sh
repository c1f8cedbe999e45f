# Shared by the saediff batch scripts (sourced, not run). Environment it reads:
#   SAEDIFF          the saediff binary (else `saediff` on PATH, else the build tree beside this folder)
#   SAEDIFF_MODULES  modules to `module load` first, space-separated (e.g. "cuda/12.4 openmpi/4.1 hdf5/1.14")
#   SAEDIFF_ENV      a file to source first (a site's environment script, a venv's activate, ...)
#   SAEDIFF_REQUEUE  1 (default): on the time-limit signal, stop the step cleanly and requeue the job, which
#                    then resumes; 0: stop and exit 143
#   SAEDIFF_MPI      srun's --mpi plugin (default pmix)

# The checkout this folder belongs to (its build tree is the last place to look for the binary).
saediff_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

saediff_setup() {
  if [[ -n "${SAEDIFF_ENV:-}" ]]; then
    # shellcheck disable=SC1090
    source "$SAEDIFF_ENV"
  fi
  if [[ -n "${SAEDIFF_MODULES:-}" ]]; then
    command -v module >/dev/null 2>&1 || { echo "saediff: SAEDIFF_MODULES is set but there is no 'module' command" >&2; exit 2; }
    # shellcheck disable=SC2086
    module load $SAEDIFF_MODULES
  fi
  if [[ -n "${SAEDIFF:-}" ]]; then
    saediff_bin=$SAEDIFF
  elif command -v saediff >/dev/null 2>&1; then
    saediff_bin=$(command -v saediff)
  else
    saediff_bin=$saediff_root/build/saediff
  fi
  [[ -x "$saediff_bin" ]] || { echo "saediff binary not found (set SAEDIFF or build into $saediff_root/build)" >&2; exit 2; }
  echo "saediff: $saediff_bin ($("$saediff_bin" --version)); job ${SLURM_JOB_ID:-?} on ${SLURM_JOB_NUM_NODES:-1} nodes," \
       "${SLURM_NTASKS:-1} tasks, restart ${SLURM_RESTART_COUNT:-0}"
}

saediff_signal=0
saediff_on_signal() {
  saediff_signal=$1
  echo "saediff: caught SIG$1 (time limit or scancel): stopping the step cleanly" >&2
  # To the step's tasks themselves (scancel without --batch signals every step, not this shell), so that
  # saediff gets the signal rather than srun's own teardown.
  if [[ -n "${SLURM_JOB_ID:-}" ]]; then
    scancel --signal="$1" "$SLURM_JOB_ID" 2>/dev/null || true
  elif [[ -n "${saediff_step:-}" ]]; then
    kill -s "$1" "$saediff_step" 2>/dev/null || true
  fi
}

# saediff_srun [SRUN OPTIONS] -- SAEDIFF ARGS: runs one job step with the time-limit signal forwarded to it
# (#SBATCH --signal=B:TERM@120 sends it to this shell only). A step stopped that way requeues the job when
# SAEDIFF_REQUEUE=1; the requeued job runs the script again and saediff resumes from the job folder.
# Otherwise returns the step's exit code, so that it reaches Slurm.
saediff_srun() {
  local srun_opts=()
  while (($#)) && [[ $1 != -- ]]; do srun_opts+=("$1"); shift; done
  [[ ${1:-} == -- ]] && shift
  trap 'saediff_on_signal TERM' TERM
  trap 'saediff_on_signal INT' INT
  srun --mpi="${SAEDIFF_MPI:-pmix}" "${srun_opts[@]}" "$saediff_bin" "$@" &
  saediff_step=$!
  local rc=0
  while true; do
    rc=0
    wait "$saediff_step" || rc=$?
    # wait returns early (> 128) when a trapped signal arrives; wait again until the step has ended.
    kill -0 "$saediff_step" 2>/dev/null || break
  done
  trap - TERM INT
  saediff_step=
  if [[ $saediff_signal != 0 ]]; then
    if [[ "${SAEDIFF_REQUEUE:-1}" == 1 && -n "${SLURM_JOB_ID:-}" ]]; then
      echo "saediff: step stopped (exit $rc); requeueing job $SLURM_JOB_ID to resume" >&2
      scontrol requeue "$SLURM_JOB_ID"
      # The requeue ends this run of the script; exit in case it has not yet.
      exit 0
    fi
    exit 143
  fi
  return "$rc"
}
