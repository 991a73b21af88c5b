#!/bin/bash
# Training throughput benchmark (not a test): shardml against numpy (linear
# models) and PyTorch (MLP), same machine, same run, batch 128. The machines
# here are shared VMs whose speed wanders by +-15 % from one minute to the
# next, so every figure is the median of REPS runs (default 3), shardml's and
# the peers' alike, and the runs are interleaved.
# Usage: tests/bench/train.sh [BUILD_DIR]   (peers: jobs/setup-bench.sh)
set -u
HERE=$(dirname "$0")
. "$HERE/lib.sh"
REPS=${REPS:-3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
shardml_rate() { # MODEL... : images/s of epochs 2.. of one run, and the allreduce share
  OMP_NUM_THREADS=$T mpirun -n "$P" --bind-to none "$B/shardml" train --model "$@" --epochs 3 --batch 128 \
    --out "$tmp/run" >/dev/null 2>&1
  awk -F, 'NR > 2 { r += $6; c += $7; a += $8; o += $9; n++ } END { printf "%.0f %.1f\n", r / n, 100 * a / (c + a + o) }' "$tmp/run/history.csv"
}
peer_rate() { /usr/bin/python3 "$HERE/train_peers.py" "$@" | sed -E 's/.*: ([0-9.]+) img\/s/\1/'; }

declare -A best
echo "== images/s, median of $REPS runs"
for model in softmax svm "mlp --hidden 256"; do
  name=${model%% *}
  for layout in "1 1" "1 2" "2 1"; do
    set -- $layout
    P=$1 T=$2
    runs=""
    for r in $(seq "$REPS"); do runs+="$(shardml_rate $model)"$'\n'; done
    rate=$(cut -d' ' -f1 <<<"$runs" | grep . | median)
    share=$(cut -d' ' -f2 <<<"$runs" | grep . | median)
    echo "shardml $name $P rank(s) x $T thread(s): $rate img/s (allreduce $share% of step time)"
    best[$name$P$T]=$rate
  done
done
for model in softmax svm; do
  for t in 1 2; do
    rate=$(for r in $(seq "$REPS"); do OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t peer_rate numpy $model $t; done | median)
    echo "numpy $model $t thread(s): $rate img/s"
    best[numpy$model$t]=$rate
  done
done
for t in 1 2; do
  rate=$(for r in $(seq "$REPS"); do OMP_NUM_THREADS=$t peer_rate torch $t; done | median)
  echo "torch $t thread(s): $rate img/s"
  best[torch$t]=$rate
done
rate=$(for r in $(seq "$REPS"); do OMP_NUM_THREADS=1 peer_rate ddp; done | median)
echo "torch DDP gloo 2 x 1 thread: $rate img/s"
best[ddp]=$rate

echo "== ratios (the issue's goals in brackets)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for model in softmax svm; do
  peer=$(printf '%s\n' "${best[numpy${model}1]}" "${best[numpy${model}2]}" | sort -g | tail -1) # numpy's best
  echo "$model 1x1 $(ratio "${best[${model}11]}" "$peer")x numpy's best [2.0], 1x2 $(ratio "${best[${model}12]}" "$peer")x [2.5], 2x1 $(ratio "${best[${model}21]}" "$peer")x [2.5]"
done
echo "mlp 1x1 $(ratio "${best[mlp11]}" "${best[torch1]}")x PyTorch 1 thread [1.5], 1x2 $(ratio "${best[mlp12]}" "${best[torch2]}")x PyTorch 2 threads [1.5], 2x1 $(ratio "${best[mlp21]}" "${best[ddp]}")x DDP gloo [3]"
echo "MLP 784-256-10: $(( 4 * (784 * 256 + 256 * 10) + 2 * 256 * 10 )) FLOP per image (forward 2(DH+HC); backward 2(DH+HC) for dW plus 2HC for the hidden layer's input gradient; the input layer needs none)"
OMP_NUM_THREADS=1 "$B/tests/bench/sml_bench_sgemm" 1024
