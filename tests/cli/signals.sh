#!/bin/bash
# A stop signal at any time, even during start-up, gives the documented
# stop, never death by the signal:
# - SHARDML_FAULT=signal-at-start raises SIGUSR1 in main's first statement
#   (before MPI_Init, option parsing and data loading): train stops after
#   its first step with a checkpoint and exit 3, or exit 3 "nothing was
#   saved" without a checkpoint directory; search stops with exit 3;
# - SIGTERM to jobs/mpirun-local.sh at 0, 0.2 and 1 s after it started
#   (ranks not yet started, starting, running): exit 3, never a launcher left
#   waiting without ranks (90 s limit). The signal waits for the script's
#   trap (a handshake through /proc/PID/status), not for a guessed time;
# - a crash inside MPI_Finalize, a hang there (SHARDML_FINALIZE_TIMEOUT)
#   and a stop signal there keep the agreed exit status (see below).
. "$(dirname "$0")/lib.sh"
D=$FIXTURES/idx_raw
HERE=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export SHARDML_FAULT=signal-at-start
T=(train --data "$D" --model softmax --batch 8 --epochs 50)

out=$(run_np 2 "${T[@]}" --out "$tmp/a" --checkpoint-dir "$tmp/ck" 2>&1); rc=$?
check "train, signal at start: exit 3 (got $rc)" test "$rc" -eq 3
check "... after its first step, with a checkpoint" grep -q "stopped by a signal after step 1; checkpoint written" <<<"$out"
check "... which exists" test -f "$tmp/ck/ckpt-000000001.h5"
out=$(run_np 2 "${T[@]}" --out "$tmp/b" 2>&1); rc=$?
check "train without a checkpoint directory: exit 3 (got $rc)" test "$rc" -eq 3
check "... saying nothing was saved" grep -q "no checkpoint directory, so nothing was saved" <<<"$out"
out=$(run_np 2 search --data "$D" --model softmax --lr 0.01,0.02 --epochs 1 --batch 8 --folds 2 --out "$tmp/s" 2>&1); rc=$?
check "search, signal at start: exit 3 (got $rc)" test "$rc" -eq 3
unset SHARDML_FAULT

# A crash of the MPI library while it shuts down (Open MPI 4.1.4's TCP
# transport, now and then): SHARDML_FAULT=crash-in-finalize raises SIGSEGV
# after MPI_Finalize. The agreed exit status stands, with one warning line
# per rank and no crash dump. Sanitizer builds keep the crash (their
# reports must show), so there only the status is checked to be a failure.
# Once one rank has left with a failing status Open MPI's launcher stops
# the others (orte_abort_on_non_zero_status): a rank still inside
# MPI_Finalize then writes the stop-signal line instead of its own (seen
# once in CI for the crash; here in 2 of 20 runs with rank 1 niced under
# load). So each rank writes at most one line, PATTERN's or the stop
# signal's; at least LEAST (default 2) are written, and one is PATTERN's.
stopped='stopped by a signal while the MPI library shut down'
warnings() { # warnings TEXT PATTERN [LEAST]
  local least=${3:-2} r n total=0
  for r in 0 1; do
    n=$(grep -cE "^shardml: warning: rank $r: ($2|$stopped)" <<<"$1")
    [ "$n" -le 1 ] || return 1
    total=$((total + n))
  done
  [ "$total" -ge "$least" ] && grep -qE "^shardml: warning: rank [01]: $2" <<<"$1"
}
# A command that ends with exit WANT (0 or 2), in ARGS.
ending_with() { if [ "$1" = 0 ]; then args=(--version); else args=(train --data "$D" --epochs -1 --out "$tmp/f"); fi; }
for want in 0 2; do
  ending_with $want
  out=$(SHARDML_FAULT=crash-in-finalize run_np 2 "${args[@]}" 2>&1); rc=$?
  if sanitized_build; then
    check "crash in MPI_Finalize under a sanitizer: not hidden (exit $rc)" test "$rc" -ne 0
    continue
  fi
  check "crash in MPI_Finalize: exit $want kept (got $rc)" test "$rc" -eq "$want"
  check "... one warning per rank" warnings "$out" 'the MPI library crashed while shutting down'
  check "... no crash dump" bash -c '! grep -qiE "segmentation|signal:|backtrace" <<<"$1"' _ "$out"
done

# A hang inside MPI_Finalize (UCX's TCP transport under MPICH, now and
# then): SHARDML_FAULT=hang-in-finalize never calls it, as if it never
# returned. After SHARDML_FINALIZE_TIMEOUT seconds each rank exits with the
# agreed status and one warning line; a stop signal meanwhile ends it at
# once, the same. Through jobs/mpirun-local.sh, which tells Open MPI's
# mpirun that a rank leaving so is no failure.
# MPICH's launcher (Hydra) kills the other ranks once one has left without
# finishing MPI; a rank it kills before its own guard fires (a busy CPU
# runs its handler late) writes no warning, so there one warning is the
# least. Nor does MPICH 4.0's Hydra always pass the status on: its proxy
# records 1 for a rank whose PMI connection closed before PMI finalize,
# and only when it reads that close before the rank's exit status does
# the real status replace it (1 in 20 runs under load reported 1, with
# Hydra's "EXIT CODE: 1" banner). There 1 is also taken.
local_np() { SHARDML="$SHARDML" timeout 60 bash "$HERE/jobs/mpirun-local.sh" "$@"; }
. "$HERE/tests/net/link.sh" # net_launcher
least_warnings=2 hydra_one=0
[ "$(net_launcher)" = hydra ] && least_warnings=1 hydra_one=1
kept() { # kept STATUS WANT: the launcher reported the agreed status (or Hydra's 1)
  [ "$1" -eq "$2" ] || { [ "$hydra_one" -eq 1 ] && [ "$1" -eq 1 ]; }
}
for want in 0 2; do
  ending_with $want
  out=$(SHARDML_FAULT=hang-in-finalize SHARDML_FINALIZE_TIMEOUT=2 local_np 2 "${args[@]}" 2>&1); rc=$?
  check "hang in MPI_Finalize: exit $want kept after the timeout (got $rc)" kept "$rc" "$want"
  check "... one warning per rank" warnings "$out" 'the MPI library did not finish shutting down within 2 s' "$least_warnings"
done
SHARDML_FAULT=hang-in-finalize SHARDML_FINALIZE_TIMEOUT=0 local_np 2 --version >"$tmp/hang.out" 2>&1 &
pid=$!
for i in $(seq 600); do [ "$(grep -c 'hangs in MPI_Finalize' "$tmp/hang.out")" = 2 ] && break; sleep 0.1; done
for rank_pid in $(sed -n 's/.*(pid \([0-9]*\)) hangs in MPI_Finalize/\1/p' "$tmp/hang.out"); do kill -TERM "$rank_pid"; done
wait "$pid"; rc=$?
check "SIGTERM in a hung MPI_Finalize (no timeout): exit 0 kept (got $rc)" kept "$rc" 0
check "... one warning per rank" warnings "$(cat "$tmp/hang.out")" "$stopped" "$least_warnings"
bad_timeout() { SHARDML_FINALIZE_TIMEOUT=1.5 expect_fail 2 2 "SHARDML_FINALIZE_TIMEOUT=1.5: expected whole seconds" --version; }
check "SHARDML_FINALIZE_TIMEOUT not whole seconds: exit 2, named, once" bad_timeout

caught() { # caught PID SIGNAL_NUMBER: the process has a handler for the signal
  local line
  line=$(grep '^SigCgt:' "/proc/$1/status" 2>/dev/null) || return 1
  (( (16#${line##*[[:space:]]} >> ($2 - 1)) & 1 ))
}
for delay in 0 0.2 1; do
  ck=$tmp/ck_$delay
  SHARDML="$SHARDML" bash "$HERE/jobs/mpirun-local.sh" 2 "${T[@]}" --epochs 100000 \
    --out "$tmp/o_$delay" --checkpoint-dir "$ck" >"$tmp/log_$delay" 2>&1 &
  pid=$!
  # Handshake: the script traps SIGTERM (its first command); then, after
  # the delay (any moment must do), the signal.
  for i in $(seq 600); do caught "$pid" 15 && break; sleep 0.01; done
  sleep "$delay"
  kill -TERM "$pid"
  for i in $(seq 900); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done # 90 s at most
  if kill -0 "$pid" 2>/dev/null; then pkill -9 -f -- "--checkpoint-dir $ck"; kill -9 "$pid"; fi
  wait "$pid"; rc=$?
  check "mpirun-local.sh, SIGTERM ${delay} s after it started: exit 3 (got $rc)" test "$rc" -eq 3 ||
    tail -5 "$tmp/log_$delay"
  check "... with its checkpoint" test -f "$ck/$(cat "$ck/latest" 2>/dev/null)"
done
finish
