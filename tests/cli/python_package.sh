#!/bin/bash
# The Python package (src/python/shardml): for softmax, SVM, MLP and CNN
# models (and a checkpoint), its numpy predictions, its PyTorch module (live,
# as the TorchScript and state_dict files `python3 -m shardml export` writes)
# and the exported ONNX graph (evaluated by tests/python/onnx_eval.py) equal
# `shardml predict` on the 10000 Fashion-MNIST test images: the same class
# for every image, probabilities (SVM: scores) within 1e-5. A 3-channel
# CNN and softmax on CIFAR-10-format files check the channel order. Bad
# files and options: exit 2, one line, nothing written.
# Usage: python_package.sh FASHION_DIR SOURCE_DIR
. "$(dirname "$0")/lib.sh"
FASHION=${1:?usage: python_package.sh FASHION_DIR SOURCE_DIR}
SRC=${2:?usage: python_package.sh FASHION_DIR SOURCE_DIR}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
PY=/usr/bin/python3 # Debian's, with Debian's numpy, h5py, PyTorch and onnx (jobs/setup-debian.sh)
export PYTHONPATH=$SRC/src/python:$SRC/tests/python

# exported NAME MODEL.h5 IMAGES ARGS...: predictions, exports, comparison.
exported() {
  local name=$1 model=$2 images=$3; shift 3
  run_np 2 predict "$@" --checkpoint "$model" --out "$tmp/$name.csv" >/dev/null 2>&1
  check "$name: shardml predict" test -s "$tmp/$name.csv"
  mkdir -p "$tmp/$name.x"
  "$PY" -m shardml export "$model" --onnx "$tmp/$name.x/model.onnx" --torch "$tmp/$name.x/model.pt" \
    --state-dict "$tmp/$name.x/model.pth" 2>"$tmp/$name.err"
  check "$name: python3 -m shardml export writes ONNX, TorchScript and state_dict" \
    test -s "$tmp/$name.x/model.onnx" -a -s "$tmp/$name.x/model.pt" -a -s "$tmp/$name.x/model.pth"
  check "$name: numpy, PyTorch and ONNX equal shardml predict" \
    "$PY" -W ignore "$SRC/tests/python/check_exports.py" "$tmp/$name.csv" "$model" "$images" "$tmp/$name.x"
}

T10K=$FASHION/t10k-images-idx3-ubyte.gz
CNN=conv8x5s2p1,bn,relu,pool2,dropout0.25,conv16x3,relu,avgpool2,fc32,bn,relu,dropout0.5,fc10 # stride, padding, odd sizes, both pools, dropout, bn after conv and fc
for m in softmax svm mlp cnn; do
  args=(--model "$m")
  [ "$m" = mlp ] && args+=(--hidden 64,32)
  [ "$m" = cnn ] && args=(--net "$CNN" --checkpoint-dir "$tmp/ck" --checkpoint-every 10)
  run_np 2 train "${args[@]}" --subset 3000 --epochs 1 --out "$tmp/$m" >/dev/null 2>&1
  check "$m trains" test -s "$tmp/$m/model.h5"
  exported "$m" "$tmp/$m/model.h5" "$T10K"
done
ckpt=$(ls "$tmp"/ck/ckpt-*.h5 2>/dev/null | head -1)
check "a CNN checkpoint was written" test -n "$ckpt"
[ -n "$ckpt" ] && exported cnn-checkpoint "$ckpt" "$T10K"

# Three channels: the images are stored HWC; a CNN reads them as CHW.
C=$FIXTURES/cifar
run_np 1 convert --data "$C" --out "$tmp/cifar.h5" >/dev/null 2>&1
for m in softmax cnn; do
  args=(--model softmax)
  [ "$m" = cnn ] && args=(--net conv4x3,relu,pool2,conv6x3s2p0,relu,fc10)
  run_np 2 train --data "$C" "${args[@]}" --batch 8 --epochs 30 --lr 0.1 --out "$tmp/c$m" >/dev/null 2>&1
  check "CIFAR-10 format $m trains" test -s "$tmp/c$m/model.h5"
  exported "cifar-$m" "$tmp/c$m/model.h5" "$tmp/cifar.h5" --data "$C"
done

out=$("$PY" -m shardml describe "$tmp/cnn/model.h5" 2>&1)
check "describe lists the layers and their parameters" grep -q "conv 1x28x28 -> 8x13x13 (208 parameters)" <<<"$out" && grep -q "bn+relu 8x13x13 -> 8x13x13 (16 parameters)" <<<"$out"
version=$("$PY" -m shardml --version 2>&1)
check "the package's version is shardml's ($version)" test "$version" = "$("$SHARDML" --version | head -1)"

# Bad inputs: one line on stderr, exit 2, nothing written.
expect_py_fail() { # expect_py_fail NEEDLE ARGS...
  local needle=$1 out rc; shift
  out=$("$PY" -m shardml "$@" 2>&1 >/dev/null); rc=$?
  [ "$rc" -eq 2 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -qF -- "$needle" <<<"$out" || { echo "  exit $rc: $out"; return 1; }
}
check "a data file is not a model" expect_py_fail "not a shardml model" export "$FIXTURES/good.h5" --onnx "$tmp/bad.onnx"
check "a text file is not HDF5" expect_py_fail "cannot be read as HDF5" export "$tmp/softmax.csv" --onnx "$tmp/bad.onnx"
check "export without an output" expect_py_fail "nothing to write" export "$tmp/svm/model.h5"
check "an output folder that does not exist, named before any work" \
  expect_py_fail "$tmp/none/m.onnx: its folder does not exist" export "$tmp/svm/model.h5" --onnx "$tmp/none/m.onnx"
check "nothing written for a bad model" test ! -e "$tmp/bad.onnx"
finish
