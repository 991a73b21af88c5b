#!/bin/bash
# Every kind of bad input gives exit status 2 and exactly one error line from
# rank 0 that names the file or option, on NP ranks, within 60 s (no hang).
. "$(dirname "$0")/lib.sh"
NP=${1:?usage: bad_input.sh NP}
F=$FIXTURES

expect_error() { # expect_error WHAT NEEDLE ARGS...
  local what=$1 needle=$2; shift 2
  local out rc lines
  out=$(run_np "$NP" "$@" 2>&1 >/dev/null); rc=$?
  lines=$(printf '%s\n' "$out" | grep -c '^shardml.*: error: ')
  if [ "$rc" -ne 2 ]; then echo "  $what: exit $rc, expected 2 (124 = hung)"; printf '%s\n' "$out" | head -5; return 1; fi
  if [ "$lines" -ne 1 ]; then echo "  $what: $lines error lines, expected 1:"; printf '%s\n' "$out"; return 1; fi
  if ! printf '%s\n' "$out" | grep '^shardml.*: error: ' | grep -qF -- "$needle"; then
    echo "  $what: message does not mention '$needle':"; printf '%s\n' "$out"; return 1; fi
  return 0
}

check "missing file"          expect_error missing "$F/no_such_dir: No such file" info --data "$F/no_such_dir"
check "wrong IDX magic"       expect_error magic "bad magic number 0x00000804" info --data "$F/bad_magic"
check "truncated raw images"  expect_error trunc "bad_truncated_raw/train-images-idx3-ubyte: truncated" info --data "$F/bad_truncated_raw"
check "truncated gz images"   expect_error truncgz "bad_truncated_gz/train-images-idx3-ubyte.gz: truncated" info --data "$F/bad_truncated_gz"
check "truncated labels"      expect_error trunclab "train-labels-idx1-ubyte: truncated" info --data "$F/bad_truncated_labels"
check "mismatched counts"     expect_error count "36 labels, but" info --data "$F/bad_count"
check "label out of range"    expect_error label "label 12 of image 35 is out of range (10 classes)" info --data "$F/bad_label"
check "CIFAR size"            expect_error cifar "is not a positive multiple of 3073" info --data "$F/bad_cifar_size"
check "HDF5 without /images"  expect_error h5img "bad_no_images.h5: no dataset /images" info --data "$F/bad_no_images.h5"
check "HDF5 wrong rank"       expect_error h5rank "bad_rank.h5: /images has rank 3, expected 4" info --data "$F/bad_rank.h5"
check "unknown option"        expect_error opt "unknown option '--bogus'" info --bogus 3
check "empty directory"       expect_error empty "empty: no dataset found" info --data "$F/empty"
check "validation too large"  expect_error val "--val 37: leaves no training images" info --data "$F/idx_raw" --val 37
check "bad number"            expect_error num "--val abc: not a finite number" info --data "$F/idx_raw" --val abc
check "unknown command"       expect_error cmd "unknown command 'trian'" trian
finish
