#!/bin/bash
# Training throughput benchmark (not a test): shardml against numpy (linear
# models) and PyTorch (MLP), same machine, same run, batch 128.
# Usage: tests/bench/train.sh [BUILD_DIR]   (peers: jobs/setup-bench.sh)
set -u
HERE=$(dirname "$0")
. "$HERE/lib.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
rate() { # mean images/s of epochs 2.. from history.csv; also the allreduce share
  awk -F, 'NR > 2 { r += $6; c += $7; a += $8; o += $9; n++ } END { printf "%.0f img/s (allreduce %.1f%% of step time)", r / n, 100 * a / (c + a + o) }' "$1/history.csv"
}
for model in softmax svm "mlp --hidden 256"; do
  for layout in "1 1" "1 2" "2 1"; do
    set -- $layout
    OMP_NUM_THREADS=$2 mpirun -n "$1" --bind-to none "$B/shardml" train --model $model --epochs 3 --batch 128 \
      --out "$tmp/run" >/dev/null 2>&1
    echo "shardml ${model%% *} $1 rank(s) x $2 thread(s): $(rate "$tmp/run")"
  done
done
echo "MLP 784-256-10: $(( 4 * (784 * 256 + 256 * 10) + 2 * 256 * 10 )) FLOP per image (forward 2(DH+HC); backward 2(DH+HC) for dW plus 2HC for the hidden layer's input gradient; the input layer needs none)"
OMP_NUM_THREADS=1 "$B/tests/bench/sml_bench_sgemm" 1024
for model in softmax svm; do
  for t in 1 2; do
    OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t /usr/bin/python3 "$HERE/train_peers.py" numpy $model $t
  done
done
for t in 1 2; do OMP_NUM_THREADS=$t /usr/bin/python3 "$HERE/train_peers.py" torch $t; done
OMP_NUM_THREADS=1 /usr/bin/python3 "$HERE/train_peers.py" ddp
