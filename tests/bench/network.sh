#!/bin/bash
# The gradient sum over an emulated network (not a test): 2 ranks in two
# network namespaces joined by a shaped veth link (tests/net/link.sh; root,
# and Open MPI's or MPICH's launcher: MPIEXEC=mpiexec.mpich with an MPICH
# build), MLP 784-256-10 on Fashion-MNIST, batch 512 (BATCH), EPOCHS
# epochs (default 20), in four settings: overlap off/on x fp32/bf16. Per
# setting, from history.csv epochs 2..: images/s, compute, communication in
# flight during compute, waiting (exposed + imbalance), the bytes that
# crossed the link, and the test accuracy. "hidden" is 1 - wait(on) /
# wait(off) of the same wire type: the part of the reduction overlap took
# off the critical path. Also the same settings on shared memory (no link).
# REPRO=M: the reproducible mode instead, --micro-batch M (fp32 only; its
# exact sums overlap with --overlap on when a step has more than 4).
# Usage: tests/bench/network.sh [BUILD_DIR] [RATE] [DELAY]   (e.g. build 10gbit 50us)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
RATE=${2:-10gbit} DELAY=${3:-50us} EPOCHS=${EPOCHS:-20} BATCH=${BATCH:-512} REPRO=${REPRO:-}
mode=() dtypes="fp32 bf16"
[ -n "$REPRO" ] && mode=(--reproducible --micro-batch "$REPRO") dtypes=fp32
export SHARDML=$B/shardml MPIEXEC=${MPIEXEC:-mpirun} OMP_NUM_THREADS=1 NET_TIMEOUT=600
. "$HERE/../net/link.sh"
why=$(net_possible) || { echo "bench: $why" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'net_down; rm -rf "$tmp"' EXIT
net_up "$RATE" "$DELAY" || { echo "bench: could not set up the link" >&2; exit 2; }
echo "== 2 ranks x 1 thread, MLP 784-256-10, batch $BATCH, $EPOCHS epochs ${mode[*]}; link: $NET_SHAPE"

summary() { # summary DIR: img/s compute inflight wait (means of epochs 2..), test accuracy
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i; next }
           NR > 2 { r += $k["images_per_sec"]; c += $k["compute_s"]; h += $k["comm_hidden_s"]; w += $k["allreduce_s"]; n++ }
           END { printf "%.0f %.4f %.4f %.4f", r / n, c / n, h / n, w / n }' "$1/history.csv"
}
printf '%-26s %9s %9s %9s %9s %10s %8s\n' setting "img/s" "compute" "inflight" "wait" "MB/step" "test acc"
declare -A wait
for where in link shm; do
  for dtype in $dtypes; do
    for overlap in off on; do
      name=$where-$dtype-$overlap
      args=(train --model mlp --hidden 256 --epochs "$EPOCHS" --batch "$BATCH" --grad-dtype "$dtype" --overlap "$overlap"
            "${mode[@]}" --out "$tmp/$name")
      before=$(net_tx_bytes)
      if [ $where = link ]; then net_run "${args[@]}" >"$tmp/$name.out" 2>&1
      else timeout 600 "$MPIEXEC" -n 2 --bind-to core "$SHARDML" "${args[@]}" >"$tmp/$name.out" 2>&1; fi ||
        { echo "$name failed:"; tail -5 "$tmp/$name.out"; continue; }
      steps=$((EPOCHS * ((60000 + BATCH - 1) / BATCH)))
      mb=$(awk -v b="$(($(net_tx_bytes) - before))" -v s=$steps 'BEGIN { printf "%.3f", b / s / 1e6 }')
      [ $where = shm ] && mb=-
      read -r rate comp infl w <<<"$(summary "$tmp/$name")"
      wait[$name]=$w
      printf '%-26s %9s %9s %9s %9s %10s %8s\n' "$name" "$rate" "$comp" "$infl" "$w" "$mb" \
        "$(sed -n 's/^test accuracy //p' "$tmp/$name.out")"
    done
    awk -v off="${wait[$where-$dtype-off]:-0}" -v on="${wait[$where-$dtype-on]:-0}" -v n="$where $dtype" \
      'BEGIN { if (off > 0) printf "   %s: overlap hides %.0f %% of the wait (%.4f -> %.4f s per epoch)\n", n, 100 * (1 - on / off), off, on }'
  done
done
