#!/bin/bash
# What --reproducible costs, step by step (not a test): the 784-256-10 MLP
# at 1x1, 1x2 and 2x1 with global batches of 128 and 512, one training in
# each mode in the same process with their steps alternating (see
# repro_steps.c), so the machine's drift hits both alike; REPS runs per cell
# (default 2), with shardml's default micro-batch and, where that differs,
# with micro-batches of half the batch (one per worker on 2 workers).
# tests/bench/reproducible.sh measures whole runs instead.
# Usage: tests/bench/repro_steps.sh [BUILD_DIR]
set -u
. "$(dirname "$0")/lib.sh"
REPS=${REPS:-2}
for batch in 128 512; do
  steps=$((batch == 128 ? 2000 : 800))
  for layout in "1 1" "1 2" "2 1"; do
    set -- $layout
    for micro in 0 $((batch / 2)); do
      [ "$micro" = 64 ] && [ "$batch" = 128 ] && continue # the default there
      for r in $(seq "$REPS"); do
        OMP_NUM_THREADS=$2 mpirun -n "$1" --bind-to none "$B/tests/bench/sml_bench_repro_steps" "$batch" "$steps" \
          "$micro" || exit 1
      done
    done
  done
done
