#!/bin/bash
# Load balance of the dynamic task scheduler (not a test): a 12-configuration
# MLP search (3 lr x 2 reg x 2 widths, so tasks differ in cost) on 4 ranks
# (oversubscribed on 2 cores) with G = 4, 2 and 1 groups: wall time and each
# group's busy time. Usage: tests/bench/search_balance.sh [BUILD_DIR]
. "$(dirname "$0")/lib.sh"
export OMP_NUM_THREADS=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for G in 4 2 1; do
  echo "== G=$G"
  /usr/bin/time -f "total wall %e s" mpirun -n 4 --bind-to none "$B/shardml" search --model mlp --hidden 64,256 \
    --lr 0.01,0.05,0.1 --reg 0,1e-4 --folds 3 --epochs 2 --subset 12000 --groups $G --out "$tmp/g$G" 2>&1 |
    grep -E "search: group|search: retraining|total wall|^test accuracy"
done
