# Shared helpers for the CLI tests. tests/CMakeLists.txt sets SHARDML,
# MPIEXEC and MPIEXEC_PREFLAGS (the launcher of the MPI shardml is built
# with and its flags, used by mpirun.sh), FIXTURES, and the Open MPI
# variables that allow root.
set -u
# Variables of shardml's that a test sets itself where it needs them: one
# inherited from the caller's shell (a fault, a finalize timeout that is
# not whole seconds, a one-second HDF5 rehearsal, the BLAS core check off,
# a stale re-execution marker) would change or fail every run. SHARDML_ISA
# stays: capping the kernel level is how the suite runs at another level
# (under valgrind, avx2).
unset SHARDML_FAULT SHARDML_FINALIZE_TIMEOUT SHARDML_HDF5_TIMEOUT SHARDML_HDF5_VET SHARDML_BLAS_AUTOCORE \
  SHARDML_BLAS_REEXEC_FROM
passed=0
failed=0
check() { # check DESCRIPTION COMMAND...: runs one assertion and counts it
  local what=$1; shift
  if "$@"; then echo "ok   $what"; passed=$((passed + 1)); else echo "FAIL $what"; failed=$((failed + 1)); fi
}
export MPI_LAUNCH=${MPI_LAUNCH:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/mpirun.sh}
run_np() { # run_np N ARGS...: shardml on N ranks, unbound, at most SML_RUN_TIMEOUT s (60)
  local np=$1; shift
  timeout "${SML_RUN_TIMEOUT:-60}" "$MPI_LAUNCH" "$np" "$SHARDML" "$@"
}
run_np_failing() { # run_np_failing N ARGS...: run_np for a run whose ranks all exit
  # non-zero by themselves. Open MPI's launcher otherwise waits 1 s to SIGKILL
  # ranks that have already gone (odls_base_sigkill_timeout), three times a
  # failing 2-rank run's cost; a rank still running is killed as before.
  OMPI_MCA_odls_base_sigkill_timeout=0 run_np "$@"
}
expect_fail() { # expect_fail NP CODE NEEDLE ARGS...: shardml on NP ranks exits with CODE
  # and prints exactly one error line (from rank 0), which contains NEEDLE.
  local np=$1 code=$2 needle=$3 out rc; shift 3
  out=$(run_np_failing "$np" "$@" 2>&1 >/dev/null); rc=$?
  judge_failure "$rc" "$code" "$needle" "$out"
}
judge_failure() { # judge_failure RC CODE NEEDLE STDERR: expect_fail's verdict on a finished run
  local rc=$1 code=$2 needle=$3 out=$4 lines
  lines=$(grep -c '^shardml.*: error: ' <<<"$out")
  if [ "$rc" -ne "$code" ]; then echo "  exit $rc, expected $code (124 = hung)"; head -5 <<<"$out"; return 1; fi
  if [ "$lines" -ne 1 ]; then echo "  $lines error lines, expected 1:"; echo "$out"; return 1; fi
  grep '^shardml.*: error: ' <<<"$out" | grep -qF -- "$needle" || { echo "  the error does not mention '$needle':"; echo "$out"; return 1; }
}
sanitized_build() { # shardml is built with AddressSanitizer (asked of the binary, not the environment)
  grep -qa __asan_init "$SHARDML"
}
tensors_checksum() { # the checksum a model or checkpoint file stores over its parameters and optimizer state
  h5dump -a tensors_checksum "$1" 2>/dev/null | sed -n 's/.*(0): "\([0-9a-f]*\)".*/\1/p'
}
latest_step() { sed -n 's/^ckpt-0*\([0-9][0-9]*\)\.h5$/\1/p' "$1/latest" 2>/dev/null; }
wait_for_step() { # wait_for_step DIR STEP: until a checkpoint at or after STEP exists (60 s at most)
  local i s
  for i in $(seq 1200); do
    s=$(latest_step "$1"); [ -n "$s" ] && [ "$s" -ge "$2" ] && return 0; sleep 0.05
  done
  return 1
}
kill_after_checkpoint() { # kill_after_checkpoint NP CKDIR STEP ARGS...: shardml ARGS --checkpoint-dir CKDIR
  # on NP ranks in the background, SIGKILLed once a checkpoint at or after STEP exists; prints the
  # newest checkpoint's step. Fails (after the run ended) when no such checkpoint appeared.
  local np=$1 dir=$2 step=$3 pid; shift 3
  run_np "$np" "$@" --checkpoint-dir "$dir" >/dev/null 2>&1 &
  pid=$!
  if ! wait_for_step "$dir" "$step"; then wait $pid; return 1; fi
  pkill -9 -f -- "--checkpoint-dir $dir"; wait $pid 2>/dev/null
  latest_step "$dir"
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}
