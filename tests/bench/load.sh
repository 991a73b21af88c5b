#!/bin/bash
# Load + shard + preprocess time for Fashion-MNIST (not a test).
# Usage: tests/bench/load.sh [BUILD_DIR]
. "$(dirname "$0")/lib.sh"
for np in 1 2; do
  for rep in 1 2 3; do
    echo "$np rank(s): $(OMP_NUM_THREADS=1 mpirun -n $np --bind-to none "$B/shardml" info 2>/dev/null | grep '^load time')"
  done
done
