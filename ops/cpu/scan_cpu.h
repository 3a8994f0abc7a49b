/* Plain single-threaded CPU selective scan (float32, token-major [B, L, D]).
 *
 * This is the computational core of the SelectiveScanBidirectional and
 * SelectiveScan custom ops (see ops/README.md for the math). It knows nothing
 * about ONNX Runtime: the plugin validates shapes and hands it raw pointers,
 * and the CUDA harness calls it directly as the reference.
 *
 * Work is split into independent items (one per batch element and block of
 * 16 channels); any partition of [0, vc_scan_cpu_num_items(a)) into ranges may
 * run concurrently on different threads. */
#ifndef VIMCONVERT_OPS_CPU_SCAN_CPU_H
#define VIMCONVERT_OPS_CPU_SCAN_CPU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vc_scan_args {
  int64_t batch, seqlen, dim, dstate;
  const float *u_f, *delta_f, *A_f, *B_f, *C_f, *D_f, *delta_bias_f;
  const float *u_b, *delta_b, *A_b, *B_b, *C_b, *D_b, *delta_bias_b; /* u_b == NULL: unidirectional */
  const float *z;   /* [B,L,D] */
  float *y;         /* [B,L,D] */
  float out_scale;  /* 0.5 for divide_out=1, 1.0 otherwise */
} vc_scan_args;

void vc_scan_cpu(const vc_scan_args *a);                       /* all work, one thread */
void vc_scan_cpu_range(const vc_scan_args *a, int64_t begin, int64_t end); /* work items [begin,end) */
int64_t vc_scan_cpu_num_items(const vc_scan_args *a);

#ifdef __cplusplus
}
#endif

#endif
