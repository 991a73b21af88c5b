#!/bin/bash
# What a buffer's pages cost the per-step allreduce (not a test): the
# 784-256-10 MLP's gradient as float and int64 on 2 ranks, from 4 KiB pages
# and from SML_ALLOC_COMM's 2 MiB huge pages, interleaved (see
# allreduce_pages.c), twice. MPIRUN picks the launcher for a build against
# another MPI (e.g. MPIRUN=mpirun.mpich tests/bench/allreduce.sh build-mpich).
# Usage: tests/bench/allreduce.sh [BUILD_DIR]
set -u
. "$(dirname "$0")/lib.sh"
MPIRUN=${MPIRUN:-mpirun}
case "$MPIRUN" in *mpich*) bind=() ;; *) bind=(--bind-to none) ;; esac
for run in 1 2; do
  "$MPIRUN" -n 2 "${bind[@]}" "$B/tests/bench/sml_bench_allreduce" || exit 1
done
