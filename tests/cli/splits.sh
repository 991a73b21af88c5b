#!/bin/bash
# Folds and validation splits. On data stored class by class (sorted.h5),
# stratified folds (the default) give every fold every class and a sensible
# accuracy, identical for any number of ranks and groups, shuffled or not;
# contiguous folds (--folds-mode contiguous) reproduce shardml's earlier
# numbers exactly and warn that folds lack classes; --val is stratified too.
. "$(dirname "$0")/lib.sh"
F=$FIXTURES
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
S=(--data "$F/sorted.h5")
scores() { cut -d, -f1-8 "$1/cv_results.csv"; } # params, splits, mean, std (not times)
mean_of_best() { sed -n 's/.*"best_score": \([0-9.]*\).*/\1/p' "$1/cv_results.json"; }

# kNN CV on class-sorted data: every layout and shuffle gives the same table.
for shuffle in "" "--shuffle"; do
  tag=${shuffle:+sh}
  for layout in "1 1" "2 1" "2 2" "4 1" "4 3"; do
    set -- $layout
    run_np "$1" cv "${S[@]}" --k 1,5 --folds 3 --groups "$2" $shuffle --seed 4 --out "$tmp/knn$tag$1$2" \
      >/dev/null 2>"$tmp/knn$tag$1$2.err"
    check "cv $shuffle on $1 rank(s), $2 group(s) ran" test -s "$tmp/knn$tag$1$2/cv_results.csv"
  done
  for d in 21 22 41 43; do
    check "cv $shuffle: ranks/groups $d identical to 1 rank" diff <(scores "$tmp/knn${tag}11") <(scores "$tmp/knn$tag$d")
  done
  best=$(mean_of_best "$tmp/knn${tag}11")
  check "cv $shuffle on sorted data: best mean accuracy $best >= 0.9" awk -v b="$best" 'BEGIN { exit !(b >= 0.9) }'
  check "cv $shuffle: no warning about missing classes" test "$(grep -c 'lacks' "$tmp/knn${tag}11.err")" -eq 0
done
check "json records the split rule" grep -q '"split": {"folds_mode": "stratified", "shuffle": false, "seed": 4, "folds": 3}' "$tmp/knn11/cv_results.json"
check "json records shuffling" grep -q '"shuffle": true' "$tmp/knnsh11/cv_results.json"

# Contiguous folds: each holds one class, so nothing is ever right; said once.
run_np 2 cv "${S[@]}" --k 1,5 --folds 3 --folds-mode contiguous --out "$tmp/cont" >/dev/null 2>"$tmp/cont.err"
check "contiguous folds of sorted data score 0" test "$(mean_of_best "$tmp/cont")" = 0.000000
check "contiguous: one warning that folds lack classes" test "$(grep -c 'warning: .*fold 0 lacks 2 of the classes' "$tmp/cont.err")" -eq 1

# Contiguous mode reproduces the numbers of shardml before stratification
# (commit 64b17cf, Fashion-MNIST, cv --subset 600 --k 1,3,4,7 --metric l1,l2 --folds 4).
run_np 2 cv --subset 600 --k 1,3,4,7 --metric l1,l2 --folds 4 --folds-mode contiguous --out "$tmp/old" >/dev/null 2>&1
expected="param_k,param_metric,split0_test_score,split1_test_score,split2_test_score,split3_test_score,mean_test_score,std_test_score
1,l1,0.813333,0.713333,0.726667,0.813333,0.766667,0.046904
3,l1,0.840000,0.726667,0.726667,0.793333,0.771667,0.047929
4,l1,0.833333,0.733333,0.720000,0.793333,0.770000,0.045826
7,l1,0.820000,0.673333,0.726667,0.740000,0.740000,0.052493
1,l2,0.813333,0.686667,0.720000,0.760000,0.745000,0.047229
3,l2,0.813333,0.693333,0.726667,0.760000,0.748333,0.044316
4,l2,0.813333,0.693333,0.740000,0.760000,0.751667,0.043044
7,l2,0.813333,0.666667,0.713333,0.766667,0.740000,0.055176"
check "contiguous mode: the earlier cv_results, to the digit" diff <(echo "$expected") <(scores "$tmp/old")

# search (softmax) on class-sorted data: stratified folds, any layout.
for layout in "1 1" "2 2" "4 1"; do
  set -- $layout
  run_np "$1" search "${S[@]}" --model softmax --lr 0.05 --reg 0 --folds 3 --epochs 3 --batch 32 --groups "$2" \
    --out "$tmp/s$1$2" >/dev/null 2>"$tmp/s$1$2.err"
  check "search on $1 rank(s), $2 group(s) ran" test -s "$tmp/s$1$2/cv_results.csv"
done
check "search: 2 ranks/2 groups identical to 1 rank" diff <(cut -d, -f1-6 "$tmp/s11/cv_results.csv") <(cut -d, -f1-6 "$tmp/s22/cv_results.csv")
close_scores() { # two cv_results.csv files: split and mean scores within 0.01 (groups of another size sum in another order)
  # the first 12 columns only: the params column holds commas of its own
  paste -d, <(cut -d, -f1-12 "$1") <(cut -d, -f1-12 "$2") |
    awk -F, 'NR > 1 { for (i = 3; i <= 6; i++) { d = $i - $(i + 12); if (d < 0) d = -d; if (d > 0.01) bad = 1 } } END { exit bad }'
}
check "search: 4 ranks within float rounding of 1 rank" close_scores "$tmp/s11/cv_results.csv" "$tmp/s41/cv_results.csv"
best=$(mean_of_best "$tmp/s11")
check "search on sorted data: mean accuracy $best >= 0.9" awk -v b="$best" 'BEGIN { exit !(b >= 0.9) }'

# --val: stratified by default (every class validated), contiguous on request.
out=$(run_np 2 train "${S[@]}" --model softmax --epochs 2 --batch 32 --val 0.2 --out "$tmp/t1" 2>&1)
check "train --val 0.2 (stratified): no warning" test "$(grep -c warning <<<"$out")" -eq 0
va=$(sed -n 's/.*epoch 2\/2 .* val_acc \([0-9.]*\).*/\1/p' <<<"$out")
check "train --val 0.2 (stratified): validation accuracy $va >= 0.9" awk -v a="$va" 'BEGIN { exit !(a >= 0.9) }'
out=$(run_np 2 train "${S[@]}" --model softmax --epochs 2 --batch 32 --val 0.2 --folds-mode contiguous --out "$tmp/t2" 2>&1)
check "train --val 0.2 --folds-mode contiguous: warns the validation split lacks classes" \
  grep -q 'warning: the validation split (contiguous, in file order) lacks 2 class' <<<"$out"
check "bad --folds-mode" expect_fail 2 2 "--folds-mode blocks: expected stratified or contiguous" cv "${S[@]}" --folds-mode blocks --out "$tmp/x"
finish
