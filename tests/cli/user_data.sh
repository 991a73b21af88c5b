#!/bin/bash
# Data as users already have it, each file written here by numpy or h5py:
# .npy pairs, .npz archives (stored and deflated; Keras' names and the
# alternative), HDF5 of any integer type, N,H,W greyscale, float images in
# [0, 1], without class_names. Each is read on 3 ranks (every rank's block,
# mid-stream in a deflated member) to the same per-class counts and mean as
# numpy's, and converted to shardml's layout byte for byte; each bad shape
# and type is one error line naming the array and what was expected.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
PY=/usr/bin/python3 # Debian's, with numpy and h5py (jobs/setup-debian.sh)
NP=3
FASHION=${1:-/usr/share/datasets/fashion-mnist}

"$PY" - "$tmp" "$FASHION" <<'PYEOF' || { echo "could not write the files"; exit 1; }
import gzip, sys, numpy as np, h5py
out, src = sys.argv[1], sys.argv[2]
def idx(name, offset):
    with gzip.open("%s/%s.gz" % (src, name)) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)
x = idx("train-images-idx3-ubyte", 16).reshape(-1, 28, 28)[:1500]
y = idx("train-labels-idx1-ubyte", 8)[:1500]
xt = idx("t10k-images-idx3-ubyte", 16).reshape(-1, 28, 28)[:500]
yt = idx("t10k-labels-idx1-ubyte", 8)[:500]
xf = np.round(x / 255.0, 6).astype(np.float32)  # what a user's /255 left, rounded: not exactly k/255
np.save(out + "/expect_x.npy", x); np.save(out + "/expect_y.npy", y)
np.save(out + "/expect_xf.npy", np.rint(xf.astype(np.float64) * 255).astype(np.uint8))
np.save(out + "/expect_xt.npy", xt); np.save(out + "/expect_yt.npy", yt)
import os; os.makedirs(out + "/pair"); os.makedirs(out + "/rgb")
np.save(out + "/pair/x_train.npy", x); np.save(out + "/pair/y_train.npy", y.astype(np.int64))
np.save(out + "/pair/x_test.npy", xt); np.save(out + "/pair/y_test.npy", yt.astype(np.int64))
np.save(out + "/rgb/train_images.npy", np.repeat(x[..., None], 3, axis=3).astype(np.uint16))
np.save(out + "/rgb/train_labels.npy", y.astype(np.int16).reshape(-1, 1))
np.savez(out + "/keras.npz", x_train=x, y_train=y.astype(np.int64), x_test=xt, y_test=yt)
np.savez_compressed(out + "/floats.npz", train_images=xf, train_labels=y.astype(np.int32),
                    test_images=xt, test_labels=yt.astype(np.uint8))
with h5py.File(out + "/int16.h5", "w") as f:       # N,H,W int16 images, int64 labels, no class_names
    f["images"] = x.astype(np.int16); f["labels"] = y.astype(np.int64)
    f["test/images"] = xt.astype(np.int16); f["test/labels"] = yt.astype(np.int64)
with h5py.File(out + "/float.h5", "w") as f:       # N,H,W,1 float64 in [0, 1]
    f["images"] = xf[..., None].astype(np.float64); f["labels"] = y.astype(np.int32)
# The bad ones.
np.save(out + "/flat_images.npy", x.reshape(len(x), -1)); np.save(out + "/flat_labels.npy", y)
np.save(out + "/x_floatlabels.npy", x); np.save(out + "/y_floatlabels.npy", y.astype(np.float64))
np.save(out + "/x_neg.npy", x); np.save(out + "/y_neg.npy", np.where(np.arange(len(y)) == 700, -1, y).astype(np.int64))
np.save(out + "/x_fortran.npy", np.asfortranarray(x)); np.save(out + "/y_fortran.npy", y)
np.save(out + "/x_big.npy", (x / 255.0 * 2).astype(np.float32)); np.save(out + "/y_big.npy", y)
np.savez(out + "/nonames.npz", a=x, b=y)
with h5py.File(out + "/flat.h5", "w") as f:
    f["images"] = x.reshape(len(x), -1); f["labels"] = y
with h5py.File(out + "/floatlabels.h5", "w") as f:
    f["images"] = x; f["labels"] = y.astype(np.float32)
with h5py.File(out + "/strings.h5", "w") as f:
    f["images"] = np.full((10, 2, 2), b"abc"); f["labels"] = y[:10]
with h5py.File(out + "/big.h5", "w") as f:
    f["images"] = x.astype(np.int32) * 2; f["labels"] = y
PYEOF
head -c 1000000 "$tmp/pair/x_train.npy" >"$tmp/x_cut.npy"; cp "$tmp/pair/y_train.npy" "$tmp/y_cut.npy"

# Read on 3 ranks: counts per class and the mean pixel as numpy has them.
agrees() { # agrees DATA EXPECT_X EXPECT_Y [EXPECT_XT EXPECT_YT]
  run_np "$NP" info --json --data "$1" >"$tmp/info.json" 2>"$tmp/info.err" || { cat "$tmp/info.err"; return 1; }
  "$PY" - "$tmp/info.json" "$tmp" "$2" "$3" "${4:-}" "${5:-}" <<'PYEOF'
import json, sys, numpy as np
d = json.load(open(sys.argv[1])); t = sys.argv[2]
x, y = np.load(t + "/" + sys.argv[3]), np.load(t + "/" + sys.argv[4])
ok = d["train"]["images"] == len(y) and d["train"]["per_class"] == np.bincount(y, minlength=10).tolist()
ok = ok and abs(d["mean_pixel"] - x.astype(np.float64).mean() / 255) < 1e-6 and len(d["train"]["shards"]) == 3
if sys.argv[5]:
    yt = np.load(t + "/" + sys.argv[6])
    ok = ok and d["test"]["images"] == len(yt) and d["test"]["per_class"] == np.bincount(yt, minlength=10).tolist()
ok = ok and d["classes"] == [str(k) for k in range(10)]  # no class names: numbered
print("" if ok else json.dumps(d)[:400]); sys.exit(0 if ok else 1)
PYEOF
}
# Converted to shardml's layout: the same bytes.
converts() { # converts DATA EXPECT_X EXPECT_Y [EXPECT_XT EXPECT_YT]
  rm -f "$tmp/c.h5"
  run_np 1 convert --data "$1" --out "$tmp/c.h5" >/dev/null 2>&1 || return 1
  "$PY" - "$tmp/c.h5" "$tmp" "$2" "$3" "${4:-}" "${5:-}" <<'PYEOF'
import sys, numpy as np, h5py
f = h5py.File(sys.argv[1], "r"); t = sys.argv[2]
x, y = np.load(t + "/" + sys.argv[3]), np.load(t + "/" + sys.argv[4])
img = f["images"][...]
ok = img.dtype == np.uint8 and np.array_equal(img.reshape(x.shape[0], 28, 28, -1)[..., 0], x) and np.array_equal(f["labels"][...], y)
if sys.argv[5]:
    ok = ok and np.array_equal(f["test/images"][...][..., 0], np.load(t + "/" + sys.argv[5])) \
        and np.array_equal(f["test/labels"][...], np.load(t + "/" + sys.argv[6]))
sys.exit(0 if ok else 1)
PYEOF
}
E="expect_x.npy expect_y.npy expect_xt.npy expect_yt.npy"
for case in "pair:$tmp/pair" "pair .npy file:$tmp/pair/x_train.npy" "npz stored, Keras names:$tmp/keras.npz" \
  "HDF5 int16 N,H,W, int64 labels, no class_names:$tmp/int16.h5"; do
  what=${case%%:*} data=${case#*:}
  if [ "$what" = "pair .npy file" ]; then e="expect_x.npy expect_y.npy"; else e=$E; fi
  # shellcheck disable=SC2086 # one word per file
  check "$what: read on $NP ranks as numpy has it" agrees "$data" $e
  # shellcheck disable=SC2086
  check "$what: converted byte for byte" converts "$data" $e
done
check "npz deflated, float32 in [0,1], alternative names: read on $NP ranks" agrees "$tmp/floats.npz" expect_xf.npy expect_y.npy expect_xt.npy expect_yt.npy
check "... converted: round(255 v)" converts "$tmp/floats.npz" expect_xf.npy expect_y.npy expect_xt.npy expect_yt.npy
check "HDF5 float64 N,H,W,1 in [0,1]: read" agrees "$tmp/float.h5" expect_xf.npy expect_y.npy
check "... converted" converts "$tmp/float.h5" expect_xf.npy expect_y.npy
check "3-channel uint16 .npy, (N,1) labels: read" \
  bash -c "$(declare -f run_np); MPI_LAUNCH='$MPI_LAUNCH' SHARDML='$SHARDML' run_np $NP info --data '$tmp/rgb/train_images.npy' | grep -q 'images 28x28x3'"

check "npy images without height and width" expect_fail "$NP" 2 "flat_images.npy: shape of 2 dimensions, expected images (N, H, W) or (N, H, W, C)" info --data "$tmp/flat_images.npy"
check "npy float labels" expect_fail "$NP" 2 "y_floatlabels.npy: dtype '<f8', expected integer labels" info --data "$tmp/x_floatlabels.npy"
check "npy label -1" expect_fail "$NP" 2 "y_neg.npy: label 700 holds -1, expected a class number 0-255" info --data "$tmp/x_neg.npy"
check "npy in Fortran order" expect_fail "$NP" 2 "x_fortran.npy: a Fortran-order array" info --data "$tmp/x_fortran.npy"
check "npy floats beyond [0,1]" expect_fail "$NP" 2 "x_big.npy: image 0 holds" info --data "$tmp/x_big.npy"
check "... says what was expected" expect_fail "$NP" 2 "expected floats in [0, 1]" info --data "$tmp/x_big.npy"
check "npy truncated" expect_fail "$NP" 2 "x_cut.npy: 1000000 bytes, the header announces 1176128 (truncated?)" info --data "$tmp/x_cut.npy"
check "npz without known names" expect_fail "$NP" 2 "nonames.npz: a .npz without x_train/y_train" info --data "$tmp/nonames.npz"
check "HDF5 flat images" expect_fail "$NP" 2 "flat.h5: /images has rank 2, expected 3 to 4" info --data "$tmp/flat.h5"
check "HDF5 float labels" expect_fail "$NP" 2 "floatlabels.h5: /labels holds floats, expected integers" info --data "$tmp/floatlabels.h5"
check "HDF5 string images" expect_fail "$NP" 2 "strings.h5: /images holds strings, expected integers 0-255 or floats in [0, 1]" info --data "$tmp/strings.h5"
check "HDF5 integers beyond 255" expect_fail "$NP" 2 "big.h5: /images record 0 holds" info --data "$tmp/big.h5"
finish
