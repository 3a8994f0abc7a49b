/* Entry point of the vimconvert ONNX Runtime custom-op plugin
 * (build/libvimconvert_ops.so). See ops/README.md for the ops.
 *
 * RegisterCustomOps is the entry point a host calls. It creates the
 * "ai.vimconvert" domain with the CPU ops (and the CUDA ops when built with
 * nvcc), adds it to the session options and appends the attribute check
 * (attr_check.c, whose CreateEpFactories/ReleaseEpFactory are the library's
 * only other exports, called by ORT itself). */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

#include "../cpu/half.h"
#include "plugin.h"

/* CPU compute: validate, then run the work items on ORT's intra-op threads. */
static void cpu_work_item(void *args, size_t i) {
  vc_scan_cpu_range((const vc_scan_args *)args, (int64_t)i, (int64_t)i + 1);
}

/* Runs the float32 scan on a (all pointers float32). */
static OrtStatus *cpu_run(const vc_scan_kernel *k, OrtKernelContext *ctx, vc_scan_args *a) {
  int64_t items = vc_scan_cpu_num_items(a);
  if (items <= 0) return NULL;
  if (items == 1) {
    vc_scan_cpu(a);
    return NULL;
  }
  return k->api->KernelContext_ParallelFor(ctx, cpu_work_item, (size_t)items, 0, a);
}

/* Widens n 16-bit values of type t (float16 or bfloat16) into dst. */
static void widen(ONNXTensorElementDataType t, const void *src, float *dst, size_t n) {
  const uint16_t *h = src;
  if (t == ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16)
    for (size_t i = 0; i < n; i++) dst[i] = vc_bf16_to_f32(h[i]);
  else
    for (size_t i = 0; i < n; i++) dst[i] = vc_f16_to_f32(h[i]);
}

/* Narrows n float32 values into dst of 16-bit type t, nearest even. */
static void narrow(ONNXTensorElementDataType t, const float *src, void *dst, size_t n) {
  uint16_t *h = dst;
  if (t == ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16)
    for (size_t i = 0; i < n; i++) h[i] = vc_f32_to_bf16(src[i]);
  else
    for (size_t i = 0; i < n; i++) h[i] = vc_f32_to_f16(src[i]);
}

/* The 16-bit ops: u, delta, B, C, z are widened to float32 copies, the
 * float32 scan runs on them (state and sums in float32, as the official
 * kernel keeps them) and y is rounded once to the 16-bit type. */
static OrtStatus *cpu_run_16bit(const vc_scan_kernel *k, OrtKernelContext *ctx, vc_scan_args *a) {
  const size_t act = (size_t)(a->batch * a->seqlen * a->dim);    /* [B, L, D] */
  const size_t bc = (size_t)(a->batch * a->seqlen * a->dstate);  /* [B, L, N] */
  const int bi = a->u_b != NULL;
  const size_t total = act * (bi ? 6 : 4) + bc * (bi ? 4 : 2);
  float *buf = malloc(total * sizeof *buf);
  if (!buf) return k->api->CreateStatus(ORT_FAIL, "vimconvert ops: out of memory (16-bit scan)");
  const ONNXTensorElementDataType t = k->act_type;
  float *p = buf;
  const float **acts[] = {&a->u_f, &a->delta_f, &a->z, &a->u_b, &a->delta_b};
  const float **bcs[] = {&a->B_f, &a->C_f, &a->B_b, &a->C_b};
  for (size_t i = 0; i < (bi ? 5u : 3u); i++) {
    widen(t, *acts[i], p, act);
    *acts[i] = p;
    p += act;
  }
  for (size_t i = 0; i < (bi ? 4u : 2u); i++) {
    widen(t, *bcs[i], p, bc);
    *bcs[i] = p;
    p += bc;
  }
  void *y16 = a->y;
  a->y = p; /* the last act-sized slot */
  OrtStatus *st = cpu_run(k, ctx, a);
  if (!st) narrow(t, a->y, y16, act);
  free(buf);
  return st;
}

static OrtStatus *cpu_compute(const vc_scan_kernel *k, OrtKernelContext *ctx) {
  vc_scan_args a;
  OrtStatus *st = vc_scan_prepare(k, ctx, &a);
  if (st) return st;
  if (k->act_type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
    if (vc_scan_cpu_num_items(&a) <= 0) return NULL;
    return cpu_run_16bit(k, ctx, &a);
  }
  return cpu_run(k, ctx, &a);
}

static vc_scan_op cpu_bidirectional, cpu_unidirectional;
/* The same ops for float16 and bfloat16 activations (one schema per name,
 * ORT picks the kernel by input type). */
static vc_scan_op cpu16_bidirectional, cpu16_unidirectional, cpubf16_bidirectional,
    cpubf16_unidirectional;
static OrtCustomOp cpu_conv;

/* Serialises registrations: the op tables are filled on first use and the
 * CUDA registration may keep its own static state. */
static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;
static int ops_ready;
/* The API table the op tables were filled with. The ops call it from every
 * kernel, so a second ONNX Runtime library in the same process (another
 * table) cannot use them: its registration is refused. */
static const OrtApi *ops_api;

__attribute__((visibility("default"))) OrtStatus *ORT_API_CALL
RegisterCustomOps(OrtSessionOptions *options, const OrtApiBase *api_base) {
  const OrtApi *api = api_base->GetApi(VC_ORT_API_VERSION);
  if (!api) {
    /* Too old a runtime. Version 1 of the API has CreateStatus. */
    const OrtApi *v1 = api_base->GetApi(1);
    if (!v1) return NULL; /* cannot even report it */
    return v1->CreateStatus(ORT_FAIL,
                            "vimconvert ops: ONNX Runtime too old, the plugin needs C API "
                            "version 17 (ONNX Runtime >= 1.17)");
  }
  pthread_mutex_lock(&register_lock);
  if (ops_ready && api != ops_api) {
    pthread_mutex_unlock(&register_lock);
    return api->CreateStatus(ORT_FAIL,
                             "vimconvert ops: the plugin is already registered with another ONNX "
                             "Runtime library in this process; one process can use it with one");
  }
  if (!ops_ready) {
    ops_api = api;
    vc_scan_op_init(&cpu_bidirectional, api, 1, NULL, cpu_compute);
    vc_scan_op_init(&cpu_unidirectional, api, 0, NULL, cpu_compute);
    vc_scan_op_init_typed(&cpu16_bidirectional, api, 1, NULL, cpu_compute,
                          ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16);
    vc_scan_op_init_typed(&cpu16_unidirectional, api, 0, NULL, cpu_compute,
                          ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16);
    vc_scan_op_init_typed(&cpubf16_bidirectional, api, 1, NULL, cpu_compute,
                          ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16);
    vc_scan_op_init_typed(&cpubf16_unidirectional, api, 0, NULL, cpu_compute,
                          ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16);
    vc_conv_op_init(&cpu_conv, api);
    ops_ready = 1;
  }
  OrtCustomOpDomain *domain = NULL;
  OrtStatus *st = api->CreateCustomOpDomain(VC_DOMAIN, &domain);
  if (!st) st = api->CustomOpDomain_Add(domain, &cpu_bidirectional.base);
  if (!st) st = api->CustomOpDomain_Add(domain, &cpu_unidirectional.base);
  if (!st) st = api->CustomOpDomain_Add(domain, &cpu16_bidirectional.base);
  if (!st) st = api->CustomOpDomain_Add(domain, &cpu16_unidirectional.base);
  if (!st) st = api->CustomOpDomain_Add(domain, &cpubf16_bidirectional.base);
  if (!st) st = api->CustomOpDomain_Add(domain, &cpubf16_unidirectional.base);
  if (!st) st = api->CustomOpDomain_Add(domain, &cpu_conv);
  if (!st) st = vc_register_cuda_ops(domain, api);
  /* The check before the domain: once the options hold the domain, it must
   * not be released, so nothing may fail after AddCustomOpDomain. */
  if (!st) st = vc_attribute_check_register(options, api_base);
  if (!st) st = api->AddCustomOpDomain(options, domain);
  if (st && domain) api->ReleaseCustomOpDomain(domain);
  /* On success the domain is deliberately never released: the options and
   * every session created from them refer to it, and ORT does not tell the
   * plugin when the last of them is gone. It is a few hundred bytes per
   * registration; the library is linked -z nodelete so its ops stay valid. */
  pthread_mutex_unlock(&register_lock);
  return st;
}
