#!/bin/bash
# One binary for every x86-64 node: the default build runs on a CPU without
# AVX (QEMU's Nehalem, x86-64-v2) and needs nothing above the baseline outside
# the dispatched kernels. Under qemu-x86_64 -cpu Nehalem: the kernel tests
# pass on the level the CPU gets (generic), info/train/knn run to the end,
# kNN predictions equal the native generic run's (exact integer distances),
# and a kernel level the CPU lacks is refused with one error line, not an
# illegal instruction. A control program with AVX2 instructions must die
# under the same emulator, which shows it would catch shardml doing so.
# Args: TEST_KERNELS AVX2_PROBE   (exit 77, skipped, without qemu-user)
. "$(dirname "$0")/lib.sh"
TEST_KERNELS=${1:?usage: baseline_cpu.sh TEST_KERNELS AVX2_PROBE}
PROBE=${2:?}
QEMU=$(command -v qemu-x86_64) || { echo "SKIP: qemu-x86_64 not installed (Debian package qemu-user)"; exit 77; }
# The machine's environment may force an OpenBLAS core for its own CPU
# (OPENBLAS_CORETYPE=Haswell on AMD Zen 5): the emulated CPU runs none of
# it, so every emulated run starts without it, and one checks the refusal.
# (qemu-user runs only the first program: variables are set before it.)
NEHALEM=(timeout 120 "$QEMU" -cpu Nehalem) # emulation is ~10x slower; a hang fails, not the CTest timeout
EMU=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u SHARDML_BLAS_AUTOCORE "${NEHALEM[@]}")
D="$FIXTURES/idx_raw"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"${EMU[@]}" "$PROBE" >/dev/null 2>&1; rc=$?
check "control: AVX2 instructions die under the emulated Nehalem (exit $rc)" test "$rc" -eq 132

out=$(env -u SHARDML_ISA "${EMU[@]}" "$TEST_KERNELS" 2>&1); rc=$?
echo "$out" | tail -3
check "kernel tests pass on the emulated CPU" test "$rc" -eq 0
check "... on the generic level (the best a CPU without AVX gets)" grep -q "testing level generic" <<<"$out"

out=$(env -u SHARDML_ISA "${EMU[@]}" "$SHARDML" info --data "$D" 2>&1); rc=$?
grep -E '^(cpu|kernels|blas) ' <<<"$out"
check "info runs" test "$rc" -eq 0
check "info: kernels generic" grep -q '^kernels *generic ' <<<"$out"

out=$(env -u SHARDML_ISA "${EMU[@]}" "$SHARDML" train --model mlp --hidden 16 --data "$D" --epochs 2 --batch 8 \
  --out "$tmp/mlp" 2>&1); rc=$?
check "train mlp runs (exit $rc)" test "$rc" -eq 0
check "train mlp reports a test accuracy" grep -q '^test accuracy ' <<<"$out"

for metric in l1 l2; do
  env -u SHARDML_ISA "${EMU[@]}" "$SHARDML" knn --metric $metric --k 1,3 --data "$D" --val 9 \
    --out "$tmp/emu_$metric.csv" >/dev/null 2>&1; rc=$?
  check "knn $metric runs (exit $rc)" test "$rc" -eq 0
  SHARDML_ISA=generic "$SHARDML" knn --metric $metric --k 1,3 --data "$D" --val 9 --out "$tmp/native_$metric.csv" \
    >/dev/null 2>&1
  check "knn $metric predictions equal the native generic run's" cmp -s "$tmp/emu_$metric.csv" "$tmp/native_$metric.csv"
done

out=$(env -u SHARDML_ISA OPENBLAS_CORETYPE=Haswell "${NEHALEM[@]}" "$SHARDML" info --data "$D" 2>&1); rc=$?
check "OPENBLAS_CORETYPE=Haswell on the emulated CPU: exit 2 (not an illegal instruction: $rc)" test "$rc" -eq 2
check "... with one error line naming the variable and the CPU's level" \
  test "$(grep -c '^shardml: error: OPENBLAS_CORETYPE=Haswell: its kernels need avx2, this CPU runs sse' <<<"$out")" -eq 1

out=$(SHARDML_ISA=avx2 "${EMU[@]}" "$SHARDML" info --data "$D" 2>&1); rc=$?
check "SHARDML_ISA=avx2 on the emulated CPU: exit 2 (not an illegal instruction: $rc)" test "$rc" -eq 2
check "... with one error line naming the variable" test "$(grep -c '^shardml: error: SHARDML_ISA=avx2: this CPU' <<<"$out")" -eq 1
finish
