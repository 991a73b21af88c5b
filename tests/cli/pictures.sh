#!/bin/bash
# The figures, rendered (rsvg-convert must read every SVG) and checked for
# what a reader needs: axis ticks at 1-2-5 values (whole numbers for epochs
# and k), a log k axis, the validation curve, distinct legend entries, the
# heat map's colour bar and best cell, and PNGs that carry class names.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

run_np 2 train --model softmax --epochs 3 --subset 3000 --val 500 --out "$tmp/t" >/dev/null 2>&1
run_np 2 train --model mlp --hidden 32 --epochs 2 --subset 3000 --val 500 --log-every 5 --out "$tmp/m" >/dev/null 2>&1
run_np 2 cv --k 1,2,3,5,8,10,20,50 --folds 3 --subset 1500 --out "$tmp/cv" >/dev/null 2>&1
run_np 2 search --model softmax --lr 1e-3,1e-2,1e-1 --reg 0,1e-3 --folds 2 --epochs 1 --subset 1500 --out "$tmp/s" \
  >/dev/null 2>&1
run_np 2 knn --subset 2000 --k 3 --rows 3 --neighbors-image "$tmp/nn.png" >/dev/null 2>&1
run_np 1 eval --checkpoint "$tmp/t/model.h5" --confusion-png "$tmp/confusion.png" --confusion "$tmp/confusion.svg" \
  >/dev/null 2>&1

for svg in t/loss.svg t/accuracy.svg m/loss.svg cv/cv_plot.svg s/search_plot.svg confusion.svg; do
  check "$svg renders (rsvg-convert)" rsvg-convert -o "$tmp/render.png" "$tmp/$svg"
done
# Axis tick labels: the text under the x axis and left of the y axis.
ticks() { # ticks FILE x|y: the numeric tick labels of one axis
  python3 - "$1" "$2" <<'PY'
import re, sys
svg, axis = open(sys.argv[1]).read(), sys.argv[2]
anchor = "middle" if axis == "x" else "end"
labels = re.findall(r"<text x='[-0-9.]+' y='([-0-9.]+)' text-anchor='%s'>([-0-9.e+]+)</text>" % anchor, svg)
if axis == "x":  # the x labels share the lowest row
    row = max(float(y) for y, _ in labels)
    labels = [(y, v) for y, v in labels if float(y) == row]
print(" ".join(v for _, v in labels))
PY
}
one_two_five() { # linear ticks: equal steps of 1, 2 or 5 x 10^k
  python3 - "$@" <<'PY'
import math, sys
v = [float(x) for x in sys.argv[1:]]
steps = {round(b - a, 12) for a, b in zip(v, v[1:])}
ok = len(v) >= 3 and len(steps) == 1
if ok:
    s = steps.pop(); m = s / 10 ** math.floor(math.log10(s))
    ok = any(abs(m - k) < 1e-6 for k in (1, 2, 5))
sys.exit(0 if ok else 1)
PY
}
check "loss.svg y ticks at 1-2-5 steps ($(ticks "$tmp/t/loss.svg" y))" one_two_five $(ticks "$tmp/t/loss.svg" y)
check "loss.svg epoch ticks are whole ($(ticks "$tmp/t/loss.svg" x))" test "$(ticks "$tmp/t/loss.svg" x)" = "1 2 3"
check "steps loss.svg x ticks at 1-2-5 steps ($(ticks "$tmp/m/loss.svg" x))" one_two_five $(ticks "$tmp/m/loss.svg" x)
check "loss.svg has the validation curve" grep -q '>validation loss<' "$tmp/t/loss.svg"
check "cv_plot.svg: log k axis ($(ticks "$tmp/cv/cv_plot.svg" x))" test "$(ticks "$tmp/cv/cv_plot.svg" x)" = "1 2 5 10 20 50"
check "cv_plot.svg: y ticks at 1-2-5 steps" one_two_five $(ticks "$tmp/cv/cv_plot.svg" y)
check "cv_plot.svg: the two metrics have different marker shapes" \
  bash -c "grep -q '<circle' '$tmp/cv/cv_plot.svg' && grep -q '<rect x=.[0-9.]*. y=.[0-9.]*. width=.7.0' '$tmp/cv/cv_plot.svg'"
check "search_plot.svg: colour bar" grep -q '>diverged</text>' "$tmp/s/search_plot.svg"
check "search_plot.svg: the best cell is marked" grep -q ">best</text>" "$tmp/s/search_plot.svg"
check "confusion.svg: every class named whole on both axes, 10000 counted, a colour bar 0-1" python3 - "$tmp/confusion.svg" <<'PY'
import re, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()  # well-formed XML, names escaped
texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
missing = [n for n in names if texts.count(n) != 2]
counts = sum(int(t) for t in texts if re.fullmatch(r"[0-9]+", t))
bar = "0.00" in texts and "1.00" in texts and "share of the true class" in texts
print(f"  names not on both axes: {missing}; counts sum {counts}; colour bar {bar}")
sys.exit(0 if not missing and counts == 10000 and bar else 1)
PY

# PNGs with class names: the labelled figure is taller than the images alone,
# and the label rows hold dark text pixels.
png_size() { python3 -c "import struct,sys; d=open(sys.argv[1],'rb').read(24); print(*struct.unpack('>II', d[16:24]))" "$1"; }
read -r w h <<<"$(png_size "$tmp/t/weights.png")"
check "weights.png: 10 tiles of 112 px with a label row below ($w x $h)" test "$w" -ge 1120 -a "$h" -ge 130
read -r w h <<<"$(png_size "$tmp/nn.png")"
check "neighbours PNG: header and label rows ($w x $h)" test "$h" -ge $((3 * (56 + 13)))
check "neighbours PNG: 4 columns wide enough for 'T-shirt/top' whole ($w px)" test "$w" -ge $((4 * (12 * 6 + 2)))
check "confusion PNG written" test -s "$tmp/confusion.png"
# The label text itself: the class names drawn with the font differ from an
# unlabelled canvas only where the names are (compared through a decoded row).
check "weights.png label row has text pixels" python3 - "$tmp/t/weights.png" "$(dirname "$0")" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from png_pixels import read_png
w, h, ch, rows = read_png(sys.argv[1])
dark = sum(1 for y in range(h - 14, h) for v in rows[y][::ch] if v < 64)
sys.exit(0 if dark > 100 else 1)
PY
# A CNN's first-layer filters (CS231n's figure): each tile is its filter,
# rescaled over its own range, in colour for 3-channel images.
run_np 2 train --data "$FIXTURES/cifar" --net conv8x3,relu,pool2,fc10 --batch 8 --epochs 2 --out "$tmp/c" >/dev/null 2>&1
check "filters.png: every tile's pixels are its filter's weights rescaled to 0-255" \
  /usr/bin/python3 - "$tmp/c/filters.png" "$tmp/c/model.h5" "$(dirname "$0")" <<'PY'
import sys
import h5py, numpy as np
sys.path.insert(0, sys.argv[3])
from png_pixels import read_png
w, h, ch, rows = read_png(sys.argv[1])
W = np.array(h5py.File(sys.argv[2])["params/W0"]).reshape(8, 3, 3, 3)  # [F, C, k, k]
scale, gap, top, worst = 48 // 3, 4, 10 + 8, 0
for f in range(8):
    lo, hi = W[f].min(), W[f].max()
    want = np.rint(255 * (W[f] - lo) / (hi - lo))
    x0, y0 = gap + f * (3 * scale + gap), top
    for i in range(3):
        for j in range(3):
            y, x = y0 + i * scale + scale // 2, x0 + j * scale + scale // 2
            got = np.array(rows[y][x * ch:(x + 1) * ch], float)
            worst = max(worst, np.abs(got - want[:, i, j]).max())
print(f"  {w}x{h}, {ch} channels, largest difference {worst}")
sys.exit(0 if ch == 3 and worst <= 1 else 1)
PY
finish
