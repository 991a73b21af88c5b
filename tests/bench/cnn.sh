#!/bin/bash
# Convolutional network throughput (not a test): shardml's
# --net conv32x3,relu,pool2,conv64x3,relu,pool2,fc128,relu,fc10 against the
# same network in PyTorch (tests/bench/cnn_peers.py; jobs/setup-bench.sh
# installs it), batch 128, same machine, same run, on the first N training
# images (default 12800); medians of REPS interleaved runs (default 3).
# Usage: tests/bench/cnn.sh [BUILD_DIR]   (SHARDML_ISA=avx2 caps shardml's level)
set -u
HERE=$(dirname "$0")
. "$HERE/lib.sh"
REPS=${REPS:-3} N=${N:-12800}
NET=conv32x3,relu,pool2,conv64x3,relu,pool2,fc128,relu,fc10
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
shardml_rate() { # images/s of epochs 2-3 of one run (P ranks x T threads)
  OMP_NUM_THREADS=$T mpirun -n "$P" --bind-to none "$B/shardml" train --net $NET --subset "$N" --epochs 3 \
    --batch 128 --out "$tmp/run" >/dev/null 2>&1
  awk -F, 'NR > 2 { r += $6; n++ } END { printf "%.0f\n", r / n }' "$tmp/run/history.csv"
}
peer_rate() { /usr/bin/python3 "$HERE/cnn_peers.py" "$@" | sed -E 's/.*: ([0-9.]+) img\/s/\1/'; }
have_torch=1; /usr/bin/python3 -c 'import torch' 2>/dev/null || { have_torch=0; echo "(no PyTorch: jobs/setup-bench.sh)"; }
declare -A rate
for layout in "1 1" "1 2" "2 1"; do
  set -- $layout
  P=$1 T=$2
  s="" t=""
  for r in $(seq "$REPS"); do
    s+="$(shardml_rate)"$'\n'
    if [ "$have_torch" = 1 ]; then
      if [ "$P" = 2 ]; then t+="$(OMP_NUM_THREADS=1 peer_rate ddp "$N")"$'\n'
      else t+="$(OMP_NUM_THREADS=$T peer_rate torch "$T" "$N")"$'\n'; fi
    fi
  done
  rate[s$P$T]=$(grep . <<<"$s" | median)
  echo "shardml $P rank(s) x $T thread(s): ${rate[s$P$T]} img/s"
  if [ "$have_torch" = 1 ]; then
    rate[t$P$T]=$(grep . <<<"$t" | median)
    echo "torch $([ "$P" = 2 ] && echo "DDP gloo 2 x 1" || echo "$T thread(s)"): ${rate[t$P$T]} img/s"
    echo "   ratio $(awk -v a="${rate[s$P$T]}" -v b="${rate[t$P$T]}" 'BEGIN { printf "%.2f", a / b }')x"
  fi
done
