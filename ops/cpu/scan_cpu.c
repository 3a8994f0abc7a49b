/* CPU selective scan: the kernel template compiled for several vector
 * widths and a runtime choice among them (see scan_isa.h). Define
 * VC_PORTABLE_ONLY to build only the portable variant (as on non-x86 CPUs).
 *
 * VC_NC = 16 everywhere: all 16 states of a Vim channel stay in one chunk.
 * softplus(delta) is computed once per (t, d) in a per-block pass whatever
 * VC_NC is; with that, chunks of 8 states (no spills of the states on AVX2)
 * measured the same as 16 (AVX2 0.91 vs 0.90 ms, SSE2 2.90 vs 2.90 ms at
 * Vim-T size, 1 thread).
 * VC_SCALEF (AVX-512 only): 2^n by vscalefps instead of exponent-bit
 * arithmetic (no clamps needed; 0.61 vs 0.63 ms at Vim-T size). */
#include <stdlib.h>
#include <string.h>

#include "conv_cpu.h"
#include "scan_isa.h"

#if (defined(__x86_64__) || defined(__i386__)) && !defined(VC_PORTABLE_ONLY)
#define VC_HAVE_X86 1
#include <immintrin.h>
#endif

/* VC_MAXF(a, b) / VC_MINF(a, b): lane-wise max/min that return b when either
 * is NaN (the x86 semantics); `vf` is the vector type of the variant. */

/* Portable variant: 4 lanes. Plain SSE2 on x86-64, whatever the target
 * offers elsewhere (GCC lowers vector_size types to scalars if it must). */
#define VC_W 4
#define VC_NC 16
#define VC_SFX generic
#ifdef VC_HAVE_X86
#define VC_MAXF(a, b) ((vf)_mm_max_ps((__m128)(a), (__m128)(b)))
#define VC_MINF(a, b) ((vf)_mm_min_ps((__m128)(a), (__m128)(b)))
#else
#define VC_MAXF(a, b) VN(sel)(((b) != (b)) | ((b) > (a)), (b), (a))
#define VC_MINF(a, b) VN(sel)(((b) != (b)) | ((b) < (a)), (b), (a))
#endif
#include "scan_kernel.inc"
#include "conv_kernel.inc" /* the conv reuses this variant's vectors and SiLU */
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
#define VC_SFX avx2
#define VC_MAXF(a, b) ((vf)_mm256_max_ps((__m256)(a), (__m256)(b)))
#define VC_MINF(a, b) ((vf)_mm256_min_ps((__m256)(a), (__m256)(b)))
#include "scan_kernel.inc"
#include "conv_kernel.inc" /* the conv reuses this variant's vectors and SiLU */
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
#define VC_SFX avx512
#define VC_SCALEF 1
#define VC_MAXF(a, b) ((vf)_mm512_max_ps((__m512)(a), (__m512)(b)))
#define VC_MINF(a, b) ((vf)_mm512_min_ps((__m512)(a), (__m512)(b)))
#include "scan_kernel.inc"
#include "conv_kernel.inc" /* the conv reuses this variant's vectors and SiLU */
#undef VC_W
#undef VC_NC
#undef VC_SFX
#undef VC_MAXF
#undef VC_MINF
#undef VC_SCALEF
#pragma GCC pop_options
#endif

typedef void (*vc_range_fn)(const vc_scan_args *, int64_t, int64_t);
typedef void (*vc_conv_range_fn)(const vc_conv_args *, int64_t, int64_t);

typedef struct vc_isa {
  const char *name;
  vc_range_fn fn;
  vc_conv_range_fn conv;
  int (*supported)(void);
} vc_isa;

static int vc_always(void) { return 1; }

#ifdef VC_HAVE_X86
static int vc_has_avx2(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static int vc_has_avx512(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512dq") && vc_has_avx2();
}
#endif

/* Best first. */
static const vc_isa vc_isas[] = {
#ifdef VC_HAVE_X86
    {"avx512", range_avx512, conv_range_avx512, vc_has_avx512},
    {"avx2", range_avx2, conv_range_avx2, vc_has_avx2},
#endif
    {"generic", range_generic, conv_range_generic, vc_always},
};
#define VC_NISA (sizeof vc_isas / sizeof vc_isas[0])

/* Index into vc_isas + 1; 0 = not chosen yet. Written with relaxed atomics:
 * concurrent first calls all compute the same answer. */
static int vc_isa_choice;

static int vc_find_isa(const char *name) {
  for (size_t i = 0; i < VC_NISA; i++) {
    if (name && *name && strcmp(name, vc_isas[i].name) != 0) continue;
    if (vc_isas[i].supported()) return (int)i;
    if (name && *name) return -1;
  }
  return (int)VC_NISA - 1;
}

static const vc_isa *vc_current(void) {
  int c = __atomic_load_n(&vc_isa_choice, __ATOMIC_RELAXED);
  if (c == 0) {
    int i = vc_find_isa(getenv("VIMCONVERT_CPU_ISA"));
    if (i < 0) i = vc_find_isa(NULL); /* unknown/unsupported name: best available */
    c = i + 1;
    __atomic_store_n(&vc_isa_choice, c, __ATOMIC_RELAXED);
  }
  return &vc_isas[c - 1];
}

int vc_scan_cpu_set_isa(const char *name) {
  int i = vc_find_isa(name);
  if (i < 0) return -1;
  __atomic_store_n(&vc_isa_choice, i + 1, __ATOMIC_RELAXED);
  return 0;
}

const char *vc_scan_cpu_isa(void) { return vc_current()->name; }

int64_t vc_scan_cpu_num_items(const vc_scan_args *a) {
  return vc_work_items(a->batch, a->seqlen, a->dim, a->dim, VC_SCAN_BLOCK);
}

void vc_scan_cpu_range(const vc_scan_args *a, int64_t begin, int64_t end) {
  if (!vc_clip_items(vc_scan_cpu_num_items(a), &begin, &end)) return;
#ifdef VC_HAVE_X86
  /* Flush denormals to zero while the scan runs: a state that decays for
   * many steps with u = 0 would otherwise crawl through denormal numbers,
   * which cost ~100x on x86. Changes only values below 1.2e-38. The caller's
   * mode is restored. */
  unsigned int csr = _mm_getcsr();
  _mm_setcsr(csr | 0x8040); /* FTZ | DAZ */
  vc_current()->fn(a, begin, end);
  _mm_setcsr(csr);
#else
  vc_current()->fn(a, begin, end);
#endif
}

void vc_scan_cpu(const vc_scan_args *a) { vc_scan_cpu_range(a, 0, vc_scan_cpu_num_items(a)); }

void vc_conv_cpu_isa_range(const vc_conv_args *a, int64_t begin, int64_t end) {
  vc_current()->conv(a, begin, end);
}
