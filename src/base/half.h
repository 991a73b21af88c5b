/* 16-bit floats for the gradient reduction (a 16-bit wire type): bfloat16 (a
 * float's sign, exponent and top 7 mantissa bits: the float range, 3
 * significant digits) and IEEE binary16 (5 exponent bits: magnitudes up to
 * 65504, subnormal below 2^-14; 11 significant bits). Conversions round to
 * nearest, ties to even, as the hardware's would; NaN stays NaN, and a
 * float beyond binary16's range becomes infinity. Plain integer code: no
 * instruction-set or compiler requirement (_Float16 needs clang 15). */
#ifndef SHARDML_HALF_H
#define SHARDML_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t sml_float_bits(float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  return b;
}
static inline float sml_bits_float(uint32_t b) {
  float x;
  memcpy(&x, &b, sizeof x);
  return x;
}

static inline uint16_t sml_bf16_from_float(float x) {
  const uint32_t b = sml_float_bits(x);
  if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40u); /* a quiet NaN */
  return (uint16_t)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}
static inline float sml_bf16_to_float(uint16_t h) { return sml_bits_float((uint32_t)h << 16); }

static inline uint16_t sml_f16_from_float(float x) {
  const uint32_t b = sml_float_bits(x), sign = (b >> 16) & 0x8000u, mag = b & 0x7fffffffu;
  if (mag > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);  /* NaN */
  if (mag >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* 65520 and up round to infinity */
  if (mag < 0x38800000u) { /* below 2^-14: a multiple of 2^-24, rounded by adding 2^23 */
    const float scaled = sml_bits_float(mag) * 0x1p24f + 0x1p23f;
    return (uint16_t)(sign | (sml_float_bits(scaled) - 0x4b000000u));
  }
  const uint32_t rebased = mag - (112u << 23); /* exponent bias 127 -> 15 */
  return (uint16_t)(sign | ((rebased + 0xfffu + ((rebased >> 13) & 1u)) >> 13));
}
static inline float sml_f16_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) return sml_bits_float(sign | sml_float_bits((float)m * 0x1p-24f));
  if (e == 31) return sml_bits_float(sign | 0x7f800000u | (m << 13));
  return sml_bits_float(sign | ((e + 112u) << 23) | (m << 13));
}

#endif
