#!/bin/bash
# Runs shardml with mpirun on one workstation: mpirun-local.sh NP COMMAND [options]
#   e.g. jobs/mpirun-local.sh 2 info
# NP ranks, OMP_NUM_THREADS threads each (default: cores / NP). Works as root
# (Open MPI refuses root unless told) and with more ranks than cores.
set -euo pipefail
NP=${1:?usage: mpirun-local.sh NP COMMAND [options]}; shift
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARDML=${SHARDML:-$HERE/build/shardml}
CORES=$(nproc)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( CORES / NP > 0 ? CORES / NP : 1 ))}
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
BIND=(--bind-to core --map-by "slot:PE=$OMP_NUM_THREADS")
if [ "$NP" -gt "$CORES" ] || [ $(( NP * OMP_NUM_THREADS )) -gt "$CORES" ]; then
  export OMPI_MCA_rmaps_base_oversubscribe=1
  BIND=(--bind-to none)
fi
# SIGTERM to mpirun would kill the ranks (exit 1) while they write their
# checkpoint; SIGUSR1 is forwarded to them and means "checkpoint and stop"
# (exit 3). So a SIGTERM to this script becomes a SIGUSR1 to mpirun, and the
# script waits for the ranks and returns their status.
mpirun -n "$NP" "${BIND[@]}" -x OMP_NUM_THREADS "$SHARDML" "$@" &
launcher=$!
trap 'kill -USR1 "$launcher" 2>/dev/null' TERM
status=0
wait "$launcher" || status=$?
while kill -0 "$launcher" 2>/dev/null; do wait "$launcher" || status=$?; done
exit "$status"
