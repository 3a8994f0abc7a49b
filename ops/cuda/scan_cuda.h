/* CUDA selective scan (token-major [B, L, D]) for the SelectiveScanBidirectional
 * and SelectiveScan custom ops. See ops/README.md for the math and ops/cuda/NOTES.md
 * for the algorithm, the launch plan and its cost model.
 *
 * This header is plain C: the ONNX Runtime glue (scan_cuda_op.c) and the
 * standalone harness (harness.cu) use it; nothing here needs CUDA headers.
 * Streams are passed as void* (a cudaStream_t). */
#ifndef VIMCONVERT_OPS_CUDA_SCAN_CUDA_H
#define VIMCONVERT_OPS_CUDA_SCAN_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element type of the activations (u, delta, B, C, z and the output y).
 * A, D and delta_bias are always float32; the recurrent state and every
 * accumulation are float32 whatever the activation type. */
typedef enum vc_cuda_dtype {
  VC_CUDA_F32 = 0,
  VC_CUDA_F16 = 1,
  VC_CUDA_BF16 = 2
} vc_cuda_dtype;

/* Largest dstate (N) the CUDA kernels support: the state lives in registers. */
#define VC_CUDA_MAX_DSTATE 16

/* Arguments of one scan. All pointers are DEVICE pointers. Layouts as in
 * ops/README.md: u, delta, z, y [B, L, D]; B, C [B, L, N]; A [D, N]; D, delta_bias [D].
 * u_b == NULL selects the forward-only scan (SelectiveScan); the other *_b
 * pointers are then ignored. y must not alias any input: between the kernels
 * of one launch it also holds the per-chunk states (see NOTES.md). */
typedef struct vc_scan_cuda_args {
  int64_t batch, seqlen, dim, dstate;
  int32_t dtype; /* a vc_cuda_dtype value (int: callers from C may pass anything) */
  const void *u_f, *delta_f, *B_f, *C_f;
  const float *A_f, *D_f, *delta_bias_f;
  const void *u_b, *delta_b, *B_b, *C_b;
  const float *A_b, *D_b, *delta_bias_b;
  const void *z;
  void *y;
  float out_scale; /* 0.5 for divide_out=1, 1.0 otherwise */
} vc_scan_cuda_args;

/* The launch plan: how the sequence is cut into chunks. Filled by
 * vc_scan_cuda_plan; exposed so the harness can report and override it. */
typedef struct vc_scan_cuda_plan_t {
  int64_t nchunks;     /* chunks along L (1 = single pass, no state kernels) */
  int64_t chunk_min;   /* rows of the shortest chunk */
  int64_t chunk_max;   /* rows of the longest chunk */
  int threads;         /* threads per block of the state/output kernels */
  size_t smem_bytes;   /* dynamic shared memory of the output kernel */
} vc_scan_cuda_plan_t;

/* vc_scan_cuda_check validates the scalar shape arguments (the plugin checks
 * tensor ranks and dims before). It returns NULL when they are supported, else
 * a static message naming the problem. */
const char *vc_scan_cuda_check(const vc_scan_cuda_args *a);

/* vc_scan_cuda_plan picks the chunking for a device with num_sms multiprocessors.
 * want_chunks > 0 asks for that many chunks (clamped to what the layout allows);
 * 0 lets the heuristic choose. Returns NULL or a static error message. */
const char *vc_scan_cuda_plan(const vc_scan_cuda_args *a, int num_sms, int64_t want_chunks,
                              vc_scan_cuda_plan_t *plan);

/* vc_scan_cuda_launch enqueues the scan on stream (a cudaStream_t; NULL = the
 * legacy default stream) and returns without waiting. plan may be NULL (the
 * heuristic is used for the current device). Every CUDA call and launch is
 * checked; on failure it returns a message (static, or in a thread-local
 * buffer valid until the next call on the same thread), else NULL. */
const char *vc_scan_cuda_launch(const vc_scan_cuda_args *a, const vc_scan_cuda_plan_t *plan,
                                void *stream);

/* vc_scan_cuda_num_sms returns the multiprocessor count of the current
 * device, or a negative value when it cannot be read. */
int vc_scan_cuda_num_sms(void);

#ifdef __cplusplus
}
#endif

#endif
