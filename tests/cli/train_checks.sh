#!/bin/bash
# train and gradcheck: gradients within the stated bound, bad options give
# exit 2 naming the option, divergence gives exit 1 naming the step, and a
# small real run writes its outputs and reaches a sane accuracy.
. "$(dirname "$0")/lib.sh"
NP=${1:-2}
F=$FIXTURES
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

for m in softmax svm "mlp --hidden 7" "mlp --hidden 9,6"; do
  check "gradcheck $m below 2e-3" run_np "$NP" gradcheck --model $m --bound 2e-3
done

T=(train --data "$F/idx_raw" --out "$tmp/o")
check "lr 0"           expect_fail "$NP" 2 "--lr 0: must be positive" "${T[@]}" --model softmax --lr 0
check "lr negative"    expect_fail "$NP" 2 "--lr -0.1: must be positive" "${T[@]}" --model softmax --lr -0.1
check "batch 0"        expect_fail "$NP" 2 "--batch 0: must be at least 1" "${T[@]}" --model softmax --batch 0
check "batch too big"  expect_fail "$NP" 2 "--batch 38: larger than the training set (37 images)" "${T[@]}" --model svm --batch 38
check "reg negative"   expect_fail "$NP" 2 "--reg -1: must not be negative" "${T[@]}" --model svm --reg -1
check "unknown model"  expect_fail "$NP" 2 "--model rnn: unknown (softmax, svm, mlp, cnn)" "${T[@]}" --model rnn
check "bad hidden"     expect_fail "$NP" 2 "--hidden 12x: expected positive widths" "${T[@]}" --model mlp --hidden 12x
check "divergence"     expect_fail "$NP" 1 "training diverged at step" "${T[@]}" --model softmax --lr 1e30 --batch 8 --momentum 0.99
# The last update blows up (one step: the loss, computed before it, is
# finite): exit 1, and neither the model nor a checkpoint is written.
check "blow-up in the last step: exit 1" expect_fail "$NP" 1 "parameters are not finite after the update" \
  train --data "$F/idx_raw" --out "$tmp/nan" --model softmax --lr 1e30 --reg 1e20 --batch 37 --epochs 1 \
  --checkpoint-dir "$tmp/nan_ck" --checkpoint-every 1
check "... no model.h5 written" test ! -e "$tmp/nan/model.h5"
check "... no checkpoint written" test -z "$(ls "$tmp/nan_ck" | grep ckpt-)"
# Such a model, written by an earlier shardml with exit 0 (and a valid
# checksum), is refused by eval.
check "eval refuses a diverged model" expect_fail "$NP" 2 "300 of 310 parameters are not finite" \
  eval --checkpoint "$(dirname "$0")/../golden/diverged_model.h5" --data "$F/idx_raw"
# A divergence the L2 term causes is blamed on it, not on the learning rate.
check "divergence by --reg names the L2 strength" expect_fail "$NP" 1 "the L2 term alone makes each step overshoot" \
  "${T[@]}" --model softmax --lr 0.5 --reg 100 --batch 8

# Messages that say what is wrong (each once misled).
check "--val 2.5: whole images" expect_fail "$NP" 2 "--val 2.5: a number of images is written whole (--val 2)" \
  info --data "$F/idx_raw" --val 2.5
check "--val 2.0: names both meanings" expect_fail "$NP" 2 "--val 2.0: a number of images is written whole (--val 2) and a fraction is below 1" \
  info --data "$F/idx_raw" --val 2.0
check "--val 1e1: a whole count" run_np "$NP" info --data "$F/idx_raw" --val 1e1
check "--subset beyond the file: an error, not all of it" expect_fail "$NP" 2 "--subset 38: the training split of $F/idx_raw holds only 37 images" \
  info --data "$F/idx_raw" --subset 38
check "--subset 37: all of it" run_np "$NP" info --data "$F/idx_raw" --subset 37
check "a mistyped command: did you mean" expect_fail "$NP" 2 "unknown command 'trian'; did you mean 'train'?" trian
check "gradcheck --image without a cnn" expect_fail "$NP" 2 "--image 4x4x1: only for a cnn (--net)" gradcheck --image 4x4x1
check "--micro-batch 1e30: out of range, not 'not an integer'" expect_fail "$NP" 2 "--micro-batch 1e30: out of range" \
  "${T[@]}" --reproducible --micro-batch 1e30
check "--micro-batch without --reproducible" expect_fail "$NP" 2 "--micro-batch 64: only with --reproducible" \
  "${T[@]}" --micro-batch 64
out=$(run_np "$NP" "${T[@]}" --model softmax --epochs 1 --batch 8 --reproducible --micro-batch 4 2>&1)
check "--reproducible with 2 micro-batches: the start line says it gathers floats" \
  grep -q "gathers the 2 micro-batch gradients as floats" <<<"$out"
mkdir -p "$tmp/crc"
cp "$F/idx_gz/"* "$tmp/crc/"
img=$tmp/crc/train-images-idx3-ubyte.gz
size=$(stat -c %s "$img")
printf '\xde\xad\xbe\xef' | dd of="$img" bs=1 seek=$((size - 8)) conv=notrunc 2>/dev/null # the CRC-32
check "a gzip with a bad CRC says so" expect_fail "$NP" 2 "train-images-idx3-ubyte.gz: corrupt gzip data: incorrect data check" \
  info --data "$tmp/crc"
mkdir -p "$tmp/outdir"
check "convert --out DIR: exit 2" expect_fail "$NP" 2 "$tmp/outdir: is a directory" convert --data "$F/idx_raw" --out "$tmp/outdir"
check "gradcheck --hidden 2^20x2^20: memory bound" expect_fail "$NP" 2 "--hidden: this run needs about" \
  gradcheck --model mlp --hidden 1048576x1048576
# (Not under AddressSanitizer, whose shadow memory alone reserves terabytes
# of address space: nothing starts under ulimit -v.)
sanitized_build || check "the memory check honours ulimit -v" bash -c "ulimit -v 2000000; $(declare -f expect_fail judge_failure run_np run_np_failing); \
  MPI_LAUNCH='$MPI_LAUNCH' SHARDML='$SHARDML' expect_fail 1 2 'more than the address-space limit (ulimit -v) of' \
  train --data '$F/idx_raw' --batch 8 --hidden 1000000x100 --out '$tmp/o'"
out=$(SHARDML_FAULT=hdf5-crash run_np "$NP" info --data "$F/good.h5" 2>&1)
check "HDF5 crashing in the pre-read: one error line" grep -q "error: .*good.h5: HDF5 crashed reading" <<<"$out"
check "... and no backtrace before it" test "$(grep -c -e 'Signal:' -e '\[ *[0-9]*\] ' <<<"$out")" -eq 0

# A real, short run on Fashion-MNIST: outputs exist and accuracy is sane.
out=$(run_np "$NP" train --model softmax --epochs 2 --out "$tmp/fm" 2>"$tmp/fm.err")
acc=$(sed -n 's/^test accuracy //p' <<<"$out")
echo "softmax, 2 epochs: test accuracy $acc"
check "accuracy above 0.80 after 2 epochs" awk -v a="$acc" 'BEGIN { exit !(a > 0.80) }'
for f in history.csv loss.svg model.h5 weights.png; do check "wrote $f" test -s "$tmp/fm/$f"; done
check "no temporary files left" test -z "$(ls "$tmp/fm" | grep '\.tmp\.')"
check "history has 2 epochs" test "$(wc -l <"$tmp/fm/history.csv")" -eq 3
check "one line per epoch on stderr" test "$(grep -c '^shardml: epoch ' "$tmp/fm.err")" -eq 2
check "model.h5 holds W0 [10, 784]" bash -c "h5dump -H -d /params/W0 '$tmp/fm/model.h5' | grep -q '( 10, 784 )'"
finish
