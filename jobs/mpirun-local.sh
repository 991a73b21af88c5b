#!/bin/bash
# Runs shardml with mpirun on one workstation: mpirun-local.sh NP COMMAND [options]
#   e.g. jobs/mpirun-local.sh 2 info
# NP ranks, OMP_NUM_THREADS threads each (default: cores / NP). Works as root
# (Open MPI refuses root unless told) and with more ranks than cores, with
# Open MPI's launcher and with MPICH's (Hydra; Intel MPI's is the same).
#   SHARDML  the binary (default: build/shardml here, else shardml on PATH)
#   MPIEXEC  the launcher (default: the one of the MPI shardml is linked with)
#   SHARDML_STOP_WAIT  seconds a stop waits for ranks to start (default 60)
set -euo pipefail
# A stop requested before the launcher runs is remembered and acted on once
# it does (run_launcher), not fatal to this script.
stop_requested=0
trap 'stop_requested=1' TERM USR1
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
  # A rank whose MPI library hangs or crashes in MPI_Finalize leaves with
  # the status all ranks agreed (shardml's shutdown guard); mpirun would
  # call that leaving without finalizing and exit 1. Exit statuses other
  # than 0 and signals still fail the run.
  export OMPI_MCA_orte_allowed_exit_without_sync=${OMPI_MCA_orte_allowed_exit_without_sync:-1}
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
# checkpoint; SIGUSR1 means "checkpoint and stop" (exit 3). So a SIGTERM (or
# SIGUSR1) to this script becomes a SIGUSR1 to each rank, and the script
# waits for the ranks and returns their status. The ranks are signalled
# directly (they all run on this machine), not through the launcher: MPICH
# 4.0's Hydra forwards SIGUSR1 but then may report exit status 0 for the
# ranks it signalled (fixed in MPICH 4.1, pmodels/mpich#5930). The launcher
# itself is signalled only when no rank has started yet.
shardml_path=$(command -v "$SHARDML" || echo "$SHARDML")
# Prints the pids of the launcher's descendants that run $SHARDML.
rank_pids() {
  local -A parent_of=() in_tree=(["$launcher"]=1)
  local stat line fields pid grew=1
  for stat in /proc/[0-9]*/stat; do
    { read -r line <"$stat"; } 2>/dev/null || continue
    fields=(${line##*) }) # after "pid (command) ": state, ppid, ...
    pid=${stat#/proc/}; parent_of[${pid%/stat}]=${fields[1]}
  done
  while [ "$grew" -eq 1 ]; do
    grew=0
    for pid in "${!parent_of[@]}"; do
      if [ -z "${in_tree[$pid]:-}" ] && [ -n "${in_tree[${parent_of[$pid]}]:-}" ]; then
        in_tree[$pid]=1 grew=1
      fi
    done
  done
  for pid in "${!in_tree[@]}"; do
    if [ "$pid" != "$launcher" ] && [ "/proc/$pid/exe" -ef "$shardml_path" ]; then echo "$pid"; fi
  done
  return 0
}
# Does process $1 catch SIGUSR1 yet? (bit 10 of SigCgt: shardml installs
# its handler as main's first statement; before that a signal would kill it.)
catches_usr1() {
  local line
  line=$(grep '^SigCgt:' "/proc/$1/status" 2>/dev/null) || return 1
  (( (16#${line##*[[:space:]]} >> 9) & 1 ))
}
# A stop before the ranks are up (a signal in the job's first second) waits
# for them to start and catch the signal, up to SHARDML_STOP_WAIT seconds
# (default 60), then signals them; the launcher itself only if none appears
# by then (Open MPI's mpirun, signalled before its ranks run, was seen to
# hang without them).
stop_ranks() {
  local ranks pid ready i
  for ((i = 0; i < ${SHARDML_STOP_WAIT:-60} * 10; i++)); do
    kill -0 "$launcher" 2>/dev/null || return 0 # ended: nothing to stop
    ranks=$(rank_pids) ready=1
    for pid in $ranks; do catches_usr1 "$pid" || ready=0; done
    if [ -n "$ranks" ] && [ "$ready" -eq 1 ]; then
      kill -USR1 $ranks 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
  kill -USR1 "$launcher" 2>/dev/null || true
}
. "$HERE/jobs/launcher.sh"
status=0
run_launcher stop_ranks "$MPIEXEC" -n "$NP" "${FLAGS[@]}" "$SHARDML" "$@" || status=$?
exit "$status"
