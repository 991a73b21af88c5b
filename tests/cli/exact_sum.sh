#!/bin/bash
# The reproducible trainer's sums are order-free: test_exact sums adversarial
# terms in many orders and splits over 1-4 ranks and 1-3 threads and asserts
# one bit pattern; the result must also be the same for every rank count,
# and within the bound of shardml/exact.h of the exact real sum, computed
# here with Python's fractions: n/2 units of 2^-q, q the scale exponent. Args: TEST_EXACT
. "$(dirname "$0")/lib.sh"
EXE=${1:?usage: exact_sum.sh TEST_EXACT}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for np in 1 2 3 4; do
  check "orders and splits over $np rank(s) agree bitwise" timeout 60 "$MPI_LAUNCH" $np "$EXE" "$tmp/terms$np.txt"
done
results=$(for np in 1 2 3 4; do head -1 "$tmp/terms$np.txt" | cut -d' ' -f2; done | sort -u)
check "the same result on 1, 2, 3 and 4 ranks ($results)" test -n "$results" -a "$(wc -l <<<"$results")" -eq 1
check "within n/2 units of the fixed point of the exact sum (Python fractions)" python3 - "$tmp/terms1.txt" <<'PY'
import math, sys
from fractions import Fraction
lines = open(sys.argv[1]).read().split()
n, result = int(lines[0]), float.fromhex(lines[1])
terms = [float.fromhex(t) for t in lines[2:2 + n]]
exact = sum(Fraction(t) for t in terms)
maxabs = max(abs(t) for t in terms)
e_max = math.frexp(maxabs)[1]; e_n = math.frexp(n)[1]
q = min(51 - e_max, 62 - e_max - e_n)  # shardml/exact.h
bound = Fraction(n, 2) / Fraction(2) ** q
err = abs(Fraction(result) - exact)
print("exact sum %.17g, shardml %.17g, error %.3g, bound %.3g (naive float error: %.3g)" %
      (float(exact), result, float(err), float(bound), float(abs(Fraction(sum(terms)) - exact))))
sys.exit(0 if err <= bound else 1)
PY
finish
