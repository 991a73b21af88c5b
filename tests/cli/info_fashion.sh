#!/bin/bash
# Acceptance: `mpirun -n 2 shardml info` on the default data (Fashion-MNIST
# from the dataset-fashion-mnist package) reports 60000/10000 images, 6000 a
# class, and two shards of 30000.
. "$(dirname "$0")/lib.sh"
out=$(run_np 2 info) || { echo "shardml info failed"; exit 1; }
echo "$out"
has() { printf '%s\n' "$out" | grep -Eq -- "$1"; }
check "60000 train"        has '^train +60000 images$'
check "10000 test"         has '^test +10000 images$'
check "6000 per class"     test "$(printf '%s\n' "$out" | grep -Ec '^  [0-9] .* +6000 +0 +1000$')" -eq 10
check "shards 30000 30000" has '^  train +30000 30000$'
check "test shards"        has '^  test +5000 5000$'
finish
