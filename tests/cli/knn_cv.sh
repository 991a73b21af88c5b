#!/bin/bash
# kNN and cross-validation end to end: CV results identical for P = 1, 2, 4
# and several group counts; bad options give exit 2 naming the option; the
# full Fashion-MNIST 1-NN accuracy matches scikit-learn's brute force.
. "$(dirname "$0")/lib.sh"
F=$FIXTURES
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
CV=(cv --subset 600 --k 1,3,4,7 --metric l1,l2 --folds 4)

scores() { cut -d, -f1-9 "$1/cv_results.csv"; } # params, splits, mean, std (not times)
for layout in "1 1" "2 1" "2 2" "4 1" "4 3" "4 4"; do
  set -- $layout
  # The last run lists k out of order and twice: the same grid, sorted.
  check "cv on $1 ranks, $2 groups" run_np "$1" "${CV[@]}" $([ "$2" = 4 ] && echo --k 7,3,1,4,3) --groups "$2" \
    --out "$tmp/p$1g$2" >"$tmp/p$1g$2.out" 2>/dev/null
done
for d in p2g1 p2g2 p4g1 p4g3 p4g4; do
  check "$d: cv_results identical to 1 rank" diff <(scores "$tmp/p1g1") <(scores "$tmp/$d")
  check "$d: same test accuracy" diff <(grep '^test accuracy' "$tmp/p1g1.out") <(grep '^test accuracy' "$tmp/$d.out")
done
check "csv has scikit-learn columns" grep -q '^param_k,param_metric,split0_test_score,split1_test_score,split2_test_score,split3_test_score,mean_test_score,std_test_score,rank_test_score,mean_fit_time' "$tmp/p1g1/cv_results.csv"
check "csv has 8 configurations" test "$(wc -l <"$tmp/p1g1/cv_results.csv")" -eq 9
check "json has best params and test score" grep -q '"best_params": {"k": [0-9]*, "metric": "l[12]"}' "$tmp/p1g1/cv_results.json"
check "json test score" grep -q '"test_score": 0\.[0-9]*' "$tmp/p1g1/cv_results.json"
check "plot written" grep -q '</svg>' "$tmp/p1g1/cv_plot.svg"
check "no temporary files" test -z "$(ls "$tmp"/p*g* | grep '\.tmp\.')"
# The mean and std columns agree with the split columns (population std).
check "mean/std consistent" awk -F, 'NR > 1 { m = ($3+$4+$5+$6)/4; v = (($3-m)^2+($4-m)^2+($5-m)^2+($6-m)^2)/4;
  if ((m - $7)^2 > 1e-11 || (sqrt(v) - $8)^2 > 1e-11) bad = 1 } END { exit bad }' "$tmp/p1g1/cv_results.csv"

D=(--data "$F/idx_raw")
check "knn k=0"            expect_fail 2 2 "--k 0: 0 must be at least 1" knn "${D[@]}" --k 0
check "knn k > train"      expect_fail 2 2 "--k 38: larger than the training set (37 images)" knn "${D[@]}" --k 1,38
check "knn --k with a stray comma" expect_fail 2 2 "--k 1,3,: an empty value (a stray comma)" knn "${D[@]}" --k 1,3,
check "knn --k with an empty value inside" expect_fail 2 2 "--k 1,,3: an empty value (a stray comma)" knn "${D[@]}" --k 1,,3
long_k=$(printf '1%.0s' {1..2100})
check "knn --k longer than a list may be" expect_fail 2 2 "--k: a list of more than 2047 characters" knn "${D[@]}" --k "$long_k"
check "knn --k with 65 values" expect_fail 2 2 "at most 64 values" knn "${D[@]}" --k "$(seq -s, 65)"
check "cv --metric with a stray comma" expect_fail 2 2 "--metric l1,: an empty value (a stray comma)" cv "${D[@]}" --metric l1, --out "$tmp/x"
check "knn unknown metric" expect_fail 2 2 "--metric cosine: unknown metric" knn "${D[@]}" --metric cosine
check "cv folds 1"         expect_fail 2 2 "--folds 1: needs at least 2" cv "${D[@]}" --folds 1 --out "$tmp/x"
check "cv folds > train"   expect_fail 2 2 "--folds 38: more folds than training images (37)" cv "${D[@]}" --folds 38 --k 1 --out "$tmp/x"
check "cv k > fold train"  expect_fail 2 2 "--k 30: larger than the training size of a fold (29 images)" cv "${D[@]}" --k 30 --out "$tmp/x"
check "cv groups > ranks"  expect_fail 2 2 "--groups 3: must be between 1 and the number of ranks (2)" cv "${D[@]}" --groups 3 --out "$tmp/x"
check "cv unknown metric"  expect_fail 2 2 "--metric l3: unknown metric" cv "${D[@]}" --metric l2,l3 --out "$tmp/x"

# Full Fashion-MNIST, L2: scikit-learn's brute-force 1-NN gives 0.8497 (no ties at k = 1).
out=$(OMP_NUM_THREADS=1 run_np 2 knn --k 1,3,5,10 --neighbors-image "$tmp/nb.png" --out "$tmp/pred.csv" 2>/dev/null)
echo "$out"
check "1-NN accuracy 0.8497" grep -q '^k=1 metric=l2 accuracy 0.8497$' <<<"$out"
check "neighbours image written" test -s "$tmp/nb.png"
check "predictions file: 10000 rows whose k=1 accuracy is 0.8497" awk -F, 'NR > 1 { n++; c += ($2 == $3) } END { exit !(n == 10000 && c == 8497) }' "$tmp/pred.csv"
finish
