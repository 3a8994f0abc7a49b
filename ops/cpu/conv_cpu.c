/* CPU depthwise conv1d + SiLU, both directions in one pass (conv_cpu.h).
 *
 * conv_kernel.inc is compiled for the same vector widths as the scan, each
 * after an instance of scan_kernel.inc (under its own suffix, c<isa>) whose
 * vector helpers and SiLU it uses; the variant is the one the scan uses
 * (vc_scan_cpu_isa: the CPU's best or VIMCONVERT_CPU_ISA). The scan
 * kernel's own functions in those instances are unused here. */
#include <stdlib.h>
#include <string.h>

#include "conv_cpu.h"
#include "scan_isa.h"

#pragma GCC diagnostic ignored "-Wunused-function"

#if (defined(__x86_64__) || defined(__i386__)) && !defined(VC_PORTABLE_ONLY)
#define VC_HAVE_X86 1
#include <immintrin.h>
#endif

#define VC_W 4
#define VC_NC 16
#define VC_SFX cgeneric
#ifdef VC_HAVE_X86
#define VC_MAXF(a, b) ((vf)_mm_max_ps((__m128)(a), (__m128)(b)))
#define VC_MINF(a, b) ((vf)_mm_min_ps((__m128)(a), (__m128)(b)))
#else
#define VC_MAXF(a, b) VN(sel)(((b) != (b)) | ((b) > (a)), (b), (a))
#define VC_MINF(a, b) VN(sel)(((b) != (b)) | ((b) < (a)), (b), (a))
#endif
#include "scan_kernel.inc"
#include "conv_kernel.inc"
#undef VC_W
#undef VC_NC
#undef VC_SFX
#undef VC_MAXF
#undef VC_MINF

#ifdef VC_HAVE_X86

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define VC_W 8
#define VC_NC 16
#define VC_SFX cavx2
#define VC_MAXF(a, b) ((vf)_mm256_max_ps((__m256)(a), (__m256)(b)))
#define VC_MINF(a, b) ((vf)_mm256_min_ps((__m256)(a), (__m256)(b)))
#include "scan_kernel.inc"
#include "conv_kernel.inc"
#undef VC_W
#undef VC_NC
#undef VC_SFX
#undef VC_MAXF
#undef VC_MINF
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,fma")
#define VC_W 16
#define VC_NC 16
#define VC_SFX cavx512
#define VC_SCALEF 1
#define VC_MAXF(a, b) ((vf)_mm512_max_ps((__m512)(a), (__m512)(b)))
#define VC_MINF(a, b) ((vf)_mm512_min_ps((__m512)(a), (__m512)(b)))
#include "scan_kernel.inc"
#include "conv_kernel.inc"
#undef VC_W
#undef VC_NC
#undef VC_SFX
#undef VC_MAXF
#undef VC_MINF
#undef VC_SCALEF
#pragma GCC pop_options
#endif

typedef void (*vc_conv_fn)(const vc_conv_args *, int64_t, int64_t);

/* The variant of the ISA the scan runs with. */
static vc_conv_fn vc_conv_current(void) {
  const char *isa = vc_scan_cpu_isa();
#ifdef VC_HAVE_X86
  if (strcmp(isa, "avx512") == 0) return conv_range_cavx512;
  if (strcmp(isa, "avx2") == 0) return conv_range_cavx2;
#endif
  (void)isa;
  return conv_range_cgeneric;
}

void vc_conv_taps(const float *w, int64_t dim, int64_t kernel, int reverse, float *out) {
  for (int64_t d = 0; d < dim; d++)
    for (int64_t k = 0; k < kernel; k++)
      out[k * dim + d] = w[d * kernel + (reverse ? kernel - 1 - k : k)];
}

int64_t vc_conv_cpu_num_items(const vc_conv_args *a) {
  if (a->batch <= 0 || a->seqlen <= 0 || a->dim <= 0) return 0;
  return a->batch * ((a->seqlen + VC_CONV_TOKENS - 1) / VC_CONV_TOKENS);
}

void vc_conv_cpu_range(const vc_conv_args *a, int64_t begin, int64_t end) {
  int64_t n = vc_conv_cpu_num_items(a);
  if (begin < 0) begin = 0;
  if (end > n) end = n;
  if (begin >= end) return;
  vc_conv_current()(a, begin, end);
}

void vc_conv_cpu(const vc_conv_args *a) { vc_conv_cpu_range(a, 0, vc_conv_cpu_num_items(a)); }
