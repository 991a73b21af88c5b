#!/bin/bash
# A checkpoint directory belongs to one run at a time, and a run only ever
# removes its own files:
# - rotation (--keep) beside another run's higher-numbered checkpoints keeps
#   this run's newest and all of the other run's; `latest` names an existing
#   file that resumes;
# - a run that would replace another run's checkpoint (same step number) is
#   refused before it starts;
# - a second run on a directory in use is refused (exit 2, naming the
#   holder), and a signal to the first still stops it with its checkpoint;
# - --resume auto reads every checkpoint, newest first, until one verifies
#   (65 unreadable newest ones and an older good one: it resumes).
. "$(dirname "$0")/lib.sh"
D=$FIXTURES/idx_raw # 37 images: 5 steps an epoch at batch 8
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ck=$tmp/ck
train() { run_np 2 train --data "$D" --model softmax --batch 8 --checkpoint-dir "$ck" --checkpoint-every 1 "$@"; }
steps() { (cd "$1" && ls ckpt-*.h5 2>/dev/null | sed 's/^ckpt-0*\([0-9][0-9]*\)\.h5$/\1/' | sort -n | tr '\n' ' '); }

# Run A: lr 0.02, 4 epochs, keeps its newest 3 (steps 18-20).
train --lr 0.02 --epochs 4 --keep 3 --out "$tmp/a" >/dev/null 2>&1
check "run A keeps its newest 3 checkpoints" test "$(steps "$ck")" = "18 19 20 "
# Run B: lr 0.01, 2 epochs (steps 1-10), keeps 2; A's files are not its own.
out=$(train --lr 0.01 --epochs 2 --keep 2 --out "$tmp/b" 2>&1); rc=$?
check "run B beside A's higher steps: exit 0 (got $rc)" test "$rc" -eq 0
check "run B kept its newest 2 and all of A's" test "$(steps "$ck")" = "9 10 18 19 20 "
check "latest names B's newest" test "$(cat "$ck/latest")" = ckpt-000000010.h5
out=$(train --lr 0.01 --epochs 3 --keep 2 --out "$tmp/b" --resume auto 2>&1); rc=$?
check "B resumes from latest (exit $rc)" grep -q "resuming from $ck/ckpt-000000010.h5" <<<"$out"
check "... and A's files are still there" test "$(steps "$ck")" = "14 15 18 19 20 "
# Run C would write steps 1-20, among them A's 18-20: refused at once.
check "a run that would replace another run's checkpoint is refused" \
  expect_fail 2 2 "ckpt-000000020.h5: a checkpoint of another run" train --data "$D" --model softmax --batch 8 \
  --checkpoint-dir "$ck" --checkpoint-every 1 --lr 0.03 --epochs 4 --out "$tmp/c"
check "... and nothing was written" test "$(steps "$ck")" = "14 15 18 19 20 "

# Two runs on one directory: the second is refused while the first runs.
ck2=$tmp/ck2
run_np 2 train --data "$D" --model softmax --batch 8 --epochs 1000000 --checkpoint-dir "$ck2" \
  --checkpoint-every 5 --out "$tmp/long" >"$tmp/long.log" 2>&1 &
pid=$!
check "the first run writes a checkpoint" wait_for_step "$ck2" 5
check "a second run on the same directory: exit 2, naming the holder" \
  expect_fail 2 2 "another training run is using this checkpoint directory (host " \
  train --data "$D" --model softmax --batch 8 --epochs 1 --checkpoint-dir "$ck2" --out "$tmp/second"
pkill -USR1 -f -- "^$SHARDML train .*--checkpoint-dir $ck2 " # the ranks, not the launcher or timeout
wait $pid; rc=$?
check "the first run, signalled, stops with its checkpoint (exit $rc)" test "$rc" -eq 3
check "... and latest names an existing file" test -f "$ck2/$(cat "$ck2/latest")"

# --resume auto past 64 unreadable checkpoints.
ck3=$tmp/ck3
run_np 2 train --data "$D" --model softmax --batch 8 --epochs 16 --checkpoint-dir "$ck3" --checkpoint-every 1 \
  --keep 100 --out "$tmp/r" >/dev/null 2>&1
check "80 checkpoints" test "$(ls "$ck3"/ckpt-*.h5 | wc -l)" -eq 80
for s in $(seq 16 80); do printf 'not a checkpoint' >"$ck3/$(printf 'ckpt-%09d.h5' "$s")"; done
out=$(run_np 2 train --data "$D" --model softmax --batch 8 --epochs 16 --checkpoint-dir "$ck3" --checkpoint-every 1 \
  --keep 100 --out "$tmp/r" --resume auto 2>&1); rc=$?
check "... and finishes, rewriting the unreadable files (exit $rc)" test "$rc" -eq 0
check "--resume auto skips the 65 unreadable newest and resumes from step 15" \
  grep -q "resuming from $ck3/ckpt-000000015.h5 at step 15" <<<"$out"
finish
