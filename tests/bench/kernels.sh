#!/bin/bash
# Kernel benchmark (not a test): every dispatched kernel on every level this
# CPU runs, against cblas_sgemm on the same shapes, at 1 and 2 threads.
# Usage: tests/bench/kernels.sh [BUILD_DIR]
set -u
. "$(dirname "$0")/lib.sh"
for t in 1 2; do
  echo "== $t thread(s)"
  OMP_NUM_THREADS=$t "$B/tests/bench/sml_bench_kernels"
done
