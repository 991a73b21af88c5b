#!/bin/bash
# Resource errors are errors: a full filesystem (a small tmpfs), a
# read-only one and a directory removed mid-run give one error line and the
# right exit status, never a crash, and leave the earlier checkpoint and
# results intact and loadable. Needs root to mount; skipped (77) otherwise.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
mnt=$tmp/small
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=2m tmpfs "$mnt" 2>/dev/null; then echo "SKIP: cannot mount a tmpfs here"; rm -rf "$tmp"; exit 77; fi
trap 'pkill -9 -f "$tmp" 2>/dev/null; umount "$mnt" 2>/dev/null; rm -rf "$tmp"' EXIT
A=(train --model mlp --hidden 256 --epochs 2 --subset 5000 --batch 100 --seed 3)

# 1. Checkpoints fill the filesystem: the one that does not fit fails cleanly.
check "a full disk during a checkpoint: exit 1, one line" expect_fail 2 1 "ckpt-000000010.h5: write failed: No space left on device" \
  "${A[@]}" --out "$tmp/out1" --checkpoint-dir "$mnt/ck" --checkpoint-every 5
check "the earlier checkpoint is intact" run_np 1 eval --checkpoint "$mnt/ck/ckpt-000000005.h5" --subset 500
check "and no temporary is left" test -z "$(ls "$mnt/ck" | grep tmp)"
check "latest still names it" grep -qx "ckpt-000000005.h5" "$mnt/ck/latest"
rm -rf "$mnt/ck"

# 2. Results on a full disk: a good earlier model.h5 is not replaced by a bad one.
check "a first run writes its results" run_np 1 train --model softmax --epochs 1 --subset 500 --out "$mnt/res" >/dev/null 2>&1
sum=$(tensors_checksum "$mnt/res/model.h5")
head -c $(( $(df --output=avail -B1 "$mnt" | tail -1) - 4096 )) /dev/zero >"$mnt/filler" 2>/dev/null
check "results on a full disk: exit 1, one line" expect_fail 1 1 "No space left on device" train --model softmax --epochs 1 --subset 500 --seed 9 --out "$mnt/res"
check "the earlier model.h5 is intact" test "$(tensors_checksum "$mnt/res/model.h5")" = "$sum" -a -n "$sum"
check "a search journal on a full disk: exit 1, one line" expect_fail 1 1 "No space left on device" \
  search --model softmax --lr 0.01 --reg 0 --folds 2 --epochs 1 --subset 500 --out "$mnt/res"
check "cv results on a full disk: exit 1, one line" expect_fail 1 1 "No space left on device" \
  cv --k 1 --folds 2 --subset 500 --out "$mnt/cv"
check "a picture on a full disk (knn --neighbors-image): exit 1, one line" expect_fail 2 1 "No space left on device" \
  knn --k 1 --subset 500 --neighbors-image "$mnt/nn.png"
check "a picture on a full disk (eval --confusion-png): exit 1, one line" expect_fail 1 1 "No space left on device" \
  eval --checkpoint "$mnt/res/model.h5" --subset 500 --confusion-png "$mnt/confusion.png"
check "no half picture under the final names" test ! -e "$mnt/nn.png" -a ! -e "$mnt/confusion.png"
rm -f "$mnt/filler"

# 3. A read-only filesystem: the output directory is bad input.
mkdir -p "$mnt/ro"
mount -o remount,ro "$mnt"
check "--out on a read-only filesystem: exit 2" expect_fail 1 2 "ro: cannot write there: Read-only file system" train --model softmax --epochs 1 --subset 500 --out "$mnt/ro"
check "--checkpoint-dir on a read-only filesystem: exit 2" expect_fail 1 2 "Read-only file system" \
  train --model softmax --epochs 1 --subset 500 --out "$tmp/out3" --checkpoint-dir "$mnt/ro/ck" --checkpoint-every 2
mount -o remount,rw "$mnt"

# 4. The checkpoint directory removed while the run goes on.
run_np 2 "${A[@]}" --epochs 3 --out "$tmp/out4" --checkpoint-dir "$tmp/gone" --checkpoint-every 20 >/dev/null 2>"$tmp/gone.err" &
pid=$!
wait_for_step "$tmp/gone" 20
mv "$tmp/gone" "$tmp/gone.removed" # one atomic step: rm -r races with the next checkpoint being written
wait $pid; rc=$?
check "checkpoint directory removed mid-run: exit 1 (got $rc)" test "$rc" -eq 1
check "one error line naming it" bash -c "test \$(grep -c 'error: ' '$tmp/gone.err') -eq 1 && grep -q 'error: $tmp/gone/' '$tmp/gone.err'"

# 5. A search's output directory (its journal) removed while it runs. It
# fails at its next journal append; its 120 tasks (a minute or more) make
# sure there is one after the move, however busy the machine (with 36 it
# once finished first, under load).
lrs=$(seq -s, 0.005 0.005 0.1)
run_np 2 search --model softmax --lr "$lrs" --reg 0,1e-4 --folds 3 --epochs 1 --subset 3000 \
  --out "$tmp/sgone" >/dev/null 2>"$tmp/sgone.err" &
pid=$!
for i in $(seq 1200); do grep -q '^done' "$tmp/sgone/journal.txt" 2>/dev/null && break; sleep 0.05; done
mv "$tmp/sgone" "$tmp/sgone.removed"
wait $pid; rc=$?
check "search output directory removed mid-run: exit 1 (got $rc)" test "$rc" -eq 1
check "one error line naming the journal" bash -c "test \$(grep -c 'error: ' '$tmp/sgone.err') -eq 1 && grep -q 'error: $tmp/sgone/journal.txt' '$tmp/sgone.err'"
finish
