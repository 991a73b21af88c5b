#!/bin/bash
# Checkpoints that lie (issue: hostile files): a corrupt checkpoint never
# touches the run, crafted progress and history sizes are refused before
# anything is sized by them, and one checksum covers what a resume trusts.
# Files on which libhdf5 itself crashes or loops (found by tests/fuzz) are
# rehearsed in a child process with a time limit and refused (exit 2).
# Usage: hostile_checkpoint.sh H5POKE FUZZ_CORPUS_DIR
. "$(dirname "$0")/lib.sh"
POKE=$1 CORPUS=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
A=(train --model mlp --hidden 32 --epochs 2 --batch 100 --subset 2000 --seed 3 --log-every 5)

check "reference run with checkpoints" run_np 1 "${A[@]}" --out "$tmp/ref" --checkpoint-dir "$tmp/ck" --checkpoint-every 10 --keep 10 2>/dev/null >/dev/null
ck10="$tmp/ck/ckpt-000000010.h5"
check "a checkpoint at step 10" test -f "$ck10"
check "a fresh run" run_np 1 "${A[@]}" --out "$tmp/fresh" 2>/dev/null >/dev/null
fresh=$(tensors_checksum "$tmp/fresh/model.h5")

# 1. The only checkpoint is corrupt: --resume auto says it starts from
# scratch, and then it really does (the corrupt tensors were not loaded).
mkdir -p "$tmp/ck1"; cp "$ck10" "$tmp/ck1/"
"$POKE" "$tmp/ck1/ckpt-000000010.h5" f32 /params/W0 0 123.5
out=$(run_np 1 "${A[@]}" --out "$tmp/auto" --checkpoint-dir "$tmp/ck1" --resume auto 2>&1 >/dev/null)
check "auto skips the corrupt checkpoint" grep -q "skipping .*ckpt-000000010.h5: corrupt" <<<"$out"
check "and says it starts from scratch" grep -q "starting from scratch" <<<"$out"
got=$(tensors_checksum "$tmp/auto/model.h5")
check "from scratch means from scratch: the final model equals a fresh run's ($got vs $fresh)" test -n "$got" -a "$got" = "$fresh"

# 2. History sized beyond the run (checksum of the tensors intact): refused,
# never read into buffers sized by this run.
cp "$ck10" "$tmp/big.h5"
"$POKE" "$tmp/big.h5" i64 global_step 100000
"$POKE" "$tmp/big.h5" doubles /history/step 100000
"$POKE" "$tmp/big.h5" doubles /history/step_loss 100000
check "100000 logged steps: refused" expect_fail 1 2 "big.h5: corrupt" "${A[@]}" --out "$tmp/x" --resume "$tmp/big.h5"
cp "$ck10" "$tmp/steps.h5"
"$POKE" "$tmp/steps.h5" doubles /history/step_loss 100000
check "a step-loss history longer than the steps: refused" expect_fail 1 2 "steps.h5: /history/step_loss has 100000 values" "${A[@]}" --out "$tmp/x" --resume "$tmp/steps.h5"

# 3. Progress values out of range or inconsistent: refused before use.
for v in "global_step 50095" "epoch 9223372036854775807" "epoch -7" "epoch 1000000000000" "step_in_epoch -1" \
         "step_in_epoch 21"; do
  set -- $v
  cp "$ck10" "$tmp/p.h5"; "$POKE" "$tmp/p.h5" i64 "$1" "$2"
  check "$1 = $2: refused" expect_fail 1 2 "p.h5: corrupt" "${A[@]}" --out "$tmp/x" --resume "$tmp/p.h5"
done

# 4. One checksum covers history and hyperparameters too.
cp "$ck10" "$tmp/h.h5"; "$POKE" "$tmp/h.h5" f32 /history/step_loss 0 9.5
check "a changed step loss: contents checksum" expect_fail 1 2 "h.h5: corrupt: contents checksum" "${A[@]}" --out "$tmp/x" --resume "$tmp/h.h5"
cp "$ck10" "$tmp/w.h5"; "$POKE" "$tmp/w.h5" i64 base_batch 77
check "a changed hyperparameter attribute: contents checksum" expect_fail 1 2 "w.h5: corrupt: contents checksum" "${A[@]}" --out "$tmp/x" --resume "$tmp/w.h5"

# 5. Files libhdf5 loops or crashes on: refused, never a stuck job.
export SHARDML_HDF5_TIMEOUT=3
cp "$CORPUS/checkpoint/libhdf5-hang-d9a6e424" "$tmp/hang.h5"
check "a model HDF5 loops on: exit 2 within the limit" expect_fail 1 2 "hang.h5: HDF5 did not finish reading the model within 3 s" eval --checkpoint "$tmp/hang.h5"
mkdir -p "$tmp/ck3"; cp "$ck10" "$tmp/ck3/"; cp "$tmp/hang.h5" "$tmp/ck3/ckpt-000000099.h5"
out=$(run_np 2 "${A[@]}" --out "$tmp/auto3" --checkpoint-dir "$tmp/ck3" --resume auto 2>&1 >/dev/null)
check "resume auto skips a newest checkpoint HDF5 loops on (as eval reads it)" grep -q "skipping .*ckpt-000000099.h5: " <<<"$out"
check "and resumes from the older one" grep -q "resuming from .*ckpt-000000010.h5" <<<"$out"
check "a dataset file HDF5 fails on: exit 2" expect_fail 2 2 "libhdf5-crash-3b187a35" info --data "$CORPUS/h5data/libhdf5-crash-3b187a35"
unset SHARDML_HDF5_TIMEOUT

# 6. And the untouched checkpoint still resumes to the reference result.
mkdir -p "$tmp/ck2"; cp "$ck10" "$tmp/ck2/"
check "the intact checkpoint resumes" run_np 1 "${A[@]}" --out "$tmp/resumed" --checkpoint-dir "$tmp/ck2" --resume auto 2>/dev/null >/dev/null
check "to the reference's final model" test "$(tensors_checksum "$tmp/resumed/model.h5")" = "$(tensors_checksum "$tmp/ref/model.h5")"
finish
