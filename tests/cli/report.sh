#!/bin/bash
# What users paste and compare: eval's per-class report equals
# scikit-learn's classification_report on the same predictions (to the 4
# decimals it prints, and to 1e-12 in the CSV), predict's CSV names the
# classes, and info says what the job runs on (MPI and HDF5 versions, hosts,
# each rank's binding), as text and as JSON that parses.
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
PY=/usr/bin/python3 # Debian's, with Debian's scikit-learn (jobs/setup-debian.sh)

run_np 2 train --model softmax --subset 2000 --epochs 1 --out "$tmp/m" >/dev/null 2>&1
check "a small model trains" test -s "$tmp/m/model.h5"
run_np 2 eval --checkpoint "$tmp/m/model.h5" --report "$tmp/report.csv" >"$tmp/eval.txt" 2>/dev/null
check "eval --report writes the CSV" test -s "$tmp/report.csv"
run_np 2 predict --checkpoint "$tmp/m/model.h5" --out "$tmp/p.csv" >/dev/null 2>&1
check "predict writes 10000 rows" test "$(wc -l <"$tmp/p.csv")" -eq 10001

check "the report equals scikit-learn's classification_report" "$PY" - "$tmp/p.csv" "$tmp/report.csv" "$tmp/eval.txt" <<'PYEOF'
import csv, re, sys
from sklearn.metrics import classification_report
rows = list(csv.DictReader(open(sys.argv[1])))
y_true = [int(r["true_label"]) for r in rows]
y_pred = [int(r["predicted"]) for r in rows]
names = {int(r["true_label"]): r["true_name"] for r in rows}
names.update({int(r["predicted"]): r["predicted_name"] for r in rows})
labels = sorted(set(y_true) | set(y_pred))
ref = classification_report(y_true, y_pred, labels=labels, target_names=[names[k] for k in labels],
                            output_dict=True, zero_division=0)
bad = []
got = {r["name"]: r for r in csv.DictReader(open(sys.argv[2]))}
for name, want in ref.items():
    if name == "accuracy":
        if abs(float(got["accuracy"]["f1"]) - want) > 1e-12: bad.append(("accuracy", want, got["accuracy"]))
        continue
    g = got[name]
    for key, gkey in (("precision", "precision"), ("recall", "recall"), ("f1-score", "f1"), ("support", "support")):
        if abs(float(g[gkey]) - want[key]) > 1e-12: bad.append((name, key, want[key], g[gkey]))
# The printed table: scikit-learn's numbers at its 4 decimals, row by row.
text = open(sys.argv[3]).read().split("f1-score")[1]
for name, want in ref.items():
    if name == "accuracy":
        line = re.search(r"^\s*accuracy\s+(\S+)\s+(\d+)$", text, re.M)
        if not line or line.group(1) != "%.4f" % want: bad.append(("printed accuracy", want, line and line.group(0)))
        continue
    line = re.search(r"^\s*" + re.escape(name) + r"\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)$", text, re.M)
    expect = ("%.4f" % want["precision"], "%.4f" % want["recall"], "%.4f" % want["f1-score"], "%d" % want["support"])
    if not line or line.groups() != expect: bad.append(("printed", name, expect, line and line.groups()))
print("\n".join(map(str, bad)) if bad else "classification_report: %d classes agree" % len(labels))
sys.exit(1 if bad else 0)
PYEOF
check "predict's CSV names the classes" "$PY" - "$tmp/p.csv" <<'PYEOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
sys.exit(0 if all(r["predicted_name"] == fashion[int(r["predicted"])] and r["true_name"] == fashion[int(r["true_label"])]
                  for r in rows) else 1)
PYEOF

out=$(unset OMPI_MCA_btl_tcp_eager_limit; run_np 2 info --subset 1000 2>/dev/null)
has() { grep -Eq -- "$1" <<<"$out"; }
check "info: the MPI library and version" has '^mpi +(Open MPI v|MPICH Version).*\(MPI [0-9]\.[0-9]\)$'
check "info: the HDF5 version"            has '^hdf5 +1\.[0-9]+\.[0-9]+ \((parallel|serial)\)$'
check "info: the hosts and their ranks"   has "^hosts +1: $(hostname) \(2 ranks\)$"
check "info: rank 1's binding and threads" has "^rank 1 +$(hostname), cpus [0-9,-]+ \([0-9]+\), [0-9]+ OpenMP threads?$"
# Open MPI's TCP eager limit, read back through MPI_T: shardml's default
# unless the user set one (then theirs, untouched). MPICH has no such line.
if has '^mpi +Open MPI'; then
  check "info: Open MPI's TCP eager limit is shardml's default" \
    has '^mpi settings btl_tcp_eager_limit 266240 \(shardml.s default\)$'
  out=$(OMPI_MCA_btl_tcp_eager_limit=70000 run_np 2 info --subset 1000 2>/dev/null)
  check "info: a user's eager limit wins" has '^mpi settings btl_tcp_eager_limit 70000 \(yours\)$'
else
  hasnt() { ! has "$1"; }
  check "info: no Open MPI settings under another MPI" hasnt '^mpi settings'
fi
run_np 2 info --subset 1000 --json >"$tmp/info.json" 2>/dev/null
check "info --json parses and says the same" "$PY" - "$tmp/info.json" "$(hostname)" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
ok = (d["train"]["images"] == 1000 and sum(d["train"]["shards"]) == 1000 and len(d["ranks"]) == 2
      and d["hosts"] == [{"host": sys.argv[2], "ranks": 2}] and d["mpi"] and d["hdf5"].startswith("1.")
      and (d["mpi_settings"].startswith("btl_tcp_eager_limit ") if d["mpi"].startswith("Open MPI") else d["mpi_settings"] == "")
      and all(r["ncpus"] >= 1 and r["threads"] >= 1 for r in d["ranks"]) and d["classes"][0] == "T-shirt/top")
sys.exit(0 if ok else 1)
PYEOF
finish
