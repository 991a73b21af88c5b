#!/bin/bash
# Measures what the scaling model (tests/bench/scaling_model.py) needs on
# this machine and checks its predictions against runs here (not a test):
# 1-rank compute per step at per-rank batches 64..512, the allreduce's
# latency and bandwidth on shared memory and over the emulated link
# (tests/net/link.sh; 2 ranks, models of 0.2 M and 1.6 M parameters, overlap
# off: wait per step = 2 alpha + S beta), the overlap achieved over the link,
# and measured images/s of every 2-rank setting; then runs the model.
# Figures are from epoch 2 of 2-epoch runs on SUBSET images (default 30000),
# each the median of 3 runs (one run of a 2-rank setting varied by 25 % on
# a shared 2-core VM).
# Usage: tests/bench/scaling.sh [BUILD_DIR] [RATE] [DELAY]  -> scaling.json, scaling.svg here
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
RATE=${2:-10gbit} DELAY=${3:-50us} SUBSET=${SUBSET:-30000} G=512
export SHARDML=$B/shardml MPIEXEC=${MPIEXEC:-mpirun} OMP_NUM_THREADS=1 NET_TIMEOUT=600
. "$HERE/../net/link.sh"
why=$(net_possible) || { echo "bench: $why" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'net_down; rm -rf "$tmp"' EXIT
net_up "$RATE" "$DELAY" || exit 2
echo "   link: $NET_SHAPE"
epoch2() { # epoch2 DIR BATCH: images/s, compute s per step, wait s per step (epoch 2)
  awk -F, -v s="$(((SUBSET + $2 - 1) / $2))" 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i }
    NR == 3 { printf "%s %.7f %.7f\n", $k["images_per_sec"], $k["compute_s"] / s, $k["allreduce_s"] / s }' "$1/history.csv"
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
run3() { # run3 WHERE NAME BATCH ARGS...: run's three figures, each the median of 3 runs
  local where=$1 name=$2 out="" k; shift 2
  for k in 1 2 3; do out+="$(run "$where" "$name-$k" "$@")"$'\n'; done
  for k in 1 2 3; do awk -v k=$k 'NF { print $k }' <<<"$out" | median; done | paste -sd' '
}
compute=""
for b in 32 64 128 256 512; do
  cs=""
  for rep in 1 2 3; do
    read -r _ c _ <<<"$(run 1 c$b-$rep $b --hidden 256)"
    cs+="$c"$'\n'
  done
  compute+="[$b, $(grep . <<<"$cs" | median)],"
done
nets=""
measured=""
for where in shm link; do
  read -r _ _ w_small <<<"$(run3 $where ab-s-$where $G --hidden 256 --overlap off)"
  read -r _ _ w_big <<<"$(run3 $where ab-b-$where $G --hidden 2048 --overlap off)"
  # 203530 and 1628170 parameters (+4 flags), 4 bytes each
  nets+=$(awk -v a="$w_small" -v b="$w_big" -v n="$where" 'BEGIN { s1 = 203534 * 4; s2 = 1628174 * 4;
    beta = (b - a) / (s2 - s1); alpha = (a - s1 * beta) / 2; if (alpha < 0) alpha = 0;
    printf "\"%s\": [%.9g, %.9g],", n, alpha, beta }')
  for dtype in fp32 bf16; do
    for overlap in off on; do
      read -r r c w <<<"$(run3 $where $where-$dtype-$overlap $G --hidden 256 --overlap $overlap --grad-dtype $dtype)"
      eval "wait_${where}_${dtype}_${overlap}=$w"
      measured+="{\"net\": \"$where\", \"ranks\": 2, \"dtype\": \"$dtype\", \"overlap\": $([ $overlap = on ] && echo 1 || echo 0), \"rate\": $r, \"compute\": $c},"
    done
  done
done
read -r r1 _ _ <<<"$(run3 1 one $G --hidden 256)"
measured+="{\"net\": \"shm\", \"ranks\": 1, \"dtype\": \"fp32\", \"overlap\": 0, \"rate\": $r1}"
eta=$(awk -v off="$wait_link_fp32_off" -v on="$wait_link_fp32_on" 'BEGIN { e = 1 - on / off; printf "%.3f", e < 0 ? 0 : e }')
cpu=$(sed -n 's/^cpu *//p' <<<"$bench_info" | head -1)
cat >scaling.json <<JSON
{"cpu": "$cpu, 1 rank per core", "params": 203530, "batch": $G, "compute": [${compute%,}], "eta": $eta,
 "networks": {${nets%,}}, "measured": [$measured]}
JSON
/usr/bin/python3 "$HERE/scaling_model.py" scaling.json --svg scaling.svg
