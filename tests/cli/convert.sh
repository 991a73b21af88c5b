#!/bin/bash
# `shardml convert` then `shardml info` on the HDF5 file reports the same
# counts, classes and mean as the source. Args: NP SOURCE...
. "$(dirname "$0")/lib.sh"
NP=${1:?usage: convert.sh NP SOURCE...}; shift
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
summary() { # the lines that must survive conversion
  grep -E '^(train|validation|test|classes|mean pixel) |^  [0-9]+ ' | grep -v 'load time'
}
for src in "$@"; do
  name=$(basename "$src")
  check "convert $name" run_np "$NP" convert --data "$src" --out "$tmp/$name.h5"
  check "no temporary left ($name)" test -z "$(ls "$tmp" | grep tmp)"
  a=$(run_np "$NP" info --data "$src" | summary)
  b=$(run_np "$NP" info --data "$tmp/$name.h5" | summary)
  check "same counts, classes and mean ($name)" test "$a" = "$b"
  [ "$a" = "$b" ] || diff <(echo "$a") <(echo "$b")
  check "nonempty summary ($name)" test -n "$a"
done
check "convert refuses --val" bash -c "! run_np $NP convert --data '$1' --out '$tmp/x.h5' --val 3 2>/dev/null"
finish
