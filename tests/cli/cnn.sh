#!/bin/bash
# Convolutional networks (--net) end to end: they learn, a SIGKILLed run
# resumes bitwise, --reproducible gives the same bits on 1-4 ranks, the
# saved model evaluates and predicts, the 3-channel (CIFAR-10) path runs,
# and every kind of bad spec is one error line naming --net, exit 2, on
# every rank. (Layer gradients against a double-precision reference:
# tests/test_net.c.)
. "$(dirname "$0")/lib.sh"
F=$FIXTURES
tmp=$(mktemp -d); trap 'pkill -9 -f "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
NET=conv8x3,relu,pool2,conv8x3,relu,pool2,fc10

# 1. It learns: 2 epochs on 3000 Fashion-MNIST images.
out=$(run_np 2 train --net "$NET" --subset 3000 --epochs 2 --batch 50 --seed 3 --out "$tmp/a" 2>&1)
acc=$(sed -n 's/^test accuracy //p' <<<"$out")
check "2 epochs on 3000 images: test accuracy $acc above 0.65" awk -v a="$acc" 'BEGIN { exit !(a > 0.65) }'
check "the log shows every layer's shape and parameters" \
  grep -q "network $NET: conv+relu 8x28x28 (80 parameters); maxpool 8x14x14 (0 parameters); conv+relu 8x14x14 (584 parameters); maxpool 8x7x7 (0 parameters); fc 10x1x1 (3930 parameters)" <<<"$out"
check "the model file records the network" bash -c "h5dump -a net '$tmp/a/model.h5' | grep -q '$NET'"
got=$(run_np 2 eval --checkpoint "$tmp/a/model.h5" 2>/dev/null | sed -n 's/^accuracy //p')
check "eval of the saved network: the same test accuracy ($got vs $acc)" \
  awk -v a="$got" -v b="$acc" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 6e-5) }'
check "predict writes a row per test image" \
  bash -c "'$MPI_LAUNCH' 2 '$SHARDML' predict --checkpoint '$tmp/a/model.h5' --out '$tmp/p.csv' >/dev/null 2>&1 &&
           test \$(wc -l <'$tmp/p.csv') -eq 10001"

# 2. SIGKILL after a checkpoint, --resume auto: bitwise the uninterrupted run
# (with batch normalization, whose running averages must resume, and
# dropout and augmentation, whose draws must resume too).
DNET=conv8x3,bn,relu,pool2,dropout0.25,conv8x3,relu,pool2,fc10
A=(train --net "$DNET" --augment crop2,flip --subset 2000 --epochs 2 --batch 50 --seed 4 --optimizer adam)
run_np 2 "${A[@]}" --out "$tmp/ref" >/dev/null 2>&1
if killed=$(kill_after_checkpoint 2 "$tmp/k/ck" 40 "${A[@]}" --out "$tmp/k" --checkpoint-every 20); then
  run_np 2 "${A[@]}" --out "$tmp/k" --checkpoint-dir "$tmp/k/ck" --checkpoint-every 20 --resume auto >/dev/null 2>&1
  a=$(tensors_checksum "$tmp/ref/model.h5"); b=$(tensors_checksum "$tmp/k/model.h5")
  check "killed after step $killed, resumed: parameters and optimizer state bitwise ($a = $b)" test -n "$a" -a "$a" = "$b"
else
  check "saw a checkpoint at step >= 40 before the end" false
fi
# Another network with the same layer sizes (5x5 instead of 3x3 filters).
OTHER=conv8x5,bn,relu,pool2,dropout0.25,conv8x3,relu,pool2,fc10
check "a checkpoint of another network is refused" \
  expect_fail 2 2 "a checkpoint of the network '$DNET', but this run trains '$OTHER'" \
  train --net "$OTHER" --augment crop2,flip --subset 2000 --epochs 2 --batch 50 --seed 4 --optimizer adam \
  --out "$tmp/x" --resume "$(ls "$tmp"/k/ck/ckpt-*.h5 | tail -1)"
check "a checkpoint with other augmentation is refused" \
  expect_fail 2 2 "saved with augmentation crop2,flip, this run asks for flip" \
  train --net "$DNET" --augment flip --subset 2000 --epochs 2 --batch 50 --seed 4 --optimizer adam \
  --out "$tmp/x" --resume "$(ls "$tmp"/k/ck/ckpt-*.h5 | tail -1)"

# 3. --reproducible: the same bits on 1-4 ranks and 1-2 threads, with
# batch normalization (the global batch's statistics, agreed exactly over
# the micro-batches), dropout and augmentation; and those really change
# the training.
R=(train --net conv4x3,bn,relu,pool2,dropout0.5,fc8,bn,relu,fc10 --augment crop1,flip --subset 1000 --epochs 1
  --batch 64 --seed 5 --reproducible)
run_np 1 "${R[@]}" --out "$tmp/r1" >/dev/null 2>&1
run_np 2 "${R[@]}" --out "$tmp/r2" >"$tmp/r2.out" 2>&1
OMP_NUM_THREADS=2 run_np 1 "${R[@]}" --out "$tmp/r12" >/dev/null 2>&1
run_np 1 "${R[@]}" --augment none --out "$tmp/r0" >/dev/null 2>&1
a=$(tensors_checksum "$tmp/r1/model.h5"); b=$(tensors_checksum "$tmp/r2/model.h5"); c=$(tensors_checksum "$tmp/r12/model.h5")
check "--reproducible: 1x1, 2x1 and 1x2 bitwise ($a, $b, $c)" test -n "$a" -a "$a" = "$b" -a "$a" = "$c"
# 8 micro-batches a step: the gradients' exact sums (more than 4), on 1-4 ranks.
run_np 1 "${R[@]}" --micro-batch 8 --out "$tmp/m1" >/dev/null 2>&1
run_np 3 "${R[@]}" --micro-batch 8 --out "$tmp/m3" >/dev/null 2>&1
OMP_NUM_THREADS=2 run_np 2 "${R[@]}" --micro-batch 8 --out "$tmp/m22" >/dev/null 2>&1
run_np 4 "${R[@]}" --micro-batch 8 --out "$tmp/m4" >/dev/null 2>&1
a8=$(tensors_checksum "$tmp/m1/model.h5"); b8=$(tensors_checksum "$tmp/m3/model.h5")
c8=$(tensors_checksum "$tmp/m22/model.h5"); d8=$(tensors_checksum "$tmp/m4/model.h5")
check "--reproducible --micro-batch 8: 1x1, 3x1, 2x2 and 4x1 bitwise ($a8, $b8, $c8, $d8)" \
  test -n "$a8" -a "$a8" = "$b8" -a "$a8" = "$c8" -a "$a8" = "$d8"
# Without batch normalization each micro-batch runs whole on one thread.
N=(train --net conv4x3,relu,pool2,dropout0.5,fc10 --augment flip --subset 500 --epochs 1 --batch 64 --seed 5
  --reproducible)
run_np 1 "${N[@]}" --out "$tmp/n1" >/dev/null 2>&1
run_np 2 "${N[@]}" --out "$tmp/n2" >/dev/null 2>&1
a0=$(tensors_checksum "$tmp/n1/model.h5"); b0=$(tensors_checksum "$tmp/n2/model.h5")
check "--reproducible without batch normalization: 1x1 and 2x1 bitwise ($a0, $b0)" test -n "$a0" -a "$a0" = "$b0"
# Exact sums overlapped with the backward pass (--overlap on): the same bits,
# through the hook between a network's layers and, with batch
# normalization, after the pass.
run_np 1 "${N[@]}" --micro-batch 8 --out "$tmp/e1" >/dev/null 2>&1
run_np 3 "${N[@]}" --micro-batch 8 --overlap on --out "$tmp/e3" >/dev/null 2>&1
OMP_NUM_THREADS=2 run_np 2 "${R[@]}" --micro-batch 8 --overlap on --out "$tmp/o22" >/dev/null 2>&1
e1=$(tensors_checksum "$tmp/e1/model.h5"); e3=$(tensors_checksum "$tmp/e3/model.h5")
o22=$(tensors_checksum "$tmp/o22/model.h5")
check "--reproducible --micro-batch 8 --overlap on: 3x1 bitwise 1x1 without ($e3, $e1)" test -n "$e1" -a "$e1" = "$e3"
check "... and with batch normalization, 2x2 bitwise 1x1 without ($o22, $a8)" test -n "$o22" -a "$o22" = "$a8"
n=$(tensors_checksum "$tmp/r0/model.h5")
check "without augmentation the parameters differ ($n vs $a)" test -n "$n" -a "$n" != "$a"
check "the start line names the augmentation" grep -q ", augmentation crop1,flip" "$tmp/r2.out"

# 4. Three channels (CIFAR-10 binary batches, the test fixture's 32x32 RGB images).
check "a network on CIFAR-10's format trains and evaluates" \
  run_np 2 train --data "$F/cifar" --net conv4x3,relu,pool2,fc10 --epochs 1 --batch 8 --out "$tmp/c"
check "gradcheck of a 3-channel network with stride and padding" \
  run_np 1 gradcheck --net conv3x3s2,relu,conv4x3p0,relu,avgpool2,fc5 --image 11x9x3 --bound 2e-3

# 5. Bad specs: one line naming --net, exit 2, on every rank.
expect_net() { check "$1" expect_fail 2 2 "$2" train --subset 500 --epochs 1 --net "$3" --out "$tmp/bad" "${@:4}"; }
expect_net "unknown layer" "--net conv8x3,bogus,fc10: element 2 'bogus' is not a layer" conv8x3,bogus,fc10
expect_net "an empty element" "--net conv8x3,,fc10: element 2 is empty (a stray comma)" conv8x3,,fc10
expect_net "a trailing comma" "--net conv8x3,fc10,: element 3 is empty (a stray comma)" conv8x3,fc10,
expect_net "a kernel larger than its input" "element 3 'conv4x9p0' has a kernel larger than its 7x7 input" \
  conv8x3,pool4,conv4x9p0,fc10
expect_net "a window larger than its input" "element 2 'pool32' has a window larger than its 28x28 input" conv4x3,pool32,fc10
expect_net "scores that do not fit the classes" "the last layer fc7 gives 7 scores; the data has 10 classes" conv4x3,fc7
expect_net "no scores at the end" "must end with fc10" conv4x3,relu
expect_net "a stride larger than the kernel" "element 1 'conv4x3s5' needs a stride of 1 to its kernel size 3" conv4x3s5,fc10
expect_net "a ReLU before any layer" "element 1 'relu' follows no layer" relu,fc10
expect_net "a batch normalization of the input" "element 1 'bn' follows no layer" bn,conv4x3,fc10
expect_net "--net with --model mlp" "--net: gives the layers of a cnn, not of a mlp model" fc10 --model mlp
expect_net "--net with --hidden" "--hidden: an mlp's widths" fc10 --hidden 64
check "--model cnn without --net" expect_fail 2 2 "--net: a cnn is given by its layers" train --model cnn --out "$tmp/bad"
check "a crop as large as the image" expect_fail 2 2 "--augment crop28: must be below the 28x28 images' sides" \
  train --net fc10 --augment crop28 --out "$tmp/bad"
check "--augment with an unknown element" expect_fail 2 2 "--augment crop2,rotate: 'rotate' is not crop<P> or flip" \
  train --net fc10 --augment crop2,rotate --out "$tmp/bad"
check "--augment with a stray comma" expect_fail 2 2 "--augment crop2,: an empty element (a stray comma)" \
  train --net fc10 --augment crop2, --out "$tmp/bad"
check "--dropout is refused for a network (a layer there)" expect_fail 2 2 "--dropout 0.2: a network takes dropout as one of its layers" \
  train --net fc10 --dropout 0.2 --out "$tmp/bad"
finish
