#!/bin/bash
# Runs shardml with mpirun on one workstation: mpirun-local.sh NP COMMAND [options]
#   e.g. jobs/mpirun-local.sh 2 info
# NP ranks, OMP_NUM_THREADS threads each (default: cores / NP). Works as root
# (Open MPI refuses root unless told) and with more ranks than cores, with
# Open MPI's launcher and with MPICH's (Hydra; Intel MPI's is the same).
#   SHARDML  the binary (default: build/shardml here, else shardml on PATH)
#   MPIEXEC  the launcher (default: the one of the MPI shardml is linked with)
set -euo pipefail
NP=${1:?usage: mpirun-local.sh NP COMMAND [options]}; shift
HERE=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${SHARDML:-}" ]; then
  SHARDML=$HERE/build/shardml
  [ -x "$SHARDML" ] || SHARDML=$(command -v shardml || echo "$HERE/../../bin/shardml")
fi
if [ -z "${MPIEXEC:-}" ]; then
  MPIEXEC=mpirun
  # Debian names each MPI's launcher after it; mpirun is whichever is the default.
  if [[ $(ldd "$SHARDML" 2>/dev/null) == *libmpich* ]]; then
    MPIEXEC=$(command -v mpiexec.mpich || command -v mpiexec.hydra || echo mpiexec)
  fi
fi
CORES=$(nproc)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( CORES / NP > 0 ? CORES / NP : 1 ))}
OVERSUBSCRIBED=0
if [ "$NP" -gt "$CORES" ] || [ $(( NP * OMP_NUM_THREADS )) -gt "$CORES" ]; then OVERSUBSCRIBED=1; fi
launcher_version=$("$MPIEXEC" --version 2>&1 || true) # not piped into grep -q: SIGPIPE under pipefail
if [[ $launcher_version == *"Open MPI"* || $launcher_version == *OpenRTE* ]]; then
  [ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  FLAGS=(--bind-to core --map-by "slot:PE=$OMP_NUM_THREADS" -x OMP_NUM_THREADS)
  if [ "$OVERSUBSCRIBED" -eq 1 ]; then
    export OMPI_MCA_rmaps_base_oversubscribe=1
    FLAGS=(--bind-to none -x OMP_NUM_THREADS)
  fi
else # Hydra: binds nothing unless asked, starts any number of ranks
  FLAGS=(-genv OMP_NUM_THREADS "$OMP_NUM_THREADS")
  [ "$OVERSUBSCRIBED" -eq 0 ] && FLAGS+=(-bind-to "core:$OMP_NUM_THREADS")
fi
# SIGTERM to mpirun would kill the ranks (exit 1) while they write their
# checkpoint; SIGUSR1 is forwarded to them and means "checkpoint and stop"
# (exit 3). So a SIGTERM to this script becomes a SIGUSR1 to mpirun, and the
# script waits for the ranks and returns their status.
"$MPIEXEC" -n "$NP" "${FLAGS[@]}" "$SHARDML" "$@" &
launcher=$!
trap 'kill -USR1 "$launcher" 2>/dev/null' TERM
status=0
wait "$launcher" || status=$?
while kill -0 "$launcher" 2>/dev/null; do wait "$launcher" || status=$?; done
exit "$status"
