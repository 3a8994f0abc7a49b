/* Plain CPU depthwise causal + anti-causal conv1d with SiLU (float32,
 * token-major), the core of the CausalConv1dSiLUBidirectional custom op (see
 * ops/README.md for the math). Like scan_cpu.h it knows nothing about ONNX
 * Runtime: the op validates shapes and hands it raw pointers.
 *
 * Work is split into independent items (one per batch element and block of
 * VC_CONV_TOKENS tokens); any partition of [0, vc_conv_cpu_num_items(a)) into
 * ranges may run concurrently on different threads. */
#ifndef VIMCONVERT_OPS_CPU_CONV_CPU_H
#define VIMCONVERT_OPS_CPU_CONV_CPU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Tokens in one work item. */
#define VC_CONV_TOKENS 64

typedef struct vc_conv_args {
  int64_t batch, seqlen, dim, kernel;
  int64_t x_stride;   /* floats between tokens of x (>= dim): x may be a wider tensor */
  const float *x;     /* [B, L, x_stride], channels [0, dim) are read */
  const float *wf_t;  /* [K, D] forward taps: wf_t[k][d] = w_f[d][0][k] */
  const float *bf;    /* [D] */
  const float *wb_t;  /* [K, D] backward taps reversed: wb_t[j][d] = w_b[d][0][K-1-j] */
  const float *bb;    /* [D] */
  float *u_f, *u_b;   /* [B, L, D] */
} vc_conv_args;

/* vc_conv_taps writes the [D, 1, K] weight w as [K, D] rows into out
 * (out[k][d] = w[d][k], or w[d][K-1-k] when reverse is set). */
void vc_conv_taps(const float *w, int64_t dim, int64_t kernel, int reverse, float *out);

int64_t vc_conv_cpu_num_items(const vc_conv_args *a);
void vc_conv_cpu_range(const vc_conv_args *a, int64_t begin, int64_t end); /* items [begin,end) */
void vc_conv_cpu(const vc_conv_args *a);                                   /* all, one thread */

#ifdef __cplusplus
}
#endif

#endif
