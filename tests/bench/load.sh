#!/bin/bash
# Load + shard + preprocess time for Fashion-MNIST (not a test).
# Usage: tests/bench/load.sh [BUILD_DIR]
B=${1:-build}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for np in 1 2; do
  for rep in 1 2 3; do
    echo "$np rank(s): $(OMP_NUM_THREADS=1 mpirun -n $np --bind-to none "$B/shardml" info 2>/dev/null | grep '^load time')"
  done
done
