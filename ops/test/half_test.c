/* Tests ops/cpu/half.h, the float32 <-> float16 / bfloat16 conversions of
 * the 16-bit scan kernels, against an independent reference: the nearest
 * 16-bit value found by binary search over the ordered positive encodings
 * (ties to the even encoding), compared in double. Run by `make check` and
 * by the Go tests (TestHalfConversions). Prints "half_test: all cases pass". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../cpu/half.h"

typedef float (*widen_fn)(uint16_t);

/* The reference rounding of finite f to a 16-bit format whose positive
 * finite encodings 0..max_enc widen (monotonically) by widen and whose
 * infinity is inf_enc; a magnitude at or past the midpoint between the
 * largest finite value and the next step up rounds to infinity. */
static uint16_t ref_round(float f, widen_fn widen, uint16_t max_enc, uint16_t inf_enc) {
  uint16_t sign = signbit(f) ? 0x8000u : 0;
  double a = fabs((double)f);
  double maxv = widen(max_enc);
  double step = maxv - widen((uint16_t)(max_enc - 1));
  if (a >= maxv + step / 2) return sign | inf_enc;
  uint16_t lo = 0, hi = max_enc; /* largest encoding with value <= a */
  while (lo < hi) {
    uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
    if ((double)widen(mid) <= a) lo = mid;
    else hi = (uint16_t)(mid - 1);
  }
  if (lo == max_enc) return sign | lo;
  double below = widen(lo), above = widen((uint16_t)(lo + 1));
  if (a - below < above - a) return sign | lo;
  if (a - below > above - a) return sign | (uint16_t)(lo + 1);
  return sign | ((lo & 1) ? (uint16_t)(lo + 1) : lo); /* tie: even */
}

static int failures;

static void check(const char *what, float f, uint16_t got, uint16_t want) {
  if (got != want && failures++ < 10)
    fprintf(stderr, "%s(%a = %08x): got %04x, want %04x\n", what, f, vc_f32_bits(f), got, want);
}

static void check_value(float f) {
  if (isnan(f)) return;
  check("f32_to_f16", f, vc_f32_to_f16(f), ref_round(f, vc_f16_to_f32, 0x7bffu, 0x7c00u));
  check("f32_to_bf16", f, vc_f32_to_bf16(f), ref_round(f, vc_bf16_to_f32, 0x7f7fu, 0x7f80u));
}

int main(void) {
  /* Every 16-bit encoding widens and narrows back to itself (NaN: to a NaN). */
  for (uint32_t h = 0; h < 0x10000u; h++) {
    float f = vc_f16_to_f32((uint16_t)h), g = vc_bf16_to_f32((uint16_t)h);
    uint16_t f16 = vc_f32_to_f16(f), bf16 = vc_f32_to_bf16(g);
    if (isnan(f) ? !isnan(vc_f16_to_f32(f16)) : f16 != h) check("f16 round trip", f, f16, (uint16_t)h);
    if (isnan(g) ? !isnan(vc_bf16_to_f32(bf16)) : bf16 != h) check("bf16 round trip", g, bf16, (uint16_t)h);
  }
  /* Midpoints between neighbouring float16 values (ties), and a float32
   * step either side of them, including subnormals and the overflow edge. */
  for (uint32_t h = 0; h < 0x7c00u; h++) {
    double a = vc_f16_to_f32((uint16_t)h), b = vc_f16_to_f32((uint16_t)(h + 1));
    float mid = (float)((a + b) / 2); /* exact: float16 has 11 bits, float32 24 */
    check_value(mid);
    check_value(-mid);
    check_value(nextafterf(mid, 0));
    check_value(nextafterf(mid, INFINITY));
  }
  /* The bfloat16 midpoints. */
  for (uint32_t h = 0; h < 0x7f80u; h++) {
    float m = vc_bits_f32(((uint32_t)h << 16) | 0x8000u);
    check_value(m);
    check_value(nextafterf(m, 0));
    check_value(nextafterf(m, INFINITY));
  }
  /* Random float32 bit patterns. */
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 2000000; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    check_value(vc_bits_f32((uint32_t)s));
  }
  /* Infinities and NaN. */
  check("f32_to_f16", INFINITY, vc_f32_to_f16(INFINITY), 0x7c00u);
  check("f32_to_bf16", -INFINITY, vc_f32_to_bf16(-INFINITY), 0xff80u);
  if (!isnan(vc_f16_to_f32(vc_f32_to_f16(NAN))) || !isnan(vc_bf16_to_f32(vc_f32_to_bf16(NAN)))) {
    fprintf(stderr, "NaN not kept\n");
    failures++;
  }
  if (failures) {
    fprintf(stderr, "half_test: %d failures\n", failures);
    return 1;
  }
  printf("half_test: all cases pass\n");
  return 0;
}
