#!/bin/bash
# search and cv are preemptible like train: SIGUSR1 or SIGTERM to one rank
# stops every group (the running training tasks at their next step, kNN
# tasks when they finish), exit status 3 with one line, the journal holds
# each finished task once and nothing half-done, and the same command
# finishes the rest to the results of an uninterrupted run.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'pkill -9 -f "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
scores() { cut -d, -f1-7 "$1/cv_results.csv"; }
journal_once() { # every task's "done" line at most once, and only after its results
  awk '/^done/ { if (seen[$2]++) exit 1 } END { exit 0 }' "$1/journal.txt"
}
rank_pid() { # the shardml process of the last rank of the command line matching $1
  pgrep -f -- "$1" | while read -r p; do [ "$(cat /proc/"$p"/comm 2>/dev/null)" = shardml ] && echo "$p"; done | tail -1
}
preempt() { # preempt SIG DIR NEEDED ARGS...: start ARGS, signal one rank after NEEDED journaled tasks
  local sig=$1 d=$2 need=$3 pid r i; shift 3
  run_np 2 "$@" --out "$d" >"$d.out" 2>"$d.err" &
  pid=$!
  local n
  for i in $(seq 1200); do n=$(grep -c '^done' "$d/journal.txt" 2>/dev/null); [ "${n:-0}" -ge "$need" ] && break; sleep 0.05; done
  r=$(rank_pid "--out $d")
  echo "sending SIG$sig to rank process $r"
  kill -"$sig" "$r"
  wait "$pid"
}

S=(search --model mlp --hidden 32 --lr 0.01,0.05,0.1 --reg 0,1e-4 --folds 3 --epochs 3 --subset 3000 --seed 4 --groups 2)
run_np 2 "${S[@]}" --out "$tmp/ref" >"$tmp/ref.out" 2>/dev/null
for sig in USR1 TERM; do
  d=$tmp/s$sig
  preempt "$sig" "$d" 2 "${S[@]}"; rc=$?
  check "search, SIG$sig to one rank: exit status 3 (got $rc)" test "$rc" -eq 3
  check "search, SIG$sig: one line saying how to go on" \
    bash -c "test \$(grep -c 'error: ' '$d.err') -eq 1 && grep -q 'error: stopped by a signal; [0-9]* of 18 tasks are finished and in the journal' '$d.err'"
  n=$(grep -c '^done' "$d/journal.txt")
  check "search, SIG$sig: stopped part-way ($n of 18 tasks journaled)" test "$n" -ge 2 -a "$n" -lt 18
  check "search, SIG$sig: journal consistent" journal_once "$d"
  check "search, SIG$sig: no results written yet" test ! -e "$d/cv_results.csv"
  check "search, SIG$sig: the same command finishes" run_np 2 "${S[@]}" --out "$d" >"$d.out2" 2>"$d.err2"
  check "search, SIG$sig: it ran only the rest" grep -q "the journal holds $n of 18 tasks" "$d.err2"
  check "search, SIG$sig: every task once" test "$(grep -c '^done' "$d/journal.txt")" -eq 18 -a "$(journal_once "$d"; echo $?)" -eq 0
  check "search, SIG$sig: results of the uninterrupted search" diff <(scores "$tmp/ref") <(scores "$d")
done

C=(cv --model knn --k 1,3,5 --folds 10 --subset 20000 --groups 2)
run_np 2 "${C[@]}" --out "$tmp/cref" >/dev/null 2>&1
d=$tmp/cv
preempt USR1 "$d" 1 "${C[@]}"; rc=$?
check "cv, SIGUSR1 to one rank: exit status 3 (got $rc)" test "$rc" -eq 3
check "cv: one line saying how to go on" grep -q "error: stopped by a signal; [0-9]* of 20 tasks are finished and in the journal" "$d.err"
check "cv: journal consistent" journal_once "$d"
check "cv: the same command finishes" run_np 2 "${C[@]}" --out "$d" >/dev/null 2>&1
check "cv: results of the uninterrupted run" diff <(scores "$tmp/cref") <(scores "$d")
# SIGTERM to the launcher script (not to a rank): it becomes SIGUSR1 to
# each rank; the ranks checkpoint and the script exits 3. (Forwarded through
# MPICH 4.0's Hydra, the 3 became 0 in half the runs or more.)
LAUNCH=$(cd "$(dirname "$0")/../.." && pwd)/jobs/mpirun-local.sh
bash "$LAUNCH" 2 train --model mlp --hidden 64 --epochs 3 --subset 12000 --batch 64 --out "$tmp/l" \
  --checkpoint-dir "$tmp/l/ck" --checkpoint-every 40 >/dev/null 2>"$tmp/l.err" &
pid=$!
wait_for_step "$tmp/l/ck" 40
kill -TERM "$pid"
wait "$pid"; rc=$?
check "SIGTERM to jobs/mpirun-local.sh: exit status 3 (got $rc)" test "$rc" -eq 3
check "the ranks wrote their checkpoint and said so" grep -q "error: stopped by a signal after step [0-9]*; checkpoint written to $tmp/l/ck" "$tmp/l.err"
# A stand-in launcher that has no rank yet (so the script signals the
# launcher, at once with SHARDML_STOP_WAIT=0) and ends the moment SIGUSR1
# arrives: the script lost that race about half the time (exit 143
# instead of 3), so ten runs must all say 3.
cat >"$tmp/launcher" <<'EOF'
#!/bin/bash
[ "$1" = --version ] && { echo "HYDRA build details: a stand-in"; exit 0; }
sleep 30 & trap 'kill $!; exit 3' USR1
touch "$READY"
wait
EOF
chmod +x "$tmp/launcher"
wrong=0
for i in 1 2 3 4 5 6 7 8 9 10; do
  rm -f "$tmp/ready"
  READY=$tmp/ready MPIEXEC=$tmp/launcher SHARDML=/bin/true SHARDML_STOP_WAIT=0 bash "$LAUNCH" 1 info >/dev/null 2>&1 &
  pid=$!
  for t in $(seq 200); do [ -e "$tmp/ready" ] && break; sleep 0.05; done
  sleep 0.1
  kill -TERM "$pid"
  wait "$pid"; rc=$?
  [ "$rc" -eq 3 ] || wrong=$((wrong + 1))
done
check "SIGTERM to the script, the launcher ending at once: exit status 3 in 10 of 10 runs ($wrong wrong)" test "$wrong" -eq 0
finish
