#!/bin/bash
# Hyperparameter search: results independent of the rank and group layout,
# a killed search restarted with the same command skips finished tasks and
# ends with the same results, random search, job-array slices, bad options.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'pkill -9 -f "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
S=(search --model softmax --lr 0.01,0.1 --reg 0,1e-3 --folds 3 --epochs 2 --subset 2000 --seed 4)
scores() { cut -d, -f1-7 "$1/cv_results.csv"; } # params, splits, mean, std

for layout in "1 1" "2 2" "4 4" "2 1" "4 2"; do
  set -- $layout
  check "search on $1 ranks, $2 groups" run_np "$1" "${S[@]}" --groups "$2" --out "$tmp/p$1g$2" >"$tmp/p$1g$2.out" 2>"$tmp/p$1g$2.err"
done
# One rank per group: the same arithmetic, so identical results.
for d in p2g2 p4g4; do check "$d: identical to 1 rank" diff <(scores "$tmp/p1g1") <(scores "$tmp/$d"); done
# Groups of 2 ranks sum gradients in another order: equal to float rounding.
for d in p2g1 p4g2; do
  check "$d: within 0.01 of 1 rank" awk -F, 'NR == FNR { if (FNR > 1) m[FNR] = $6; next } FNR > 1 { d = $6 - m[FNR]; if (d < 0) d = -d; if (d > 0.01) bad = 1 } END { exit bad }' \
    "$tmp/p1g1/cv_results.csv" "$tmp/$d/cv_results.csv"
done
check "scikit-learn columns" grep -q '^param_lr,param_reg,split0_test_score,split1_test_score,split2_test_score,mean_test_score,std_test_score,rank_test_score,mean_fit_time' "$tmp/p1g1/cv_results.csv"
check "4 configurations" test "$(wc -l <"$tmp/p1g1/cv_results.csv")" -eq 5
check "json best and test score" grep -q '"test_score": 0\.' "$tmp/p1g1/cv_results.json"
check "heat map for lr x reg" grep -q 'mean validation accuracy' "$tmp/p1g1/search_plot.svg"
check "best model retrained" test -s "$tmp/p1g1/best/model.h5"
check "load balance reported" grep -q 'search: group 1 ran [0-9]* tasks, busy' "$tmp/p4g2.err"

# Kill a search half-way, rerun the same command: it skips finished tasks.
# (4 epochs a task: with 2 a busy machine once finished all 18 before the kill.)
K=(search --model mlp --hidden 32 --lr 0.01,0.05,0.1 --reg 0,1e-4 --folds 3 --epochs 4 --subset 3000 --seed 4)
run_np 2 "${K[@]}" --out "$tmp/ref" >"$tmp/ref.out" 2>/dev/null
run_np 2 "${K[@]}" --out "$tmp/k" >/dev/null 2>&1 &
pid=$!
# Wait (up to 60 s: the machine may be busy with other tests) for 3 finished tasks.
for i in $(seq 1200); do [ "$(grep -c '^done' "$tmp/k/journal.txt" 2>/dev/null)" -ge 3 ] && break; sleep 0.05; done
pkill -9 -f -- "--out $tmp/k"; wait $pid 2>/dev/null
done_before=$(grep -c '^done' "$tmp/k/journal.txt")
echo "killed with $done_before of 18 tasks in the journal"
check "killed part-way" test "$done_before" -ge 3 -a "$done_before" -lt 18
run_np 2 "${K[@]}" --out "$tmp/k" >"$tmp/k.out" 2>"$tmp/k.err"
check "restart skipped the finished tasks" grep -q "the journal holds $done_before of 18 tasks" "$tmp/k.err"
check "same results as the uninterrupted search" diff <(scores "$tmp/ref") <(scores "$tmp/k")
check "same test accuracy" diff <(grep '^test accuracy' "$tmp/ref.out") <(grep '^test accuracy' "$tmp/k.out")

# Job-array slices through the journal, then the merge.
check "slice 0/2" run_np 1 "${S[@]}" --slice 0/2 --out "$tmp/sl" >/dev/null 2>&1
check "slice 1/2" run_np 1 "${S[@]}" --slice 1/2 --out "$tmp/sl" >/dev/null 2>&1
check "merge" run_np 1 "${S[@]}" --out "$tmp/sl" >/dev/null 2>"$tmp/sl.err"
check "merge ran no task" grep -q "the journal holds 12 of 12 tasks" "$tmp/sl.err"
check "slices + merge = one run" diff <(scores "$tmp/p1g1") <(scores "$tmp/sl")

# Random search: N log-uniform draws inside the ranges.
check "random search" run_np 2 search --model softmax --random 5 --lr 1e-3:1e-1 --reg 1e-5:1e-2 --folds 1 --epochs 1 --subset 2000 --out "$tmp/r" >/dev/null 2>&1
check "5 random configurations in range" awk -F, 'NR > 1 { n++; if ($1 < 1e-3 || $1 > 1e-1 || $2 < 1e-5 || $2 > 1e-2) bad = 1 } END { exit bad || n != 5 }' "$tmp/r/cv_results.csv"
check "--folds 1: one split column" grep -q '^param_lr,param_reg,split0_test_score,mean_test_score' "$tmp/r/cv_results.csv"

# Architectures as a hyperparameter: two networks, each scored, the best retrained.
N1=conv4x3,relu,pool2,fc10 N2=conv8x3,relu,pool4,fc10
check "search over two networks" run_np 2 search --net "$N1;$N2" --lr 0.02,0.05 --reg 0 --folds 2 --epochs 1 \
  --subset 1500 --out "$tmp/n" >"$tmp/n.out" 2>"$tmp/n.err"
check "cv_results.csv: a param_net column, every network with every rate (quoted: the layers hold commas)" \
  /usr/bin/python3 -c 'import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1])))
n = collections.Counter(r["param_net"] for r in rows)
sys.exit(not (len(rows) == 4 and n[sys.argv[2]] == 2 and n[sys.argv[3]] == 2))' "$tmp/n/cv_results.csv" "$N1" "$N2"
best=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["best_params"]["net"])' "$tmp/n/cv_results.json")
check "the best network ($best) is the one retrained" bash -c "h5dump -a net '$tmp/n/best/model.h5' | grep -q '\"$best\"'"

check "groups > ranks"     expect_fail 2 2 "--groups 3: must be between 1 and the number of ranks (2)" "${S[@]}" --groups 3 --out "$tmp/x"
check "range needs random" expect_fail 2 2 "--lr/--reg LO:HI ranges need --random N" search --lr 1e-3:1e-1 --out "$tmp/x"
check "unknown model"      expect_fail 2 2 "--model knn: unknown model" search --model knn --out "$tmp/x"
check "a cnn without --net" expect_fail 2 2 "--net: a cnn is given by its layers" search --model cnn --out "$tmp/x"
check "a stray comma in --lr" expect_fail 2 2 "--lr 0.1,: an empty value (a stray comma)" search --lr 0.1, --out "$tmp/x"
check "an empty value inside --reg" expect_fail 2 2 "--reg 0,,1e-4: an empty value (a stray comma)" search --reg 0,,1e-4 --out "$tmp/x"
check "a stray comma in --hidden" expect_fail 2 2 "--hidden 32,,64: an empty value (a stray comma)" search --hidden 32,,64 --out "$tmp/x"
check "an empty --net alternative" expect_fail 2 2 "an empty alternative (networks are separated by ';')" \
  search --net 'fc10;;fc10' --out "$tmp/x"
check "a bad network among the alternatives" expect_fail 2 2 "--net conv4x3,bogus,fc10: element 2 'bogus' is not a layer" \
  search --net 'conv4x3,relu,fc10;conv4x3,bogus,fc10' --subset 500 --folds 2 --epochs 1 --out "$tmp/x"
check "negative lr"        expect_fail 2 2 "--lr -1: learning rates must be positive" search --model softmax --lr -1 --out "$tmp/x"
check "bad slice"          expect_fail 2 2 "--slice 2/2: expected I/N" "${S[@]}" --slice 2/2 --out "$tmp/x"
check "journal of another search" expect_fail 2 2 "a journal of another search" search --model softmax --lr 0.5 --reg 0 --folds 3 --epochs 2 --subset 2000 --out "$tmp/p1g1"
finish
