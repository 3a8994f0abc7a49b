/* CUDAExecutionProvider versions of SelectiveScanBidirectional and
 * SelectiveScan. The op description, attribute handling, shape inference and
 * input validation are the shared ones (common/scan_op.c); this file only
 * supplies the compute function, which launches the kernels of scan_cuda.cu
 * on ORT's compute stream. Built only when nvcc is available (cuda/cuda.mk);
 * otherwise cuda_stub.c provides vc_register_cuda_ops. */
#include <stddef.h>

#include "../common/plugin.h"
#include "scan_cuda.h"

#define VC_CUDA_PROVIDER "CUDAExecutionProvider"

static OrtStatus *cuda_compute(const vc_scan_kernel *k, OrtKernelContext *ctx) {
  const OrtApi *api = k->api;
  vc_scan_args a; /* pointers are device pointers here */
  OrtStatus *st = vc_scan_prepare(k, ctx, &a);
  if (st) return st;
  if (a.batch == 0 || a.seqlen == 0 || a.dim == 0) return NULL; /* empty output */

  vc_scan_cuda_args c = {0};
  c.batch = a.batch, c.seqlen = a.seqlen, c.dim = a.dim, c.dstate = a.dstate;
  c.dtype = VC_CUDA_F32;
  c.u_f = a.u_f, c.delta_f = a.delta_f, c.B_f = a.B_f, c.C_f = a.C_f;
  c.A_f = a.A_f, c.D_f = a.D_f, c.delta_bias_f = a.delta_bias_f;
  c.u_b = a.u_b, c.delta_b = a.delta_b, c.B_b = a.B_b, c.C_b = a.C_b;
  c.A_b = a.A_b, c.D_b = a.D_b, c.delta_bias_b = a.delta_bias_b;
  c.z = a.z, c.y = a.y, c.out_scale = a.out_scale;

  /* Shapes the CPU kernel takes but the CUDA one does not (dstate > 16). */
  const char *err = vc_scan_cuda_check(&c);
  if (err) return api->CreateStatus(ORT_INVALID_ARGUMENT, err);

  void *stream = NULL;
  if ((st = api->KernelContext_GetGPUComputeStream(ctx, &stream))) return st;
  err = vc_scan_cuda_launch(&c, NULL, stream);
  if (err) return api->CreateStatus(ORT_FAIL, err);
  return NULL;
}

/* Filled once, under the plugin's registration lock (plugin.c). */
static vc_scan_op cuda_bidirectional, cuda_unidirectional;
static int cuda_ops_ready;

OrtStatus *vc_register_cuda_ops(OrtCustomOpDomain *domain, const OrtApi *api) {
  if (!cuda_ops_ready) {
    vc_scan_op_init(&cuda_bidirectional, api, 1, VC_CUDA_PROVIDER, cuda_compute);
    vc_scan_op_init(&cuda_unidirectional, api, 0, VC_CUDA_PROVIDER, cuda_compute);
    cuda_ops_ready = 1;
  }
  OrtStatus *st = api->CustomOpDomain_Add(domain, &cuda_bidirectional.base);
  if (!st) st = api->CustomOpDomain_Add(domain, &cuda_unidirectional.base);
  return st;
}
