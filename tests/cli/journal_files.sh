#!/bin/bash
# The files a run leaves behind when things go wrong: a journal whose last
# line a kill cut, a second search on the same directory, temporary files
# of writers killed mid-write, a FIFO given as data, an output directory
# that cannot be made.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'pkill -9 -f "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
S=(search --model softmax --lr 0.01,0.02,0.05,0.1 --reg 0,1e-3 --folds 2 --epochs 2 --subset 2000 --seed 4)
scores() { cut -d, -f1-7 "$1/cv_results.csv"; }
run_np 1 "${S[@]}" --out "$tmp/ref" >/dev/null 2>&1

# 1. A torn last line: cut before the next append, so no line is glued.
run_np 1 "${S[@]}" --out "$tmp/t" >/dev/null 2>&1
grep -v '^done task=7$' "$tmp/t/journal.txt" | head -c -3 >"$tmp/t/j" && mv "$tmp/t/j" "$tmp/t/journal.txt"
check "the journal now ends mid-line" test "$(tail -c 1 "$tmp/t/journal.txt" | od -An -c | tr -d ' ')" != '\n'
run_np 1 "${S[@]}" --out "$tmp/t" >/dev/null 2>"$tmp/t.err"
check "the torn line was reported" grep -q "cut a torn last line" "$tmp/t.err"
check "no glued lines" test "$(grep -c 'task=.*task=' "$tmp/t/journal.txt")" -eq 0
check "every task done once" test "$(grep -c '^done' "$tmp/t/journal.txt")" -eq 16 -a "$(grep '^done' "$tmp/t/journal.txt" | sort | uniq -d | wc -l)" -eq 0
check "results as the uninterrupted search" diff <(scores "$tmp/ref") <(scores "$tmp/t")

# 1b. Damaged lines in the middle (what a power loss leaves: a long run of
# garbage, NUL bytes) are skipped and counted; the lines after them count,
# so no finished task runs again. A journal edited on Windows (CRLF) reads.
mkdir -p "$tmp/dmg"
{ head -n 5 "$tmp/ref/journal.txt"; head -c 600 /dev/zero | tr '\0' 'x'; echo; printf 'done\0task=3\n'
  tail -n +6 "$tmp/ref/journal.txt"; } >"$tmp/dmg/journal.txt"
run_np 1 "${S[@]}" --out "$tmp/dmg" >/dev/null 2>"$tmp/dmg.err"
check "two damaged lines skipped and reported" grep -q "journal.txt: skipped 2 damaged line(s)" "$tmp/dmg.err"
check "no task run again" test "$(grep -ac '^done task=' "$tmp/dmg/journal.txt")" -eq 16
check "results as the intact journal's" diff <(scores "$tmp/ref") <(scores "$tmp/dmg")
mkdir -p "$tmp/crlf"
sed 's/$/\r/' "$tmp/ref/journal.txt" >"$tmp/crlf/journal.txt"
run_np 1 "${S[@]}" --out "$tmp/crlf" >/dev/null 2>"$tmp/crlf.err"; rc=$?
check "a CRLF journal is read (exit $rc)" test "$rc" -eq 0
check "... and no task runs again" test "$(grep -c '^done' "$tmp/crlf/journal.txt")" -eq 16

# 2. A second search on the same directory while the first runs.
L=(search --model mlp --hidden 32 --lr 0.01,0.02,0.05,0.1 --reg 0,1e-4,1e-3 --folds 3 --epochs 6 --subset 6000 --seed 4)
run_np 1 "${L[@]}" --out "$tmp/c" >/dev/null 2>"$tmp/c.err" &
pid=$!
for i in $(seq 1200); do [ -s "$tmp/c/journal.txt.lock" ] && break; sleep 0.05; done # its note: written once locked
check "a second search on the same directory is refused" expect_fail 1 2 "journal.txt: another search is running on it (host" "${L[@]}" --out "$tmp/c"
wait $pid; rc=$?
check "the first one completes" test "$rc" -eq 0
check "and ran every task once" test "$(grep -c '^done' "$tmp/c/journal.txt")" -eq 36 -a "$(grep '^done' "$tmp/c/journal.txt" | sort | uniq -d | wc -l)" -eq 0

# 2b. A whole search and a slice of one on the same directory would run
# the same tasks twice: the whole search is refused while the slice runs.
# (Long tasks, stopped by a signal once the whole search was refused.)
run_np 1 "${L[@]}" --epochs 1000 --out "$tmp/sl" --slice 1/2 >/dev/null 2>"$tmp/sl.err" &
pid=$!
for i in $(seq 1200); do [ -s "$tmp/sl/journal.txt.lock" ] && break; sleep 0.05; done
check "a whole search beside a running slice is refused" expect_fail 1 2 "journal.txt: another search is running on it (host" \
  "${L[@]}" --epochs 1000 --out "$tmp/sl"
pkill -USR1 -f -- "^$SHARDML search .*--out $tmp/sl --slice"
wait $pid

# 3. Temporary files of a writer killed mid-write go; a live writer's stay.
mkdir -p "$tmp/k/ck"
host=$(hostname)
: >"$tmp/k/ck/ckpt-000000005.h5.tmp.$host.4194999"   # beyond pid_max: dead
: >"$tmp/k/ck/ckpt-000000006.h5.tmp.$host.$$"         # this shell: alive
: >"$tmp/k/ck/ckpt-000000007.h5.tmp.other-host.4194999" # another host's: not ours to judge
run_np 1 train --model softmax --epochs 1 --subset 1000 --out "$tmp/k" --checkpoint-dir "$tmp/k/ck" >/dev/null 2>"$tmp/k.err"
check "the dead writer's temporary is removed" test ! -e "$tmp/k/ck/ckpt-000000005.h5.tmp.$host.4194999"
check "and reported" grep -q "removed 1 temporary file(s) of killed writers from $tmp/k/ck" "$tmp/k.err"
check "a live writer's temporary stays" test -e "$tmp/k/ck/ckpt-000000006.h5.tmp.$host.$$"
check "another host's temporary stays" test -e "$tmp/k/ck/ckpt-000000007.h5.tmp.other-host.4194999"
: >"$tmp/ref/journal.txt.tmp.$host.4194999"
run_np 1 "${S[@]}" --out "$tmp/ref" >/dev/null 2>"$tmp/ref.err"
check "search removes them too" test ! -e "$tmp/ref/journal.txt.tmp.$host.4194999"

# 4. A FIFO as data: refused at once, not a hang.
mkfifo "$tmp/fifo"
check "a FIFO as --data" expect_fail 1 2 "fifo: not a regular file" info --data "$tmp/fifo"
check "a FIFO as a checkpoint" expect_fail 1 2 "fifo: not a regular file" eval --checkpoint "$tmp/fifo"

# 5. An output directory that cannot be made is bad input (exit 2).
: >"$tmp/plainfile"
check "--out under a file" expect_fail 1 2 "plainfile/out: cannot create directory: Not a directory" train --model softmax --epochs 1 --subset 500 --out "$tmp/plainfile/out"
check "--out on /proc" expect_fail 1 2 "/proc/shardml-out: cannot create directory" cv --model knn --k 1 --folds 2 --subset 500 --out /proc/shardml-out
# 9. A grid of 200 configurations (over 8 KB of journal signature text):
# changing only the last value makes it another search. One task of slice
# 3/1000 runs, so that the journal exists at once.
LRS=$(seq -s, 1 20 | sed 's/\([0-9]*\)/\1e-3/g'); REGS=$(seq -s, 1 10 | sed 's/\([0-9]*\)/\1e-5/g')
G=(search --model softmax --lr "$LRS" --folds 2 --epochs 1 --subset 1000 --slice 3/1000 --out "$tmp/grid")
check "a 200-point grid starts a journal" run_np 1 "${G[@]}" --reg "$REGS" >/dev/null 2>&1
check "the same grid with its last value changed is another search" \
  expect_fail 1 2 "a journal of another search" "${G[@]}" --reg "${REGS%,*},0.5"
finish
