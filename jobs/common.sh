# Sourced by the sbatch scripts: where shardml is, threads and binding, a
# per-job output directory, and signal forwarding for preemption.
#   SHARDML   the binary (default: build/shardml in the submit directory, else shardml on PATH)
#   RUNS      parent of the per-job output directories (default: runs/)
#   SRUN_MPI  srun's --mpi plugin (default: the cluster's MpiDefault)
set -euo pipefail
# A stop requested before the job step runs is remembered and acted on once
# it does (run_launcher in launcher.sh), not fatal to the batch script.
stop_requested=0
trap 'stop_requested=1' TERM USR1
SUBMIT_DIR=${SLURM_SUBMIT_DIR:-$PWD}
SHARDML=${SHARDML:-$SUBMIT_DIR/build/shardml}
[ -x "$SHARDML" ] || SHARDML=$(command -v shardml || echo "$SHARDML") # an installed shardml (module)
RUNS=${RUNS:-$SUBMIT_DIR/runs}
# One OpenMP thread per CPU SLURM gave each task; BLAS shares the same pool.
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
export OMP_PROC_BIND=close OMP_PLACES=cores
# Since Slurm 22.05 srun no longer inherits --cpus-per-task from sbatch.
SRUN=(srun --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}" --cpu-bind=cores)
[ -n "${SRUN_MPI:-}" ] && SRUN+=(--mpi="$SRUN_MPI")
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

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
