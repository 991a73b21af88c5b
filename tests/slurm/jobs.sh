#!/bin/bash
# Submits every job script in jobs/ with tiny settings to a two-node SLURM
# cluster brought up here on this machine (cluster.sh), waits, and checks
# the outputs (one training job spans both nodes); then
# requeues a running training job and checks that it resumes from its
# checkpoint and completes. Args: SOURCE_DIR BUILD_DIR
. "$(dirname "$0")/../cli/lib.sh"
SRC=$(cd "${1:?usage: jobs.sh SOURCE_DIR BUILD_DIR}" && pwd); BUILD=$(cd "${2:?}" && pwd)
for tool in sbatch slurmctld slurmd munged; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "missing $tool: run jobs/setup-debian.sh"; exit 1; }
done
tmp=$(mktemp -d /tmp/shardml-slurm.XXXXXX)
D=$tmp/cluster
cleanup() { scancel --quiet -u root 2>/dev/null; sleep 1; bash "$SRC/tests/slurm/cluster.sh" down "$D"; rm -rf "$tmp"; }
trap cleanup EXIT
bash "$SRC/tests/slurm/cluster.sh" up "$D" || exit 1
export SLURM_CONF=$D/slurm.conf
cd "$SRC"
export SHARDML=$BUILD/shardml RUNS=$tmp/runs
unset SLURM_JOB_ID SLURM_JOBID OMP_NUM_THREADS
common=(--chdir="$SRC" --time=10 --nodes=1 --export=ALL)

submit() { sbatch --parsable "${common[@]}" "$@"; }
state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
wait_jobs() { # wait_jobs SECONDS JOBID...: until none is pending, running or requeued
  local limit=$1; shift; local t=0 j busy
  while [ $t -lt $((limit * 10)) ]; do
    busy=0
    for j in "$@"; do case "$(squeue -h -j "$j" -o %T 2>/dev/null | head -1)" in PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUED|SUSPENDED) busy=1;; esac; done
    [ $busy -eq 0 ] && return 0
    sleep 0.2; t=$((t + 2))
  done
  return 1
}
completed() { test "$(state "$1")" = COMPLETED || { echo "  job $1: $(state "$1")"; cat "$tmp"/*"$1"*.out 2>/dev/null | tail -15; return 1; }; }

# The scripts as users take them: train from the installed copy (it finds
# its helpers and the installed binary by itself), copied to a fresh project
# folder and submitted from there; search as a copy of the source script
# that SHARDML_JOBS points at the helpers; cv straight from the install.
PREFIX=$tmp/prefix
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null || { echo "cmake --install failed"; exit 1; }
mkdir -p "$tmp/proj-train" "$tmp/proj-search" "$tmp/proj-cv" "$tmp/proj-none"
cp "$PREFIX/share/shardml/jobs/train.sbatch" "$tmp/proj-train/"
cp jobs/search.sbatch "$tmp/proj-search/"
train=$(cd "$tmp/proj-train" && SHARDML= EPOCHS=2 NET=conv4x3,relu,pool2,fc10 AUGMENT=flip BATCH=128 CKPT_EVERY=10 EXTRA="--subset 3000" submit --chdir="$tmp/proj-train" --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 --output="$tmp/train-%j.out" train.sbatch)
search=$(cd "$tmp/proj-search" && SHARDML_JOBS=$SRC/jobs MODEL=softmax LR=0.01,0.1 REG=0 FOLDS=2 EPOCHS=1 NGROUPS=2 EXTRA="--subset 2000" submit --chdir="$tmp/proj-search" --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 --output="$tmp/search-%j.out" search.sbatch)
cv=$(cd "$tmp/proj-cv" && SHARDML= K=1,3 METRIC=l2 FOLDS=2 EXTRA="--subset 1000" submit --chdir="$tmp/proj-cv" --ntasks=2 --cpus-per-task=1 --output="$tmp/cv-%j.out" "$PREFIX/share/shardml/jobs/cv-knn.sbatch")
# Without its helpers a script stops at once with one line and creates nothing.
cp jobs/train.sbatch "$tmp/proj-none/"
none=$(cd "$tmp/proj-none" && SHARDML_JOBS= submit --chdir="$tmp/proj-none" --ntasks=1 --cpus-per-task=1 --output="$tmp/none-%j.out" train.sbatch)
arr=$(NAME=arr MODEL=softmax LR=0.01,0.1 REG=0 FOLDS=2 EPOCHS=1 EXTRA="--subset 2000" submit --array=0-1 --ntasks=1 --cpus-per-task=1 --output="$tmp/arr-%A_%a.out" jobs/search-array.sbatch)
merge=$(NAME=arr MODEL=softmax LR=0.01,0.1 REG=0 FOLDS=2 EPOCHS=1 EXTRA="--subset 2000" submit --dependency=afterok:$arr --ntasks=1 --cpus-per-task=1 --output="$tmp/merge-%j.out" jobs/search-array.sbatch merge)
# CPU binding as common.sh asks for it (srun --cpu-bind=cores under
# TaskPlugin=task/affinity): shardml info reports each rank on its own core.
bind=$(submit --ntasks=2 --cpus-per-task=1 --output="$tmp/bind-%j.out" \
  --wrap "srun --cpu-bind=cores $SHARDML info --json --subset 1000")
# Two nodes (two slurmd on this machine, tests/slurm/cluster.sh): a training
# job with one rank on each, launched by srun over both as on a cluster.
two=$(sbatch --parsable --chdir="$SRC" --time=10 --export=ALL --nodes=2 --ntasks-per-node=1 --cpus-per-task=1 \
  --output="$tmp/two-%j.out" --export=ALL,EPOCHS=1,MODEL=softmax,BATCH=128,EXTRA="--subset 2000" jobs/train.sbatch)
echo "submitted train $train, search $search, cv-knn $cv, array $arr, merge $merge, no-helpers $none, two nodes $two"
check "all jobs finished within 240 s" wait_jobs 240 "$train" "$search" "$cv" "$arr" "$merge" "$none" "$bind" "$two"
check "the two-node training job completed" completed "$two"
nodes=$(scontrol show job "$two" | sed -n 's/^ *NodeList=\([^ ]*\).*/\1/p')
check "... on both nodes ($nodes)" test "$(scontrol show hostnames "$nodes" | sort | tr '\n' ' ')" = "$(hostname -s) $(hostname -s)-2 "
check "... with its 2 ranks, and wrote its model" bash -c "grep -q '2 ranks x 1 threads' '$tmp/two-$two.out' && test -s '$RUNS/train-$two/model.h5'"
check "a script without common.sh failed" test "$(state "$none")" = FAILED
check "... saying so in one line" test "$(cat "$tmp/none-$none.out")" = "shardml job: common.sh not found in \$SHARDML_JOBS, $tmp/proj-none/jobs or an installed shardml; set SHARDML_JOBS to shardml's jobs folder (share/shardml/jobs of an install)"
check "... and created nothing" test "$(ls -A "$tmp/proj-none")" = train.sbatch
check "... nor outside its folder" test ! -e /train-"$none" -a ! -e "$RUNS/train-$none"
check "the installed train.sbatch ran the installed shardml" grep -q "binary $PREFIX/bin/shardml" "$tmp/train-$train.out"
check "the installed cv-knn.sbatch too" grep -q "binary $PREFIX/bin/shardml" "$tmp/cv-$cv.out"
check "srun --cpu-bind=cores: each rank bound to one core of its own" python3 -c '
import json, sys
t = open(sys.argv[1]).read()  # the JSON of rank 0, among any notices in the job output
d = json.loads(t[t.index("{"):t.rindex("}") + 1])
cpus = [r["cpus"] for r in d["ranks"]]
sys.exit(0 if len(cpus) == 2 and all(r["ncpus"] == 1 for r in d["ranks"]) and cpus[0] != cpus[1] else 1)' "$tmp/bind-$bind.out"
check "train.sbatch completed" completed "$train"
check "train wrote its model" test -s "$RUNS/train-$train/model.h5"
check "train checkpointed" test -s "$RUNS/train-$train/checkpoints/latest"
check "train ran 2 ranks x 1 thread" grep -q "2 ranks x 1 threads" "$tmp/train-$train.out"
check "... a network (NET)" grep -q "network conv4x3,relu,pool2,fc10: conv+relu" "$tmp/train-$train.out"
check "... with augmentation (AUGMENT)" grep -q ", augmentation flip;" "$tmp/train-$train.out"
check "search.sbatch completed" completed "$search"
check "search results" test -s "$RUNS/search-$search/cv_results.csv"
check "cv-knn.sbatch completed" completed "$cv"
check "cv results" grep -q '^param_k,param_metric' "$RUNS/cv-knn-$cv/cv_results.csv"
check "array tasks completed" completed "${arr}_0"
check "merge job completed" completed "$merge"
check "array slices filled the journal" test "$(grep -c '^done' "$RUNS/search-array-arr/journal.txt")" -eq 4
check "merge found every task done (once, in array task 0)" test "$(cat "$tmp"/merge-*.out | grep -c "the journal holds 4 of 4 tasks")" -eq 1
check "merged results" test -s "$RUNS/search-array-arr/cv_results.csv"

# Requeue: interrupt a running training job; it must resume and complete.
rq=$(EPOCHS=3 MODEL=mlp HIDDEN=64 BATCH=64 CKPT_EVERY=40 EXTRA="--subset 12000" submit --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 --output="$tmp/rq-%j.out" jobs/train.sbatch)
for _ in $(seq 600); do [ -s "$RUNS/train-$rq/checkpoints/latest" ] && break; sleep 0.1; done
check "requeue job checkpointed before the interruption" test -s "$RUNS/train-$rq/checkpoints/latest"
check "scontrol requeue" scontrol requeue "$rq"
check "requeued job finished within 240 s" wait_jobs 240 "$rq"
check "requeued job completed" completed "$rq"
check "it was restarted" grep -q "restart 1" "$tmp/rq-$rq.out"
check "it resumed from its checkpoint" grep -q "resuming from .*/checkpoints/ckpt-" "$tmp/rq-$rq.out"
check "and wrote its model" test -s "$RUNS/train-$rq/model.h5"
# Preempt a running search (USR1 to the batch shell, as --signal=B:USR1
# does): the ranks stop at a step, exit 3, the script requeues the job, and
# the requeued job finishes the tasks its journal lacks, each once, to the
# results of an uninterrupted search.
sq=$(MODEL=mlp HIDDEN=32 LR=0.005,0.01,0.02,0.05,0.1 REG=0,1e-4,1e-3 FOLDS=3 EPOCHS=3 NGROUPS=2 EXTRA="--subset 4000 --seed 4" submit --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 \
  --output="$tmp/sq-%j.out" jobs/search.sbatch)
for _ in $(seq 600); do n=$(grep -c '^done' "$RUNS/search-$sq/journal.txt" 2>/dev/null); [ "${n:-0}" -ge 2 ] && break; sleep 0.1; done
check "search job preempted part-way (${n:-0} of 45 tasks journaled)" test "${n:-0}" -ge 2 -a "${n:-0}" -lt 45
check "USR1 to the search job's batch shell" scancel --batch --signal=USR1 "$sq"
check "requeued search finished within 240 s" wait_jobs 240 "$sq"
check "requeued search completed" completed "$sq"
check "it stopped with status 3 and requeued itself" grep -q "requeueing job $sq" "$tmp/sq-$sq.out"
check "the requeued run skipped the journaled tasks" grep -q "search: the journal holds [0-9]* of 45 tasks" "$tmp/sq-$sq.out"
check "every task journaled once" test "$(grep -c '^done' "$RUNS/search-$sq/journal.txt")" -eq 45 -a \
  "$(grep '^done' "$RUNS/search-$sq/journal.txt" | sort | uniq -d | wc -l)" -eq 0
OMP_NUM_THREADS=1 timeout 300 mpiexec -n 2 --bind-to none "$SHARDML" search --model mlp --hidden 32 \
  --lr 0.005,0.01,0.02,0.05,0.1 --reg 0,1e-4,1e-3 --folds 3 --epochs 3 --groups 2 --subset 4000 --seed 4 \
  --out "$tmp/sqref" >/dev/null 2>&1
check "requeued search = uninterrupted search" diff <(cut -d, -f1-7 "$tmp/sqref/cv_results.csv") \
  <(cut -d, -f1-7 "$RUNS/search-$sq/cv_results.csv")
[ "$failed" -eq 0 ] || { echo "--- logs"; tail -n 30 "$tmp"/*.out; tail -n 20 "$D/log/slurmctld.log"; }
finish
