#!/bin/bash
# The modern training loop on Fashion-MNIST (not a test): a 784-256-10 MLP
# trained 20 epochs with Adam and the defaults a user would pick, against
# PyTorch's torch.optim.Adam on the same net, data preparation, schedule and
# budget; then the same net with and without dropout (30 epochs each),
# judged on a 10 % validation split. Usage: tests/bench/adam.sh [BUILD_DIR] (peers: jobs/setup-bench.sh)
set -u
HERE=$(dirname "$0")
. "$HERE/lib.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { OMP_NUM_THREADS=1 mpirun -n 2 --bind-to none "$B/shardml" train --model mlp --hidden 256 --epochs 20 "$@" 2>"$tmp/err"; }
best_val() { awk -F, 'NR > 1 && $4 > b { b = $4; e = $1 } END { printf "%.4f (epoch %d)", b, e }' "$1/history.csv"; }

echo "== Adam, 20 epochs, 2 ranks x 1 thread: $(run --optimizer adam --out "$tmp/adam" | sed -n 's/^test //p')" \
  "in $(awk -F, 'NR > 1 { t += $7 + $8 + $9 + $10 } END { printf "%.1f s", t }' "$tmp/adam/history.csv")"
echo "== $(OMP_NUM_THREADS=2 /usr/bin/python3 "$HERE/train_peers.py" adam 20)"
echo "== SGD (the default), 20 epochs: $(run --out "$tmp/sgd" | sed -n 's/^test //p')"
# Dropout slows the fit, so the comparison gets 30 epochs (both arms).
for p in 0 0.2 0.3; do
  run --optimizer adam --val 0.1 --dropout $p --epochs 30 --out "$tmp/d$p" >"$tmp/d$p.out"
  echo "== Adam, 30 epochs, --val 0.1, dropout $p: best validation accuracy $(best_val "$tmp/d$p"), last $(awk -F, 'END { print $4 }' "$tmp/d$p/history.csv"), test $(sed -n 's/^test //p' "$tmp/d$p.out")"
done
