/* Order-free sums for reproducible training. Float addition is not
 * associative, so a sum taken in another order (other ranks, threads or
 * blocking) rounds differently. Here every term becomes an integer, a
 * fixed-point multiple of 2^-q, and integers add exactly in any order, MPI's
 * MPI_SUM on int64 included. The scale comes from the largest magnitude
 * among all the terms (agreed over the ranks first): q is the largest with
 * every scaled term below 2^51 (so that rounding it to an integer is one
 * exact addition, which vectorises) and n scaled terms below 2^62 (so that
 * n of them cannot overflow int64).
 *
 * Precision: each term is rounded to the nearest multiple of 2^-q, and
 * 2^-q <= max(2^-50 maxabs, 4 n maxabs 2^-62), so a sum of n terms is within
 * n * 2^-(q+1) of the exact real sum: at most n * maxabs * 2^-51 for up to
 * 2^11 terms (8 terms: 2^-48 = 3.6e-15 of the largest), n^2 maxabs 2^-61
 * beyond; far below a float's 2^-24 either way. The result is the same bits
 * for any order and split of the terms. Terms must be finite (callers treat
 * a non-finite maximum as divergence). */
#ifndef SHARDML_EXACT_H
#define SHARDML_EXACT_H

#include <stdint.h>
#include <string.h>

/* The scale exponent for n terms of magnitude at most maxabs (any finite
 * maxabs >= 0; zero and tiny maxima get the largest useful q). */
int sml_fixed_exponent(double maxabs, int64_t n);
/* 2^q, by which terms are multiplied (exactly: a power of two). */
double sml_fixed_scale(int q);

/* round(v) for |v| < 2^51, ties to even: adding 1.5 * 2^52 leaves the
 * integer in the low mantissa bits. */
static inline int64_t sml_fixed_round(double v) {
  const double magic = 0x1.8p52;
  const double d = v + magic;
  int64_t bits, magic_bits;
  memcpy(&bits, &d, sizeof bits);
  memcpy(&magic_bits, &magic, sizeof magic_bits);
  return bits - magic_bits;
}
/* round(x * 2^q), scale = sml_fixed_scale(q); and back. */
static inline int64_t sml_to_fixed(double x, double scale) { return sml_fixed_round(x * scale); }
double sml_from_fixed(int64_t v, int q);

#endif
