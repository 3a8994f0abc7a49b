/* Conversions between float32 and the 16-bit float formats the plugin's
 * ops accept (IEEE float16 and bfloat16), bit-exact and portable (no
 * _Float16, no F16C). float32 -> 16 bit rounds to nearest, ties to even,
 * like a cast in ONNX Runtime or PyTorch; NaN stays NaN (quiet), overflow
 * becomes infinity. */
#ifndef VIMCONVERT_OPS_CPU_HALF_H
#define VIMCONVERT_OPS_CPU_HALF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float vc_bits_f32(uint32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static inline uint32_t vc_f32_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* vc_f16_to_f32 widens an IEEE binary16 value exactly. */
static inline float vc_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0x1f) return vc_bits_f32(sign | 0x7f800000u | (man << 13)); /* inf, NaN */
  if (exp != 0) return vc_bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
  /* zero or subnormal: man * 2^-24, exact in float32 */
  return vc_bits_f32(sign | vc_f32_bits((float)man * 0x1p-24f));
}

/* vc_f32_to_f16 narrows to IEEE binary16, round to nearest even. */
static inline uint16_t vc_f32_to_f16(float f) {
  uint32_t x = vc_f32_bits(f);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return sign | 0x7e00u | (uint16_t)((ax >> 13) & 0x3ffu); /* NaN, quiet */
  if (ax >= 0x477ff000u) return sign | 0x7c00u; /* >= 65520 (and inf): infinity */
  if (ax < 0x38800000u) {
    /* below 2^-14: a subnormal (or zero) half, round(|f| * 2^24) units of
     * 2^-24; the scaling by a power of two is exact and lrintf rounds to
     * nearest even. 1024 is the encoding of the smallest normal. */
    return sign | (uint16_t)lrintf(vc_bits_f32(ax) * 0x1p24f);
  }
  ax += 0xfffu + ((ax >> 13) & 1u); /* round to nearest even at bit 13 */
  return sign | (uint16_t)((ax - (112u << 23)) >> 13);
}

/* vc_bf16_to_f32 widens a bfloat16 value exactly. */
static inline float vc_bf16_to_f32(uint16_t h) { return vc_bits_f32((uint32_t)h << 16); }

/* vc_f32_to_bf16 narrows to bfloat16, round to nearest even. */
static inline uint16_t vc_f32_to_bf16(float f) {
  uint32_t x = vc_f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* NaN, quiet */
  x += 0x7fffu + ((x >> 16) & 1u);
  return (uint16_t)(x >> 16);
}

#endif
