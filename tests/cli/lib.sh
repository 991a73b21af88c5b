# Shared helpers for the CLI tests. tests/CMakeLists.txt sets SHARDML,
# MPIEXEC and FIXTURES, and the Open MPI variables that allow root.
set -u
passed=0
failed=0
check() { # check DESCRIPTION COMMAND...: runs one assertion and counts it
  local what=$1; shift
  if "$@"; then echo "ok   $what"; passed=$((passed + 1)); else echo "FAIL $what"; failed=$((failed + 1)); fi
}
run_np() { # run_np N ARGS...: shardml on N ranks, unbound, at most 60 s
  local np=$1; shift
  timeout 60 "$MPIEXEC" -n "$np" --bind-to none "$SHARDML" "$@"
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}
