#!/bin/bash
# Measures what the scaling model (tests/bench/scaling_model.py) needs on
# this machine and checks its predictions against runs here (not a test):
# compute and other time per rank and step at per-rank batches 32..512, on
# one rank alone and with both cores busy (2 ranks on shared memory), the
# allreduce's latency and bandwidth on shared memory and over the emulated
# link (tests/net/link.sh; 2 ranks, models of 0.2 M and 1.6 M parameters,
# overlap off: wait per step = 2 alpha + S beta), the overlap achieved over
# the link, and measured images/s of every 2-rank setting; then runs the
# model. Figures are from epoch 2 of 2-epoch runs on SUBSET images (default
# 30000), each the median of 3 runs. The runs are interleaved (every
# setting once, then again, three rounds) so that a slow minute of a shared
# VM slows one run of many settings, not all runs of one; the model's
# inputs and the runs it is checked against then see the same machine.
# Usage: tests/bench/scaling.sh [BUILD_DIR] [RATE] [DELAY]  -> scaling.json, scaling.svg here
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
RATE=${2:-10gbit} DELAY=${3:-50us} SUBSET=${SUBSET:-30000} G=512 ROUNDS=3
export SHARDML=$B/shardml MPIEXEC=${MPIEXEC:-mpirun} OMP_NUM_THREADS=1 NET_TIMEOUT=600
. "$HERE/../net/link.sh"
why=$(net_possible) || { echo "bench: $why" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'net_down; rm -rf "$tmp"' EXIT
net_up "$RATE" "$DELAY" || exit 2
echo "   link: $NET_SHAPE"
epoch2() { # epoch2 DIR BATCH: images/s, then compute, wait and other s per step (epoch 2)
  awk -F, -v s="$(((SUBSET + $2 - 1) / $2))" 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i }
    NR == 3 { printf "%s %.7f %.7f %.7f\n", $k["images_per_sec"], $k["compute_s"] / s, $k["allreduce_s"] / s, $k["other_s"] / s }' "$1/history.csv"
}
run() { # run WHERE NAME BATCH ARGS...: WHERE = 1 (one rank), shm (2 ranks) or link
  local where=$1 name=$2 batch=$3; shift 3
  local args=(train --model mlp --subset "$SUBSET" --epochs 2 --batch "$batch" --out "$tmp/$name" "$@")
  case $where in
    1) "$MPIEXEC" -n 1 --bind-to core "$SHARDML" "${args[@]}" ;;
    shm) "$MPIEXEC" -n 2 --bind-to core "$SHARDML" "${args[@]}" ;;
    link) net_run "${args[@]}" ;;
  esac >"$tmp/$name.out" 2>&1 || { echo "$name failed" >&2; tail -3 "$tmp/$name.out" >&2; exit 1; }
  epoch2 "$tmp/$name" "$batch"
}
# Every setting: NAME WHERE BATCH ARGS...
settings=()
for b in 32 64 128 256 512; do settings+=("c$b 1 $b --hidden 256" "f$b shm $((2 * b)) --hidden 256"); done
for where in shm link; do
  settings+=("ab-s-$where $where $G --hidden 256 --overlap off" "ab-b-$where $where $G --hidden 2048 --overlap off")
  for dtype in fp32 bf16; do
    for overlap in off on; do
      settings+=("$where-$dtype-$overlap $where $G --hidden 256 --overlap $overlap --grad-dtype $dtype")
    done
  done
done
settings+=("one 1 $G --hidden 256")
declare -A result
for round in $(seq "$ROUNDS"); do
  for s in "${settings[@]}"; do
    read -r name where batch args <<<"$s"
    # shellcheck disable=SC2086 # args are words
    result[$name]+="$(run "$where" "$name-$round" "$batch" $args)"$'\n' || exit 1
  done
done
figures() { # figures NAME: its four figures, each the median over the rounds
  local k
  for k in 1 2 3 4; do awk -v k=$k 'NF { print $k }' <<<"${result[$1]}" | median; done | paste -sd' '
}
compute="" compute_full=""
for b in 32 64 128 256 512; do
  read -r _ c _ o <<<"$(figures c$b)"
  compute+="[$b, $c, $o],"
  read -r _ c _ o <<<"$(figures f$b)"
  compute_full+="[$b, $c, $o],"
done
nets=""
measured=""
for where in shm link; do
  read -r _ _ w_small _ <<<"$(figures ab-s-$where)"
  read -r _ _ w_big _ <<<"$(figures ab-b-$where)"
  # 203530 and 1628170 parameters (+4 flags), 4 bytes each
  nets+=$(awk -v a="$w_small" -v b="$w_big" -v n="$where" 'BEGIN { s1 = 203534 * 4; s2 = 1628174 * 4;
    beta = (b - a) / (s2 - s1); alpha = (a - s1 * beta) / 2; if (alpha < 0) alpha = 0;
    printf "\"%s\": [%.9g, %.9g],", n, alpha, beta }')
  for dtype in fp32 bf16; do
    for overlap in off on; do
      read -r r c w _ <<<"$(figures $where-$dtype-$overlap)"
      eval "wait_${where}_${dtype}_${overlap}=$w"
      measured+="{\"net\": \"$where\", \"ranks\": 2, \"dtype\": \"$dtype\", \"overlap\": $([ $overlap = on ] && echo 1 || echo 0), \"rate\": $r, \"compute\": $c},"
    done
  done
done
read -r r1 _ _ _ <<<"$(figures one)"
measured+="{\"net\": \"shm\", \"ranks\": 1, \"dtype\": \"fp32\", \"overlap\": 0, \"rate\": $r1}"
eta=$(awk -v off="$wait_link_fp32_off" -v on="$wait_link_fp32_on" 'BEGIN { e = 1 - on / off; printf "%.3f", e < 0 ? 0 : e }')
cpu=$(sed -n 's/^cpu *//p' <<<"$bench_info" | head -1)
cat >scaling.json <<JSON
{"cpu": "$cpu, 1 rank per core", "params": 203530, "batch": $G, "compute": [${compute%,}],
 "compute_full": [${compute_full%,}], "eta": $eta,
 "networks": {${nets%,}}, "measured": [$measured]}
JSON
/usr/bin/python3 "$HERE/scaling_model.py" scaling.json --svg scaling.svg
