#!/bin/bash
# Checkpoints: exact resume after SIGKILL (final parameters byte for byte),
# preemption by SIGUSR1/SIGTERM sent to one rank, resume on another rank
# count, corrupt and mismatched checkpoints, --keep, eval and predict.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'pkill -9 -f "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
A=(train --model mlp --hidden 128 --epochs 2 --batch 50 --seed 11)

params_equal() { # params_equal MODEL_A MODEL_B: every /params tensor byte for byte
  local t
  for t in W0 b0 W1 b1; do
    h5dump -d /params/$t -b LE -o "$tmp/a.bin" "$1" >/dev/null && h5dump -d /params/$t -b LE -o "$tmp/b.bin" "$2" >/dev/null &&
      cmp -s "$tmp/a.bin" "$tmp/b.bin" || { echo "  /params/$t differs"; return 1; }
  done
}

# 1. The uninterrupted reference run.
check "reference run" run_np 2 "${A[@]}" --out "$tmp/ref" 2>/dev/null >"$tmp/ref.out"

# 2. SIGKILL between checkpoints, then --resume auto: bitwise identical result.
if killed_at=$(kill_after_checkpoint 2 "$tmp/k/ck" 300 "${A[@]}" --out "$tmp/k" --checkpoint-every 100); then
  echo "killed with SIGKILL after the checkpoint at step $killed_at"
  check "killed before the end" test ! -e "$tmp/k/model.h5"
  check "no half-written checkpoint under a final name" bash -c "for f in '$tmp'/k/ck/ckpt-*.h5; do h5dump -H \"\$f\" >/dev/null || exit 1; done"
  check "resume auto" bash -c "$(declare -f run_np); MPIEXEC='$MPIEXEC' SHARDML='$SHARDML' run_np 2 ${A[*]} --out '$tmp/k' --checkpoint-dir '$tmp/k/ck' --checkpoint-every 100 --resume auto 2>'$tmp/k.err' >/dev/null"
  resumed_at=$(sed -n 's/.*resuming from .*ckpt-0*\([0-9]*\)\.h5 .*/\1/p' "$tmp/k.err")
  check "it said where it resumed (step $resumed_at >= $killed_at)" test -n "$resumed_at" -a "${resumed_at:-0}" -ge "$killed_at"
  check "final parameters bitwise identical to the uninterrupted run" params_equal "$tmp/ref/model.h5" "$tmp/k/model.h5"
else
  check "saw a checkpoint at step >= 300 before the end" false
fi
check "--keep 3 kept three" test "$(ls "$tmp"/k/ck/ckpt-*.h5 | wc -l)" -eq 3

# 2b. --grad-dtype bf16: every rank's error-feedback residual travels in the
# checkpoint, so a resumed run rounds as the uninterrupted one did.
H=("${A[@]}" --grad-dtype bf16)
run_np 2 "${H[@]}" --out "$tmp/h" --checkpoint-dir "$tmp/h/ck" --checkpoint-every 500 --keep 100 >/dev/null 2>&1
mid=$(ls "$tmp"/h/ck/ckpt-*.h5 2>/dev/null | head -1)
check "bf16: checkpoints written ($mid)" test -s "$mid"
check "bf16: the checkpoint holds both ranks' residuals" bash -c "h5dump -H -d /reduce/residual '$mid' | grep -q '( 2, 101770 )'"
run_np 2 "${H[@]}" --out "$tmp/h2" --resume "$mid" >/dev/null 2>&1; rc=$?
check "bf16: resumed from $(basename "$mid")" test "$rc" -eq 0
check "bf16: final parameters bitwise identical to the uninterrupted run" params_equal "$tmp/h/model.h5" "$tmp/h2/model.h5"
out=$(run_np 1 "${H[@]}" --out "$tmp/h1" --resume "$mid" 2>&1 >/dev/null)
check "bf16 on another rank count: says the residuals restart at zero" grep -q "residuals are of 2 ranks (bf16); this run has 1" <<<"$out"

# 3. Preemption: SIGUSR1 to one rank; every rank stops after the same step,
# a checkpoint is written, exit status 3; the resumed run ends identical.
for sig in USR1 TERM; do
  d=$tmp/p$sig
  run_np 2 "${A[@]}" --out "$d" --checkpoint-dir "$d/ck" --checkpoint-every 200 >"$d.out" 2>"$d.err" &
  pid=$!
  wait_for_step "$d/ck" 200
  r=$(pgrep -f -- "--checkpoint-dir $d/ck" | while read p; do [ "$(cat /proc/$p/comm 2>/dev/null)" = shardml ] && echo $p; done | tail -1)
  echo "sending SIG$sig to rank process $r"
  kill -$sig "$r"
  wait $pid; rc=$?
  check "SIG$sig to one rank: exit status 3" test "$rc" -eq 3
  check "SIG$sig: one message naming the checkpoint" grep -q "error: stopped by a signal after step [0-9]*; checkpoint written to $d/ck" "$d.err"
  check "SIG$sig: checkpoint exists" test -s "$d/ck/latest"
  check "SIG$sig: resumes to the same model" bash -c "$(declare -f run_np); MPIEXEC='$MPIEXEC' SHARDML='$SHARDML' run_np 2 ${A[*]} --out '$d' --checkpoint-dir '$d/ck' --resume auto >/dev/null 2>&1"
  check "SIG$sig: bitwise identical to the uninterrupted run" params_equal "$tmp/ref/model.h5" "$d/model.h5"
done

# Time-based checkpoints, agreed through the step's allreduce.
run_np 2 train --model mlp --hidden 128 --epochs 2 --batch 50 --out "$tmp/sec" --checkpoint-dir "$tmp/sec/ck" \
  --checkpoint-seconds 0.1 --keep 100 >/dev/null 2>&1
check "--checkpoint-seconds 0.1 wrote several checkpoints" test "$(ls "$tmp"/sec/ck/ckpt-*.h5 2>/dev/null | wc -l)" -ge 2

# 4. Resume on another rank count: works, and says it is not bitwise.
first=$(ls "$tmp"/k/ck/ckpt-*.h5 | head -1)
out=$(run_np 1 "${A[@]}" --out "$tmp/one" --resume "$first" 2>&1)
check "resume on 1 rank from a 2-rank checkpoint" grep -q '^test accuracy 0\.' <<<"$out"
check "says: statistically equivalent" grep -q "statistically equivalent continuation" <<<"$out"

# 5. Bad checkpoints.
ck=$tmp/k/ck
newest=$(ls "$ck"/ckpt-*.h5 | tail -1); older=$(ls "$ck"/ckpt-*.h5 | tail -2 | head -1)
cp "$newest" "$tmp/trunc.h5"; truncate -s 50000 "$tmp/trunc.h5"
check "truncated: clear error" expect_fail 2 2 "trunc.h5: not a readable HDF5 file" "${A[@]}" --out "$tmp/x" --resume "$tmp/trunc.h5"
cp "$newest" "$tmp/flip.h5"; size=$(stat -c %s "$tmp/flip.h5")
printf '\x55\xaa\x55\xaa' | dd of="$tmp/flip.h5" bs=1 seek=$((size / 2)) conv=notrunc status=none
check "flipped bytes: clear error (HDF5's Fletcher32 or shardml's checksum)" expect_fail 2 2 "flip.h5: corrupt" "${A[@]}" --out "$tmp/x" --resume "$tmp/flip.h5"
check "another architecture" expect_fail 2 2 "a checkpoint of model mlp [784-128-10], but this run trains mlp [784-32-10]" \
  train --model mlp --hidden 32 --epochs 2 --batch 50 --seed 11 --out "$tmp/x" --resume "$older"
check "another model" expect_fail 2 2 "but this run trains softmax [784-10]" train --model softmax --epochs 2 --batch 50 --seed 11 --out "$tmp/x" --resume "$older"
check "another dataset split" expect_fail 2 2 "saved for another dataset" "${A[@]}" --val 100 --out "$tmp/x" --resume "$older"
check "another batch" expect_fail 2 2 "saved with batch size 50, this run asks for 64" train --model mlp --hidden 128 --epochs 2 --batch 64 --seed 11 --out "$tmp/x" --resume "$older"
truncate -s 40000 "$newest"
out=$(run_np 2 "${A[@]}" --out "$tmp/skip" --checkpoint-dir "$ck" --resume auto 2>&1)
check "auto skips the corrupt newest and reports it" grep -q "resume auto: skipping .*$(basename "$newest"): not a readable HDF5 file" <<<"$out"
check "auto used the previous one" grep -q "resuming from .*$(basename "$older")" <<<"$out"

# 6. eval and predict on the final model.
acc=$(sed -n 's/^test accuracy //p' <<<"$(run_np 2 eval --checkpoint "$tmp/ref/model.h5" 2>/dev/null | sed -n 's/^accuracy /test accuracy /p')")
want=$(sed -n 's/^test accuracy //p' "$tmp/ref.out")
check "eval accuracy ($acc) equals training's test accuracy ($want)" test -n "$acc" -a "$acc" = "$want"
check "eval prints a confusion matrix" bash -c "$(declare -f run_np); MPIEXEC='$MPIEXEC' SHARDML='$SHARDML' run_np 2 eval --checkpoint '$tmp/ref/model.h5' 2>/dev/null | grep -q '^confusion matrix'"
check "predict writes 10000 rows" bash -c "$(declare -f run_np); MPIEXEC='$MPIEXEC' SHARDML='$SHARDML' run_np 2 predict --checkpoint '$tmp/ref/model.h5' --out '$tmp/p.csv' 2>/dev/null; test \$(wc -l <'$tmp/p.csv') -eq 10001"
check "predictions agree with eval" awk -F, -v a="$acc" 'NR > 1 { c += ($2 == $3); n++ } END { exit !(sprintf("%.4f", c / n) == a) }' "$tmp/p.csv"
check "eval --model knn says why not" expect_fail 2 2 "kNN keeps no trained state" eval --model knn --checkpoint "$tmp/ref/model.h5"
finish
