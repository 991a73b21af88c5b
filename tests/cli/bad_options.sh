#!/bin/bash
# Every option of every command, given bad values, on NP ranks: exit 2,
# exactly one error line (from rank 0), within 30 s (no hang). Generated
# from the commands' own option tables (shardml CMD --list-options), so a
# new option is covered without anyone remembering to add it here.
# Bad values by kind of option:
#   int   a word, a negative, an overflow, an empty string
#   real  a word, a negative, an overflow, an empty string
#   word  an unknown word, an empty string
#   string (paths, lists) an empty string, a path that cannot exist or be made
#   flag  a value given to it (--flag=x)
# Each command starts from arguments that succeed (checked first), with the
# bad option last, so that the failure is the bad value's.
# Usage: bad_options.sh NP [all|one]: every bad value of every option
# (default), or one per option, taking the kinds' values in turn (so that
# every value still appears): the 3-rank run, at a third of the cost.
. "$(dirname "$0")/lib.sh"
NP=${1:?usage: bad_options.sh NP [all|one]}
VALUES=${2:-all}
export SML_RUN_TIMEOUT=30
D=$FIXTURES/idx_raw
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
NOWHERE=/proc/shardml-none/x # neither exists nor can be created, even by root

# A model file for eval and predict.
run_np 1 train --data "$D" --model softmax --epochs 1 --batch 8 --out "$tmp/m" >/dev/null 2>&1
check "a model to evaluate" test -f "$tmp/m/model.h5"

base_args() { # the arguments with which each command succeeds quickly
  case $1 in
    info) echo "--data $D" ;;
    convert) echo "--data $D --out $tmp/c.h5" ;;
    train) echo "--data $D --model softmax --epochs 1 --batch 8 --out $tmp/train" ;;
    eval) echo "--data $D --checkpoint $tmp/m/model.h5" ;;
    predict) echo "--data $D --checkpoint $tmp/m/model.h5 --out $tmp/p.csv" ;;
    knn) echo "--data $D --val 9 --k 1 --out $tmp/knn.csv" ;;
    search) echo "--data $D --model softmax --lr 0.01 --reg 1e-4 --epochs 1 --batch 8 --folds 2 --out $tmp/search" ;;
    cv) echo "--data $D --k 1 --folds 2 --out $tmp/cv" ;;
    gradcheck) echo "--model softmax --inputs 4 --classes 3 --batch 2" ;;
    *) return 1 ;;
  esac
}

bad_values() { # bad_values KIND: one value a line
  case $1 in
    int) printf '%s\n' bogus -1 1e30 "" ;;
    real) printf '%s\n' bogus -1 1e999 "" ;;
    word) printf '%s\n' bogus "" ;;
    string) printf '%s\n' "" "$NOWHERE" ;;
  esac
}

commands=$("$SHARDML" --help | sed -n '/^commands:/,/^$/s/^  \([a-z]*\) .*/\1/p')
check "commands listed" test -n "$commands"
# Cases run JOBS at a time (launching ranks is mostly waiting), each into
# its own files; the verdicts follow in order.
JOBS=${SML_BAD_OPTION_JOBS:-8}
cases=0
run_case() { # run_case ID ARGS...: shardml ARGS on NP ranks; exit status and stderr into files
  local id=$1; shift
  run_np_failing "$NP" "$@" </dev/null >/dev/null 2>"$tmp/case$id.err"
  echo $? >"$tmp/case$id.rc"
}
names=() needles=() turn=0
for cmd in $commands; do
  base=$(base_args "$cmd") || { check "$cmd: the test knows arguments that make it succeed" false; continue; }
  # shellcheck disable=SC2086 # base is a list of words without spaces
  out=$(run_np "$NP" "$cmd" $base 2>&1 </dev/null); rc=$?
  check "$cmd with good arguments: exit 0 (got $rc)" test "$rc" -eq 0 || echo "$out" | tail -3
  # Lists in arrays, not read in a loop: mpirun would read the loop's input.
  mapfile -t options < <("$SHARDML" "$cmd" --list-options)
  check "$cmd lists its options" test "${#options[@]}" -gt 0
  for line in "${options[@]}"; do
    IFS=$'\t' read -r name kind _ <<<"$line"
    if [ "$kind" = flag ]; then values=("=x"); else mapfile -t values < <(bad_values "$kind"); fi
    if [ "$VALUES" = one ]; then values=("${values[turn++ % ${#values[@]}]}"); fi
    for value in "${values[@]}"; do
      if [ "$kind" = flag ]; then args=("$name=x"); else args=("$name" "$value"); fi
      # The message names the option, or for a path the path itself.
      needle=$name; [ "$value" = "$NOWHERE" ] && needle="$name|${NOWHERE%/x}"
      names[cases]="$cmd ${args[*]}" needles[cases]=$needle
      while [ "$(jobs -pr | wc -l)" -ge "$JOBS" ]; do wait -n; done
      # shellcheck disable=SC2086
      run_case "$cases" "$cmd" $base "${args[@]}" &
      cases=$((cases + 1))
    done
  done
done
wait
judge_failure_any() { # judge_failure_any RC "NEEDLE|NEEDLE" STDERR: exit 2, one error line naming either
  local n
  IFS='|' read -ra n <<<"$2"
  judge_failure "$1" 2 "${n[0]}" "$3" >/dev/null || judge_failure "$1" 2 "${n[-1]}" "$3"
}
for ((i = 0; i < cases; i++)); do
  check "${names[i]}" judge_failure_any "$(cat "$tmp/case$i.rc")" "${needles[i]}" "$(cat "$tmp/case$i.err")"
done
echo "$cases bad-option cases on $NP ranks"
finish
