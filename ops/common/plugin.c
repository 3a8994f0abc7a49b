/* Entry point of the vimconvert ONNX Runtime custom-op plugin
 * (build/libvimconvert_ops.so). See ops/README.md for the ops.
 *
 * RegisterCustomOps is the only exported symbol. It creates the
 * "ai.vimconvert" domain with the CPU ops (and the CUDA ops when built with
 * nvcc) and adds it to the session options. */
#include <pthread.h>
#include <stddef.h>

#include "plugin.h"

/* CPU compute: validate, then run the work items on ORT's intra-op threads. */
static void cpu_work_item(void *args, size_t i) {
  vc_scan_cpu_range((const vc_scan_args *)args, (int64_t)i, (int64_t)i + 1);
}

static OrtStatus *cpu_compute(const vc_scan_kernel *k, OrtKernelContext *ctx) {
  vc_scan_args a;
  OrtStatus *st = vc_scan_prepare(k, ctx, &a);
  if (st) return st;
  int64_t items = vc_scan_cpu_num_items(&a);
  if (items <= 0) return NULL;
  if (items == 1) {
    vc_scan_cpu(&a);
    return NULL;
  }
  return k->api->KernelContext_ParallelFor(ctx, cpu_work_item, (size_t)items, 0, &a);
}

static vc_scan_op cpu_bidirectional, cpu_unidirectional;
static OrtCustomOp cpu_conv;

/* Serialises registrations: the op tables are filled on first use and the
 * CUDA registration may keep its own static state. */
static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;
static int ops_ready;

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
  if (!ops_ready) {
    vc_scan_op_init(&cpu_bidirectional, api, 1, NULL, cpu_compute);
    vc_scan_op_init(&cpu_unidirectional, api, 0, NULL, cpu_compute);
    vc_conv_op_init(&cpu_conv, api);
    ops_ready = 1;
  }
  OrtCustomOpDomain *domain = NULL;
  OrtStatus *st = api->CreateCustomOpDomain(VC_DOMAIN, &domain);
  if (!st) st = api->CustomOpDomain_Add(domain, &cpu_bidirectional.base);
  if (!st) st = api->CustomOpDomain_Add(domain, &cpu_unidirectional.base);
  if (!st) st = api->CustomOpDomain_Add(domain, &cpu_conv);
  if (!st) st = vc_register_cuda_ops(domain, api);
  if (!st) st = api->AddCustomOpDomain(options, domain);
  if (st && domain) api->ReleaseCustomOpDomain(domain);
  /* On success the domain is deliberately never released: the options and
   * every session created from them refer to it, and ORT does not tell the
   * plugin when the last of them is gone. It is a few hundred bytes per
   * registration; the library is linked -z nodelete so its ops stay valid. */
  pthread_mutex_unlock(&register_lock);
  return st;
}
