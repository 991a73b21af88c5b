#!/bin/bash
# --reproducible: the same bits for any number of ranks and threads. For an
# MLP with two hidden layers, softmax and SVM, 2 epochs on 3001 images
# (shards of unequal size; batch 100, so the last batch holds one image):
# the final parameters and optimizer state (one checksum), every logged step
# loss, the history's losses and accuracies and the test accuracy are
# bitwise equal across 1, 2, 3, 4 ranks x 1, 2 threads; at the default
# micro-batch (2 per step: gathered, added in order) and, for the MLP, at
# --micro-batch 16 (7 per step: exact fixed-point sums; the last step's one
# is gathered), also with the exact sums overlapped (--overlap on). A run
# killed on 2
# ranks and resumed on 3 ends bitwise equal to the uninterrupted 1-rank run;
# a search scores bitwise alike with groups of 1 and of 2 ranks.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'pkill -9 -f "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
R=(--subset 3001 --epochs 2 --batch 100 --val 0.1 --seed 4 --reproducible --log-every 1)
fingerprint() { # what must not change with the layout: tensors, step losses, history (not timings), test accuracy
  echo "$(tensors_checksum "$1/model.h5") $(md5sum <"$1/steps.csv" | cut -c1-32) $(cut -d, -f1-5,11 "$1/history.csv" | md5sum | cut -c1-32) $(cat "$1.acc")"
}

for model in "mlp --hidden 32x16" "mlp --hidden 32x16 --micro-batch 16" "softmax" "svm" \
  "mlp --hidden 24 --optimizer adam --dropout 0.2"; do
  name=$(tr -cd 'a-z0-9' <<<"$model")
  ref=""
  for layout in "1 1" "1 2" "2 1" "2 2" "3 1" "3 2" "4 1" "4 2"; do
    set -- $layout
    d=$tmp/$name-$1x$2
    OMP_NUM_THREADS=$2 run_np "$1" train --model $model "${R[@]}" --out "$d" 2>"$d.err" | sed -n 's/^test accuracy //p' >"$d.acc"
    fp=$(fingerprint "$d")
    [ -z "$ref" ] && ref=$fp && echo "$model: $fp"
    check "$model, $1 rank(s) x $2 thread(s): bitwise the 1x1 run" test "$fp" = "$ref"
  done
done

# A --micro-batch beyond the batch cuts the one micro-batch --micro-batch
# <batch> cuts: the same bits, and nothing sized by the larger value.
for micro in 100 1000000000000; do
  run_np 1 train --model softmax "${R[@]}" --micro-batch $micro --out "$tmp/micro$micro" 2>"$tmp/micro$micro.err" |
    sed -n 's/^test accuracy //p' >"$tmp/micro$micro.acc"
done
check "--micro-batch 1000000000000 at batch 100: micro-batches of 100 images" \
  grep -q "micro-batches of 100 images" "$tmp/micro1000000000000.err"
check "--micro-batch 1000000000000 at batch 100: bitwise --micro-batch 100" \
  test "$(fingerprint "$tmp/micro1000000000000")" = "$(fingerprint "$tmp/micro100")"

# --overlap on: each tensor's exact sum starts as the last micro-batch's
# backward pass finishes it (ranks with one thread, or with one micro-batch
# as on 4 x 2's last rank), or after the pass; the same bits as without.
E=(--model mlp --hidden 32x16 --micro-batch 16)
ref=$(fingerprint "$tmp/mlphidden32x16microbatch16-1x1") # from the loop above
for layout in "2 1" "4 1" "3 2" "4 2"; do
  set -- $layout
  d=$tmp/overlap-$1x$2
  OMP_NUM_THREADS=$2 run_np "$1" train "${E[@]}" "${R[@]}" --overlap on --out "$d" 2>"$d.err" |
    sed -n 's/^test accuracy //p' >"$d.acc"
  check "exact sums overlapped, $1 rank(s) x $2 thread(s): bitwise the 1x1 run" test "$(fingerprint "$d")" = "$ref"
done
hidden=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "comm_hidden_s") k = i } NR > 1 { s += $k } END { print s + 0 }' \
  "$tmp/overlap-2x1/history.csv")
check "... with sums in flight during the backward pass on 2 x 1 ($hidden s)" awk -v h="$hidden" 'BEGIN { exit !(h > 0) }'
check "... which the start line says" grep -q "tensor by tensor during its last micro-batch's backward pass" \
  "$tmp/overlap-2x1.err"
check "--bucket-mb with --reproducible: refused" expect_fail 2 2 "--bucket-mb: only in the default mode" \
  train "${E[@]}" "${R[@]}" --overlap on --bucket-mb 1 --out "$tmp/bucket"

# Killed on 2 ranks, resumed on 3: bitwise the uninterrupted 1-rank run.
M=(train --model mlp --hidden 32x16 --subset 6000 --epochs 2 --batch 50 --seed 6 --reproducible --optimizer adam)
run_np 1 "${M[@]}" --out "$tmp/one" >/dev/null 2>&1
if killed=$(kill_after_checkpoint 2 "$tmp/kill/ck" 60 "${M[@]}" --out "$tmp/kill" --checkpoint-every 20); then
  out=$(run_np 3 "${M[@]}" --out "$tmp/kill" --checkpoint-dir "$tmp/kill/ck" --checkpoint-every 20 --resume auto 2>&1)
  resumed=$(sed -n 's/.*resuming from .*ckpt-0*\([0-9]*\)\.h5 .*/\1/p' <<<"$out")
  # The kill may land after a later checkpoint than the one seen: at or after it.
  check "resumed on 3 ranks at step ${resumed:-?} (killed after $killed)" test -n "$resumed" -a "${resumed:-0}" -ge "$killed"
  a=$(tensors_checksum "$tmp/one/model.h5"); b=$(tensors_checksum "$tmp/kill/model.h5")
  check "2 ranks, SIGKILL, resumed on 3: bitwise the 1-rank run ($a = $b)" test -n "$a" -a "$a" = "$b"
  check "the log says the resume on another layout is bitwise" grep -q "resuming on 3 x 1: reproducible mode, so bitwise" \
    <<<"$out"
else
  check "saw a checkpoint at step >= 60 before the end" false
fi
check "a reproducible checkpoint refuses a non-reproducible resume" expect_fail 2 2 "reproducible" \
  train --model mlp --hidden 32x16 --subset 6000 --epochs 2 --batch 50 --seed 6 --optimizer adam --out "$tmp/x" \
  --resume "$(ls "$tmp"/kill/ck/ckpt-*.h5 | tail -1)"

# search: groups of 1 rank and one group of 2 ranks score bitwise alike
# (the journal keeps every score to 17 digits).
S=(search --subset 2000 --model softmax --lr 0.01,0.1 --reg 0,1e-3 --folds 3 --epochs 2 --batch 64 --reproducible)
run_np 2 "${S[@]}" --groups 2 --out "$tmp/g2" >/dev/null 2>&1
run_np 2 "${S[@]}" --groups 1 --out "$tmp/g1" >/dev/null 2>&1
scores() { grep -o 'config=[0-9]* fold=[0-9]* score=[^ ]*' "$1/journal.txt" | sort; }
check "search: 12 task scores journaled" test "$(scores "$tmp/g2" | wc -l)" -eq 12
check "search: groups of 1 and of 2 ranks give bitwise the same scores" diff <(scores "$tmp/g2") <(scores "$tmp/g1")
finish
