#!/bin/bash
# OpenBLAS kernel selection: with OPENBLAS_CORETYPE unset, the kernels that
# run are the best this CPU supports (shardml re-executes itself if OpenBLAS
# chose weaker ones), with one notice; a value already set is respected; the
# opt-out keeps OpenBLAS's own choice.
. "$(dirname "$0")/lib.sh"
D="$FIXTURES/idx_raw"
core_line() { grep '^blas ' <<<"$1"; }

out=$(env -u OPENBLAS_CORETYPE -u SHARDML_BLAS_AUTOCORE "$MPIEXEC" -n 2 --bind-to none "$SHARDML" info --data "$D" 2>"$FIXTURES/blas_err.txt")
line=$(core_line "$out"); echo "$line"
ran=$(sed -E 's/^blas +OpenBLAS core ([^ ]+) .*/\1/' <<<"$line")
best=$(sed -E 's/.*best for this CPU: ([^)]+)\).*/\1/' <<<"$line")
if [ "$best" = unknown ]; then
  echo "CPU level unknown to shardml: nothing to fix"
else
  check "kernel that ran ($ran) is the best for the CPU ($best)" test "$ran" = "$best"
fi
notices=$(grep -c 'restarted with OPENBLAS_CORETYPE' "$FIXTURES/blas_err.txt")
cat "$FIXTURES/blas_err.txt"
check "at most one notice (rank 0 only)" test "$notices" -le 1

out=$(OPENBLAS_CORETYPE=Haswell "$MPIEXEC" -n 1 "$SHARDML" info --data "$D" 2>"$FIXTURES/blas_err.txt")
check "OPENBLAS_CORETYPE=Haswell respected" grep -q '^blas  *OpenBLAS core Haswell ' <<<"$out"
check "no notice when the variable is set" test "$(grep -c restarted "$FIXTURES/blas_err.txt")" -eq 0

out=$(env -u OPENBLAS_CORETYPE SHARDML_BLAS_AUTOCORE=0 "$MPIEXEC" -n 1 "$SHARDML" info --data "$D" 2>"$FIXTURES/blas_err.txt")
check "opt-out: no re-exec notice" test "$(grep -c restarted "$FIXTURES/blas_err.txt")" -eq 0
check "opt-out: still runs" grep -q '^blas ' <<<"$out"
finish
