#!/bin/bash
# The command line follows the conventions users expect: usage and help that
# fit 80 columns and end with examples, "did you mean", case-insensitive
# names, numbers in any integral form, one --hidden syntax, truthful log
# lines (group sizes, progress naming the command, elapsed time and ETA, a
# live progress line only on a terminal), and scikit-learn's params and
# score times in cv_results.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# Bare `shardml`: the usage on stderr, exit 2, no empty error line.
"$SHARDML" >"$tmp/bare.out" 2>"$tmp/bare.err"; rc=$?
check "bare shardml: exit 2 (got $rc)" test "$rc" -eq 2
check "bare shardml: usage on stderr" grep -q '^usage: ' "$tmp/bare.err"
check "bare shardml: no empty error line" test "$(grep -c 'error: *$' "$tmp/bare.err")" -eq 0

for cmd in "" info convert train eval predict knn search cv gradcheck; do
  "$SHARDML" $cmd --help >"$tmp/help.txt" 2>&1
  check "shardml $cmd --help fits 80 columns" awk 'length($0) > 80 { print "  " length($0) ": " $0; bad = 1 } END { exit bad }' "$tmp/help.txt"
  check "shardml $cmd --help ends with examples" grep -q '^examples:' "$tmp/help.txt"
done

expect_fail 1 2 "did you mean --epochs?" train --epoch 3
expect_fail 1 2 "did you mean --checkpoint-dir?" train --checkpoint-directory ck
expect_fail 1 2 "did you mean --metric?" knn --metrc l1
expect_fail 1 2 "--subset 1.5: not an integer" train --subset 1.5

A=(--subset 1e3 --epochs 1 --batch 1e2 --val 2e2 --seed 3)
check "--model MLP --optimizer Adam --schedule Cosine and --subset 1e3 accepted" \
  run_np 1 train --model MLP --optimizer Adam --schedule Cosine --hidden 16 "${A[@]}" --out "$tmp/t" >/dev/null 2>"$tmp/t.err"
check "knn --metric L1 accepted" run_np 1 knn --metric L1 --subset 1000 --k 3 >/dev/null 2>&1
# One --hidden syntax: 16x8 is two layers in train and search; the older
# train spelling 16,8 means the same; in search commas are alternatives.
run_np 1 train --hidden 16x8 "${A[@]}" --out "$tmp/x" 2>"$tmp/x.err" >/dev/null
run_np 1 train --hidden 16,8 "${A[@]}" --out "$tmp/c" 2>"$tmp/c.err" >/dev/null
params() { sed -n 's/.*(\([0-9]*\) parameters).*/\1/p' "$1"; }
check "train --hidden 16x8: two layers, 784*16+16+16*8+8+8*10+10 parameters" test "$(params "$tmp/x.err")" = 12786
check "train --hidden 16,8 (older spelling): the same net" test "$(params "$tmp/c.err")" = 12786
run_np 2 search --hidden 16,16x8 --lr 0.05 --reg 0 --folds 2 "${A[@]}" --groups 2 --out "$tmp/s" \
  >/dev/null 2>"$tmp/s.err"
check "search --hidden 16,16x8: two configurations, one of two layers" \
  bash -c "grep -c '\"\"hidden\"\": \"\"16\"\"\\|\"\"hidden\"\": \"\"16x8\"\"' '$tmp/s/cv_results.csv' | grep -qx 2"
check "search on 2 ranks, 2 groups: logged as 2 groups of 1 rank" grep -q 'tasks on 2 groups of 1 rank$' "$tmp/s.err"
check "search progress counts every group's finished tasks" grep -q '^shardml: search: task .* of 4 finished' "$tmp/s.err"
check "cv_results.csv ends with scikit-learn's params column" \
  bash -c "head -1 '$tmp/s/cv_results.csv' | grep -q ',std_score_time,params$'"
check "cv_results.json has params" grep -q '"params": \[{"lr": ' "$tmp/s/cv_results.json"
check "search: mean_score_time is measured (not 0)" \
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "mean_score_time") c = i; next }
            !c || $c + 0 <= 0 { bad = 1 } END { exit bad }' "$tmp/s/cv_results.csv"

run_np 2 cv --k 1,3 --folds 2 --subset 1000 --groups 2 --out "$tmp/cv" >/dev/null 2>"$tmp/cv.err"
check "cv progress says cv, not search" grep -q '^shardml: cv: task ' "$tmp/cv.err"
check "cv: no line says search" test "$(grep -c 'search' "$tmp/cv.err")" -eq 0
check "cv: 2 groups of 1 rank" grep -q 'cv: .* on 2 groups of 1 rank in' "$tmp/cv.err"

# Elapsed time and ETA per epoch; a live progress line only on a terminal.
run_np 1 train --hidden 16 --subset 2000 --epochs 2 --batch 10 --log-every 50 --out "$tmp/p" >/dev/null 2>"$tmp/p.err"
check "epoch lines carry elapsed and ETA" grep -q '^shardml: epoch 1/2 .* | elapsed [0-9:]*s\?, ETA [0-9:]*s\?$' "$tmp/p.err"
check "stderr not a terminal: no progress line" test "$(tr -cd '\r' <"$tmp/p.err" | wc -c)" -eq 0
check "the wrote line names steps.csv" grep -q 'wrote .*steps\.csv' "$tmp/p.err"
if command -v script >/dev/null; then
  # script(1) gives shardml a pseudo-terminal.
  script -qec "'$SHARDML' train --hidden 256 --subset 60000 --epochs 1 --batch 10 --out '$tmp/q'" /dev/null \
    >"$tmp/q.tty" 2>&1
  check "on a terminal: live progress lines (carriage returns) with an ETA" \
    bash -c "tr '\r' '\n' <'$tmp/q.tty' | grep -q '^shardml: epoch 1/1 step [0-9]*/6000 loss [0-9.]*, ETA '"
fi
finish
