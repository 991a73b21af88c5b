#!/bin/bash
# OpenBLAS kernel selection: with OPENBLAS_CORETYPE unset, the kernels that
# run are at the best level this CPU supports (shardml re-executes itself if
# OpenBLAS chose weaker ones), with one notice; a value already set is
# respected; the opt-out keeps OpenBLAS's own choice. Levels are compared,
# never names: on AMD EPYC OpenBLAS calls its Haswell-class kernels "Zen".
. "$(dirname "$0")/lib.sh"
D="$FIXTURES/idx_raw"
core_line() { grep '^blas  ' <<<"$1"; }
level_rank() { case "$1" in sse) echo 1 ;; avx) echo 2 ;; avx2) echo 3 ;; avx512) echo 4 ;; *) echo 0 ;; esac; }

out=$(env -u OPENBLAS_CORETYPE -u SHARDML_BLAS_AUTOCORE "$MPI_LAUNCH" 2 "$SHARDML" info --data "$D" 2>"$FIXTURES/blas_err.txt")
grep '^cpu ' <<<"$out"
line=$(core_line "$out"); echo "$line"
grep '^blas library ' <<<"$out"
check "info names the BLAS library file" grep -q '^blas library /.*\.so' <<<"$out"
if ! grep -q 'OpenBLAS core' <<<"$line"; then # BLIS, MKL, the reference CBLAS: nothing to check or fix
  check "another BLAS: no kernel check" grep -q 'no OpenBLAS kernel check' <<<"$line"
  check "another BLAS: no re-exec" test "$(grep -c restarted "$FIXTURES/blas_err.txt")" -eq 0
  finish
fi
# blas         OpenBLAS core Zen, level avx2 (best for this CPU: Haswell, level avx2)
ran_level=$(sed -E 's/^blas +OpenBLAS core [^,]+, level ([a-z0-9]+) .*/\1/' <<<"$line")
best=$(sed -E 's/.*best for this CPU: ([^,]+),.*/\1/' <<<"$line")
best_level=$(sed -E 's/.*best for this CPU: [^,]+, level ([a-z0-9]+)\).*/\1/' <<<"$line")
if [ "$best" = unknown ]; then
  echo "CPU level unknown to shardml: nothing to fix"
else
  check "kernel level that ran ($ran_level) is at least the CPU's best ($best_level)" \
    test "$(level_rank "$ran_level")" -ge "$(level_rank "$best_level")" -a "$(level_rank "$best_level")" -gt 0
fi
notices=$(grep -c 'restarted with OPENBLAS_CORETYPE' "$FIXTURES/blas_err.txt")
cat "$FIXTURES/blas_err.txt"
check "at most one notice (rank 0 only)" test "$notices" -le 1

out=$(OPENBLAS_CORETYPE=Nehalem "$MPI_LAUNCH" 1 "$SHARDML" info --data "$D" 2>"$FIXTURES/blas_err.txt")
check "OPENBLAS_CORETYPE=Nehalem respected" grep -q '^blas  *OpenBLAS core Nehalem, level sse ' <<<"$out"
check "no notice when the variable is set" test "$(grep -c restarted "$FIXTURES/blas_err.txt")" -eq 0

out=$(env -u OPENBLAS_CORETYPE SHARDML_BLAS_AUTOCORE=0 "$MPI_LAUNCH" 1 "$SHARDML" info --data "$D" 2>"$FIXTURES/blas_err.txt")
check "opt-out: no re-exec notice" test "$(grep -c restarted "$FIXTURES/blas_err.txt")" -eq 0
check "opt-out: still runs" grep -q '^blas ' <<<"$out"
finish
