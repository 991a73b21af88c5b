# Sourced by the sbatch scripts: where shardml is, threads and binding, a
# per-job output directory, and signal forwarding for preemption.
#   SHARDML   the binary (default: build/shardml of the source tree, else the install's, else PATH)
#   RUNS      parent of the per-job output directories (default: runs/)
#   SRUN_MPI  srun's --mpi plugin (default: the cluster's MpiDefault)
set -euo pipefail
# A stop requested before the job step runs is remembered and acted on once
# it does (run_launcher in launcher.sh), not fatal to the batch script.
stop_requested=0
trap 'stop_requested=1' TERM USR1
SUBMIT_DIR=${SLURM_SUBMIT_DIR:-$PWD}
HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The binary: $SHARDML, else build/shardml of a source tree (the submit
# directory's, or the one these helpers came from), else the install these
# helpers belong to (PREFIX/share/shardml/jobs -> PREFIX/bin), else PATH.
if [ -z "${SHARDML:-}" ]; then
  for SHARDML in "$SUBMIT_DIR/build/shardml" "$HELPERS/../build/shardml" "$HELPERS/../../../bin/shardml" \
    "$(command -v shardml || echo /-)"; do
    [ -x "$SHARDML" ] && break
  done
fi
[ -x "$SHARDML" ] && SHARDML=$(cd "$(dirname "$SHARDML")" && pwd)/$(basename "$SHARDML")
[ -x "$SHARDML" ] || { echo "shardml job: no shardml binary ($SHARDML); set SHARDML, or build in $SUBMIT_DIR/build, or put an installed shardml on PATH (module load)" >&2; exit 1; }
RUNS=${RUNS:-$SUBMIT_DIR/runs}
# One OpenMP thread per CPU SLURM gave each task; BLAS shares the same pool.
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
export OMP_PROC_BIND=close OMP_PLACES=cores
# Since Slurm 22.05 srun no longer inherits --cpus-per-task from sbatch.
SRUN=(srun --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}" --cpu-bind=cores)
[ -n "${SRUN_MPI:-}" ] && SRUN+=(--mpi="$SRUN_MPI")
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "shardml job: binary $SHARDML, helpers $HELPERS"

. "$(dirname "${BASH_SOURCE[0]}")/launcher.sh"

# run_steps ARGS...: srun shardml in the background, forwarding USR1/TERM
# (sent to this batch shell by --signal=B:...) to the job step, so that every
# rank checkpoints and exits with status 3; then requeue the job, which
# starts again with --resume auto where it stopped.
stop_step() {
  echo "shardml job: signal received, asking the ranks to checkpoint"
  kill -USR1 "$launcher" 2>/dev/null || true # srun forwards it to every task
}
run_steps() {
  local status=0
  run_launcher stop_step "${SRUN[@]}" "$SHARDML" "$@" || status=$?
  if [ "$status" -eq 3 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    echo "shardml job: checkpoint written; requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
  fi
  return "$status"
}
