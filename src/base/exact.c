/* Fixed-point conversion for order-free sums: see base/exact.h. */
#include "base/exact.h"

#include <math.h>

int sml_fixed_exponent(double maxabs, int64_t n) {
  if (!(maxabs > 0)) maxabs = 0x1.0p-200; /* nothing to represent: any scale is exact */
  int e_max, e_n;
  frexp(maxabs, &e_max);                          /* maxabs < 2^e_max */
  frexp((double)(n > 0 ? n : 1), &e_n);           /* n < 2^e_n */
  int q = 51 - e_max;                             /* every scaled term below 2^51 */
  if (62 - e_max - e_n < q) q = 62 - e_max - e_n; /* n of them below 2^62 */
  if (q > 1000) q = 1000;                         /* within the range of a double */
  return q;
}

double sml_fixed_scale(int q) { return ldexp(1.0, q); }

double sml_from_fixed(int64_t v, int q) { return ldexp((double)v, -q); }
