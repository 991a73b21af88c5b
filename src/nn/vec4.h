/* Four floats (or int32s) in one register on every x86-64 CPU, for the
 * loops that gather, interleave or compare lanes, which the compiler
 * leaves scalar (or as branches that mispredict) when written as plain
 * loops. */
#ifndef SML_NN_VEC4_H
#define SML_NN_VEC4_H

#include <stdint.h>
#include <string.h>

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
/* Lanes i0..i3 of the eight in a then b (GCC and clang spell it apart). */
#ifdef __clang__
#define SHUFFLE4(a, b, i0, i1, i2, i3) __builtin_shufflevector(a, b, i0, i1, i2, i3)
#else
#define SHUFFLE4(a, b, i0, i1, i2, i3) __builtin_shuffle(a, b, (v4i){i0, i1, i2, i3})
#endif
static inline v4f load4(const float *p) {
  v4f v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void store4(float *p, v4f v) { memcpy(p, &v, sizeof v); }

#endif
