#!/bin/bash
# --train-scores (scikit-learn's return_train_score) for cv and search:
# - kNN: every split's train and test score equal a slow numpy reference
#   (exact integer distances, neighbours ordered by distance then index,
#   votes tied by the smaller summed distance then the smaller label; each
#   training image is its own neighbour, as when scikit-learn scores a fitted
#   classifier on its training set), on 600 Fashion-MNIST images, 4
#   contiguous folds (scikit-learn's KFold), 2 ranks in 2 groups.
# - search: an MLP that memorises its 18 training images scores 1 on them
#   and far less on the held-out fold; the columns follow scikit-learn's
#   names; a journal restores train scores; a journal without them is
#   refused by a search that wants them, with one line.
. "$(dirname "$0")/lib.sh"
FASHION=${1:?usage: train_scores.sh FASHION_DIR}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
PY=/usr/bin/python3

run_np 2 cv --subset 600 --k 1,3,7 --metric l1,l2 --folds 4 --folds-mode contiguous --groups 2 --train-scores \
  --out "$tmp/knn" >/dev/null 2>&1
check "cv --train-scores writes cv_results.csv" test -s "$tmp/knn/cv_results.csv"
check "kNN train and test scores equal the numpy reference" "$PY" - "$FASHION" "$tmp/knn" <<'PYEOF'
import csv, gzip, json, sys
import numpy as np
fashion, out = sys.argv[1:3]
def idx(name):
    data = gzip.open(f"{fashion}/{name}", "rb").read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)
n, F = 600, 4
X = idx("train-images-idx3-ubyte.gz")[:n].reshape(n, -1).astype(np.int64)
y = idx("train-labels-idx1-ubyte.gz")[:n].astype(np.int64)
sizes = [n // F + (f < n % F) for f in range(F)]                  # KFold: larger blocks first
fold = np.repeat(np.arange(F), sizes)
# every pairwise distance, exact in int64, one image at a time
dist = {"l1": np.array([np.abs(X - X[i]).sum(1) for i in range(n)]),
        "l2": np.array([((X - X[i]) ** 2).sum(1) for i in range(n)])}
def predict(q, refs, k, metric):
    """shardml's documented rule, the slow way: one query at a time."""
    out = []
    for i in q:
        d = dist[metric][i, refs]
        order = np.lexsort((refs, d))[:k]                           # distance, then image index
        votes, dsum = np.zeros(10, int), np.zeros(10, np.int64)
        for j in order:
            votes[y[refs[j]]] += 1
            dsum[y[refs[j]]] += d[j]
        best = max(range(10), key=lambda c: (votes[c], -dsum[c], -c))
        out.append(best)
    return np.array(out)
rows = list(csv.DictReader(open(f"{out}/cv_results.csv")))
js = json.load(open(f"{out}/cv_results.json"))
bad = 0
for c, r in enumerate(rows):
    k, metric = int(r["param_k"]), r["param_metric"]
    for f in range(F):
        test, train = np.where(fold == f)[0], np.where(fold != f)[0]
        want_test = np.mean(predict(test, train, k, metric) == y[test])
        want_train = np.mean(predict(train, train, k, metric) == y[train])
        got_test, got_train = float(r[f"split{f}_test_score"]), float(r[f"split{f}_train_score"])
        if abs(got_test - want_test) > 1e-6 or abs(got_train - want_train) > 1e-6 or \
           abs(js[f"split{f}_train_score"][c] - want_train) > 1e-6:
            print(f"  k={k} {metric} fold {f}: test {got_test} vs {want_test}, train {got_train} vs {want_train}")
            bad += 1
    means = [float(r[f"split{f}_train_score"]) for f in range(F)]
    if abs(float(r["mean_train_score"]) - np.mean(means)) > 1e-6 or abs(float(r["std_train_score"]) - np.std(means)) > 1e-6:
        print(f"  k={k} {metric}: mean/std of the train scores"); bad += 1
    if k == 1 and float(r["mean_train_score"]) < 0.99:
        print(f"  k=1 {metric}: train score {r['mean_train_score']}, expected ~1 (each image its own neighbour)"); bad += 1
print(f"  {len(rows)} configurations x {F} folds checked")
sys.exit(1 if bad else 0)
PYEOF
head -1 "$tmp/knn/cv_results.csv" >"$tmp/header"
check "columns as scikit-learn names them, train after test" \
  grep -q "rank_test_score,split0_train_score,split1_train_score,split2_train_score,split3_train_score,mean_train_score,std_train_score,mean_fit_time" "$tmp/header"
run_np 2 cv --subset 600 --k 1,3 --folds 4 --out "$tmp/knn_plain" >/dev/null 2>&1
check "without --train-scores: no train columns" bash -c "! grep -q train_score '$tmp/knn_plain/cv_results.csv' '$tmp/knn_plain/cv_results.json'"

D=$FIXTURES/idx_raw
S=(search --data "$D" --model mlp --hidden 64 --lr 0.1 --reg 0 --epochs 60 --batch 8 --folds 2)
run_np 2 "${S[@]}" --train-scores --out "$tmp/s" >/dev/null 2>&1
check "search --train-scores writes cv_results.csv" test -s "$tmp/s/cv_results.csv"
check "a memorising MLP: train score 1 on both folds, test score below 0.5" "$PY" - "$tmp/s/cv_results.csv" <<'PYEOF'
import csv, sys
r = next(csv.DictReader(open(sys.argv[1])))
train = [float(r[f"split{f}_train_score"]) for f in range(2)]
test = [float(r[f"split{f}_test_score"]) for f in range(2)]
print(f"  train {train}, test {test}")
sys.exit(0 if train == [1.0, 1.0] and max(test) < 0.5 else 1)
PYEOF
run_np 2 "${S[@]}" --train-scores --keep-best --out "$tmp/sb" >/dev/null 2>&1
check "with --keep-best (the best epoch's model): train scores in [0, 1]" "$PY" -c "
import csv, sys
r = next(csv.DictReader(open('$tmp/sb/cv_results.csv')))
sys.exit(0 if all(0 <= float(r[f'split{f}_train_score']) <= 1 for f in range(2)) else 1)"
cp "$tmp/s/cv_results.csv" "$tmp/first.csv"
out=$(run_np 2 "${S[@]}" --train-scores --out "$tmp/s" 2>&1)
check "a rerun takes every task from the journal" grep -q "the journal holds 2 of 2 tasks" <<<"$out"
check "... and writes the same train scores" diff "$tmp/first.csv" "$tmp/s/cv_results.csv"
run_np 2 "${S[@]}" --out "$tmp/sp" >/dev/null 2>&1
check "a journal without train scores is refused by a search that wants them" \
  expect_fail 2 2 "journal.txt: a journal of another search" "${S[@]}" --train-scores --out "$tmp/sp"
finish
