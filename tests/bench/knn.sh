#!/bin/bash
# kNN benchmark (not a test): shardml against scikit-learn and numpy, same
# machine, same run. Usage: tests/bench/knn.sh [BUILD_DIR]
# Needs python3-sklearn (jobs/setup-bench.sh). shardml and the Python peers
# run the same OpenBLAS kernels (lib.sh).
set -u
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT # fresh outputs: a cv journal left over would be resumed
echo "== sgemm rate (OpenBLAS, core $CORE)"
OMP_NUM_THREADS=1 "$B/tests/bench/sml_bench_sgemm" 1024
OMP_NUM_THREADS=2 "$B/tests/bench/sml_bench_sgemm" 1024
echo "== shardml knn, full Fashion-MNIST L2, 1 rank x 2 threads"
/usr/bin/time -f "peak RSS %M kB, wall %e s" env OMP_NUM_THREADS=2 mpirun -n 1 --bind-to none "$B/shardml" knn --k 1,3,5,10 2>&1 | grep -v -i prescott
echo "== shardml knn, full Fashion-MNIST L1, 1 rank x 2 threads"
/usr/bin/time -f "wall %e s" env OMP_NUM_THREADS=2 mpirun -n 1 --bind-to none "$B/shardml" knn --metric l1 --k 1,3,5,10 2>&1 | grep -E "knn|wall"
echo "== shardml knn, 2 ranks x 1 thread"
OMP_NUM_THREADS=1 mpirun -n 2 --bind-to none "$B/shardml" knn --k 1,3,5,10 --out "$tmp/knn.csv" 2>&1 | grep knn
echo "== agreement with scikit-learn's predictions"
/usr/bin/python3 "$(dirname "$0")/knn_peers.py" ties "$tmp/knn.csv"
echo "== scikit-learn and numpy, 2 threads"
OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 "$(dirname "$0")/knn_peers.py" full 2
echo "== 5-fold CV, 10 k x 2 metrics, 10000 images: shardml on 2 ranks"
/usr/bin/time -f "wall %e s" env OMP_NUM_THREADS=1 mpirun -n 2 --bind-to none "$B/shardml" cv --subset 10000 --out "$tmp/cv" 2>&1 | grep -E "cv:.*best|test accuracy|wall"
echo "== scikit-learn GridSearchCV(n_jobs=2)"
OMP_NUM_THREADS=1 /usr/bin/python3 "$(dirname "$0")/knn_peers.py" cv 10000 2
