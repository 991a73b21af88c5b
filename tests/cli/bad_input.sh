#!/bin/bash
# Every kind of bad input gives exit status 2 and exactly one error line from
# rank 0 that names the file or option, on NP ranks, within 60 s (no hang).
. "$(dirname "$0")/lib.sh"
NP=${1:?usage: bad_input.sh NP}
F=$FIXTURES
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

check "missing file"          expect_fail "$NP" 2 "$F/no_such_dir: No such file" info --data "$F/no_such_dir"
check "wrong IDX magic"       expect_fail "$NP" 2 "bad magic number 0x00000804" info --data "$F/bad_magic"
check "truncated raw images"  expect_fail "$NP" 2 "bad_truncated_raw/train-images-idx3-ubyte: truncated" info --data "$F/bad_truncated_raw"
check "truncated gz images"   expect_fail "$NP" 2 "bad_truncated_gz/train-images-idx3-ubyte.gz: truncated" info --data "$F/bad_truncated_gz"
check "IDX header: 2^32-1 images of 65535x65535 (raw)" expect_fail "$NP" 2 "bad_huge_idx/train-images-idx3-ubyte: IDX header: 4294967295 images of 65535x65535x1 bytes, more than a file of 116 bytes can hold" info --data "$F/bad_huge_idx"
check "IDX header: 2^32-1 images of 65535x65535 (gzip)" expect_fail "$NP" 2 "bad_huge_idx_gz/train-images-idx3-ubyte.gz: IDX header: 4294967295 images" info --data "$F/bad_huge_idx_gz"
check "HDF5: 2^40 images declared" expect_fail "$NP" 2 "bad_huge_count.h5: /images: 1099511627776 images of 28x28x1 bytes, more than a file of" info --data "$F/bad_huge_count.h5"
check "HDF5: /images declared, never written" expect_fail "$NP" 2 "bad_unwritten.h5: /images stores 0 bytes, its shape needs 552" info --data "$F/bad_unwritten.h5"
check "HDF5: a compact /images shorter than its shape" expect_fail "$NP" 2 "bad_compact_lie.h5: /images stores 48 bytes, its shape needs 4800" info --data "$F/bad_compact_lie.h5"
check "HDF5: a height of 2^31+1" expect_fail "$NP" 2 "bad_tall.h5: /images: height 2147483649, expected 1 to 65535" info --data "$F/bad_tall.h5"
check "HDF5: signed int8 labels, one -1" expect_fail "$NP" 2 "bad_signed_labels.h5: /labels record 1 holds -1, expected a class number 0-255" info --data "$F/bad_signed_labels.h5"
check "HDF5: a chunk index recording fewer bytes than the chunk's shape" \
  expect_fail "$NP" 2 "bad_short_chunk.h5: /images: the chunk at record 3 stores 1 bytes, its shape needs 108" \
  train --model softmax --epochs 1 --batch 2 --data "$F/bad_short_chunk.h5" --out "$tmp/x"
check "truncated labels"      expect_fail "$NP" 2 "train-labels-idx1-ubyte: truncated" info --data "$F/bad_truncated_labels"
check "mismatched counts"     expect_fail "$NP" 2 "36 labels, but" info --data "$F/bad_count"
check "label out of range"    expect_fail "$NP" 2 "label 12 of image 35 is out of range (10 classes)" info --data "$F/bad_label"
check "CIFAR size"            expect_fail "$NP" 2 "is not a positive multiple of 3073" info --data "$F/bad_cifar_size"
check "HDF5 without /images"  expect_fail "$NP" 2 "bad_no_images.h5: no dataset /images" info --data "$F/bad_no_images.h5"
check "HDF5 wrong rank"       expect_fail "$NP" 2 "bad_rank.h5: /images has rank 2, expected 3 to 4" info --data "$F/bad_rank.h5"
check "unknown option"        expect_fail "$NP" 2 "unknown option '--bogus'" info --bogus 3
check "empty directory"       expect_fail "$NP" 2 "empty: no dataset found" info --data "$F/empty"
check "validation too large"  expect_fail "$NP" 2 "--val 37: leaves no training images" info --data "$F/idx_raw" --val 37
check "bad number"            expect_fail "$NP" 2 "--val abc: not a finite number" info --data "$F/idx_raw" --val abc
check "unknown command"       expect_fail "$NP" 2 "unknown command 'trian'" trian
# Numbers out of range are refused before any conversion or allocation.
check "--val beyond int64"    expect_fail "$NP" 2 "--val 1e+30: expected a number of images or a fraction in [0, 1)" info --data "$F/idx_raw" --val 1e30
check "negative --init-scale" expect_fail "$NP" 2 "--init-scale -1: must not be negative" train --model softmax --data "$F/idx_raw" --init-scale -1 --out "$tmp/x"
check "negative --bound"      expect_fail "$NP" 2 "--bound -1: must be positive" gradcheck --bound -1
check "--epochs 1e12: memory estimate" expect_fail "$NP" 2 "--epochs: this run needs about" train --model softmax --data "$F/idx_raw" --batch 8 --epochs 1000000000000 --out "$tmp/x"
# 37 micro-batches of one image, each keeping its own gradient of ~4.3G
# parameters: about 7 times what the run needs without --reproducible.
check "--reproducible --micro-batch 1: memory estimate" expect_fail "$NP" 2 "--micro-batch: this run needs about" \
  train --data "$F/idx_raw" --batch 37 --hidden 1048576x4096 --reproducible --micro-batch 1 --out "$tmp/x"
check "--hidden 2^20x2^20: memory estimate" expect_fail "$NP" 2 "--hidden: this run needs about" train --data "$F/idx_raw" --batch 8 --hidden 1048576x1048576 --out "$tmp/x"
finish
