#!/usr/bin/python3
"""Peers for the kNN benchmark, on the same machine in the same run:
scikit-learn's brute-force KNeighborsClassifier and a plain numpy GEMM
search, full Fashion-MNIST L2 (10k x 60k), pixels / 255; and
GridSearchCV(n_jobs) for 5-fold CV on a subset.
Usage: knn_peers.py full THREADS | cv N THREADS | ties SHARDML_PREDICTIONS.csv"""
import gzip, sys, time
import numpy as np

D = "/usr/share/datasets/fashion-mnist/"
def idx(name, off):
    with gzip.open(D + name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=off)
xtr = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
ytr = idx("train-labels-idx1-ubyte.gz", 8)
xte = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype(np.float32) / 255
yte = idx("t10k-labels-idx1-ubyte.gz", 8)

from sklearn.neighbors import KNeighborsClassifier
from sklearn.model_selection import GridSearchCV, KFold

if sys.argv[1] == "ties":
    pass
elif sys.argv[1] == "full":
    jobs = int(sys.argv[2])
    for k in (1, 3, 5, 10):
        t = time.time()
        acc = KNeighborsClassifier(n_neighbors=k, algorithm="brute", n_jobs=jobs).fit(xtr, ytr).score(xte, yte)
        print("sklearn k=%d accuracy %.4f time %.2fs" % (k, acc, time.time() - t))
    t = time.time()
    tn = (xtr ** 2).sum(1)
    nearest = np.empty((len(xte), 10), np.int64)
    for q in range(0, len(xte), 2048):
        d = tn[None, :] - 2 * xte[q:q + 2048] @ xtr.T
        part = np.argpartition(d, 10, axis=1)[:, :10]
        order = np.take_along_axis(d, part, 1).argsort(1)
        nearest[q:q + 2048] = np.take_along_axis(part, order, 1)
    acc1 = (ytr[nearest[:, 0]] == yte).mean()
    print("numpy top-10 search time %.2fs (1-NN accuracy %.4f)" % (time.time() - t, acc1))
elif sys.argv[1] == "cv":
    n, jobs = int(sys.argv[2]), int(sys.argv[3])
    grid = {"n_neighbors": [1, 3, 5, 8, 10, 12, 15, 20, 50, 100], "p": [1, 2]}
    t = time.time()
    gs = GridSearchCV(KNeighborsClassifier(algorithm="brute"), grid, cv=KFold(5), n_jobs=jobs).fit(xtr[:n], ytr[:n])
    print("sklearn GridSearchCV %d images: %.2fs, best %s %.4f" % (n, time.time() - t, gs.best_params_, gs.best_score_))

if sys.argv[1] == "ties":
    # Where shardml and scikit-learn disagree, is the vote tied? Our
    # predictions come from `shardml knn --out FILE` (argv[2]).
    ours = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1, dtype=np.int64)
    ks = (1, 3, 5, 10)
    nn = KNeighborsClassifier(n_neighbors=10, algorithm="brute", n_jobs=2).fit(xtr, ytr)
    idx10 = nn.kneighbors(xte, return_distance=False)
    for col, k in enumerate(ks):
        sk = np.array([np.bincount(ytr[row[:k]], minlength=10).argmax() for row in idx10])
        diff = np.nonzero(sk != ours[:, 2 + col])[0]
        tied = sum(1 for q in diff if (np.bincount(ytr[idx10[q, :k]], minlength=10) == np.bincount(ytr[idx10[q, :k]], minlength=10).max()).sum() > 1)
        print("k=%d: %d of 10000 predictions differ from scikit-learn; %d of them are tied votes" % (k, len(diff), tied))
