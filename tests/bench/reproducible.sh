#!/bin/bash
# What --reproducible costs (not a test): the 784-256-10 MLP at 1x1, 1x2 and
# 2x1 with global batches of 128 and 512, images/s with and without it
# (medians of REPS interleaved runs, default 3, and the median of each
# repetition's ratio to the default run next to it), and what a step moves.
# Usage: tests/bench/reproducible.sh [BUILD_DIR]
set -u
HERE=$(dirname "$0")
. "$HERE/lib.sh"
REPS=${REPS:-3}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
rate() { # P T ARGS...: images/s of epochs 2-3 of one run
  local p=$1 t=$2; shift 2
  OMP_NUM_THREADS=$t mpirun -n "$p" --bind-to none "$B/shardml" train --model mlp --hidden 256 --epochs 3 "$@" \
    --out "$tmp/run" 2>"$tmp/err" >/dev/null
  awk -F, 'NR > 2 { r += $6; n++ } END { printf "%.0f\n", r / n }' "$tmp/run/history.csv"
}
pct() { awk -v r="$1" 'BEGIN { printf "%+.0f%%", 100 * (r - 1) }'; } # a ratio as a change
for batch in 128 512; do
  for layout in "1 1" "1 2" "2 1"; do
    set -- $layout
    a=""; b=""; c=""; rb=""; rc=""
    for r in $(seq "$REPS"); do
      ra=$(rate $1 $2 --batch $batch)
      x=$(rate $1 $2 --batch $batch --reproducible)
      m=$(sed -n 's/.*micro-batches of \([0-9]*\) images.*/\1/p' "$tmp/err") # the default shardml chose
      y=$(rate $1 $2 --batch $batch --reproducible --micro-batch $((batch / 2)))
      a+="$ra"$'\n'; b+="$x"$'\n'; c+="$y"$'\n'
      # Each repetition's own ratios too: the machine's speed drifts between
      # repetitions more than within one.
      rb+="$(awk -v a="$ra" -v x="$x" 'BEGIN { if (a > 0) printf "%.4f", x / a }')"$'\n'
      rc+="$(awk -v a="$ra" -v y="$y" 'BEGIN { if (a > 0) printf "%.4f", y / a }')"$'\n'
    done
    a=$(grep . <<<"$a" | median); b=$(grep . <<<"$b" | median); c=$(grep . <<<"$c" | median)
    rb=$(grep . <<<"$rb" | median); rc=$(grep . <<<"$rc" | median)
    echo "batch $batch, $1 rank(s) x $2 thread(s): default $a img/s; --reproducible (micro $m) $b ($(pct "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')"), median of paired ratios $(pct "$rb")); micro $((batch / 2)) $c ($(pct "$(awk -v a="$a" -v c="$c" 'BEGIN { print c / a }')"), paired $(pct "$rc"))"
  done
done
echo "== what a step moves (2 ranks, batch 128):"
OMP_NUM_THREADS=1 mpirun -n 2 --bind-to none "$B/shardml" train --model mlp --hidden 256 --epochs 1 --reproducible \
  --out "$tmp/run" 2>&1 | grep -E 'per step'
OMP_NUM_THREADS=1 mpirun -n 2 --bind-to none "$B/shardml" train --model mlp --hidden 256 --epochs 1 \
  --out "$tmp/run" 2>&1 | grep -E 'per step'
