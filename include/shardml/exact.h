/* Order-free sums for reproducible training. Float addition is not
 * associative, so a sum taken in another order (other ranks, threads or
 * blocking) rounds differently. Here every term becomes an integer, a
 * fixed-point multiple of 2^-q, and integers add exactly in any order, MPI's
 * MPI_SUM on int64 included. The scale comes from the largest magnitude
 * among all the terms (agreed over the ranks first): q is the largest with
 * n * maxabs * 2^q <= 2^62, so n terms cannot overflow int64.
 *
 * Precision: each term is rounded to the nearest multiple of 2^-q, and
 * 2^-q <= 4 n maxabs 2^-62, so a sum of n terms is within
 * n * 2^-(q+1) <= n^2 * maxabs * 2^-61 of the exact real sum: for n = 64
 * terms, 2^-49 (1.8e-15) of the largest term, far below a float's 2^-24.
 * The result is the same bits for any order and split of the terms. Terms
 * must be finite (callers treat a non-finite maximum as divergence). */
#ifndef SHARDML_EXACT_H
#define SHARDML_EXACT_H

#include <stdint.h>

/* The scale exponent for n terms of magnitude at most maxabs (any finite
 * maxabs >= 0; zero and tiny maxima get the largest useful q). */
int sml_fixed_exponent(double maxabs, int64_t n);
/* round(x * 2^q) and back. */
int64_t sml_to_fixed(double x, int q);
double sml_from_fixed(int64_t v, int q);

#endif
