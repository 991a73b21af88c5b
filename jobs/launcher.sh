# Sourced by jobs/common.sh and jobs/mpirun-local.sh: run an MPI launcher
# (srun, mpirun, mpiexec) so that a SIGTERM or SIGUSR1 to this shell asks the
# ranks to checkpoint and stop (they exit with status 3) instead of killing
# the launcher, and the shell returns the launcher's status.

# run_launcher STOP COMMAND...: runs COMMAND in the background (its pid in
# $launcher) and returns its exit status. A SIGTERM or SIGUSR1 meanwhile runs
# the function STOP, which signals the ranks, and the wait goes on.
run_launcher() {
  local stop=$1 signals=0 seen status
  shift
  "$@" &
  launcher=$!
  trap 'signals=$((signals + 1)); '"$stop" USR1 TERM
  # A stop that came before the launcher started (the caller's own early
  # trap sets stop_requested): act on it now.
  if [ "${stop_requested:-0}" -eq 1 ]; then signals=$((signals + 1)); "$stop"; fi
  while :; do
    seen=$signals status=0
    wait "$launcher" || status=$?
    # A trapped signal also ends the wait (status 128 + signal), while the
    # launcher runs on or just after it ended: wait again, bash keeps an ended
    # child's status (checking whether it still runs instead lost that race:
    # status 143 in about half the runs of a launcher that ends at once).
    if [ "$status" -gt 128 ] && [ "$signals" -ne "$seen" ]; then continue; fi
    break
  done
  trap - USR1 TERM
  return "$status"
}
