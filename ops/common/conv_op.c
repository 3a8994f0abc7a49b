/* The CausalConv1dSiLUBidirectional op (ops/README.md): ORT callbacks, shape
 * inference and validation, and the CPU compute (conv_cpu.h). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cpu/conv_cpu.h"
#include "plugin.h"

#define CONV_MAX_RANK 8

/* Calls with fewer output elements (per output) than this run serially. */
#define VC_CONV_SERIAL_BELOW (1 << 18)

static const char *const conv_input_names[VC_CONV_INPUTS] = {"x", "w_f", "b_f", "w_b", "b_b"};
static const int conv_input_rank[VC_CONV_INPUTS] = {3, 3, 1, 3, 1};
static const char *const conv_input_text[VC_CONV_INPUTS] = {"[B, L, X] with X >= D", "[D, 1, K]",
                                                            "[D]", "[D, 1, K]", "[D]"};

typedef struct conv_dims {
  size_t rank;
  int64_t d[CONV_MAX_RANK];
  ONNXTensorElementDataType type;
} conv_dims;

/* Checks types, ranks and sizes; unknown (-1) dims are skipped. sym gets
 * {B, L, X, D, K}, -1 where unknown. */
static OrtStatus *conv_check(const OrtApi *api, size_t n, const conv_dims *in, int64_t sym[5]) {
  const char *op = VC_OP_CONV;
  if (n != VC_CONV_INPUTS)
    return vc_errorf(api, "%s: got %zu inputs, want %d (see ops/README.md)", op, n,
                       VC_CONV_INPUTS);
  char got[128];
  for (size_t i = 0; i < n; i++) {
    if (in[i].type != ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED &&
        in[i].type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
      return vc_errorf(api, "%s: input %zu (%s) has element type %d, want float32 (%d)", op, i,
                         conv_input_names[i], (int)in[i].type,
                         (int)ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT);
    if (in[i].rank != (size_t)conv_input_rank[i]) {
      vc_format_dims(got, sizeof got, in[i].rank, in[i].d);
      return vc_errorf(api, "%s: input %zu (%s) has rank %zu (shape %s), want rank %d %s", op, i,
                         conv_input_names[i], in[i].rank, got, conv_input_rank[i],
                         conv_input_text[i]);
    }
  }
  sym[0] = in[0].d[0], sym[1] = in[0].d[1], sym[2] = in[0].d[2];
  sym[3] = in[1].d[0], sym[4] = in[1].d[2];
  if (in[1].d[1] >= 0 && in[1].d[1] != 1) {
    vc_format_dims(got, sizeof got, in[1].rank, in[1].d);
    return vc_errorf(api, "%s: input 1 (w_f) has shape %s, want [D, 1, K] (one input channel per group)", op, got);
  }
  if (sym[4] == 0) return vc_errorf(api, "%s: input 1 (w_f) has K = 0 taps, want K >= 1", op);
  /* w_b must match w_f; b_f and b_b are [D]. */
  for (size_t i = 2; i < n; i++) {
    const int64_t *want = i == 3 ? (const int64_t[3]){sym[3], 1, sym[4]} : &sym[3];
    for (size_t j = 0; j < in[i].rank; j++) {
      if (in[i].d[j] < 0 || want[j] < 0 || in[i].d[j] == want[j]) continue;
      vc_format_dims(got, sizeof got, in[i].rank, in[i].d);
      return vc_errorf(api, "%s: input %zu (%s) has shape %s, want %s with D = %lld, K = %lld (from w_f)",
                         op, i, conv_input_names[i], got, conv_input_text[i], (long long)sym[3],
                         (long long)sym[4]);
    }
  }
  if (sym[2] >= 0 && sym[3] >= 0 && sym[2] < sym[3]) {
    vc_format_dims(got, sizeof got, in[0].rank, in[0].d);
    return vc_errorf(api, "%s: input 0 (x) has shape %s, want [B, L, X] with X >= D = %lld (from w_f)",
                       op, got, (long long)sym[3]);
  }
  return NULL;
}

static OrtStatus *conv_dims_of(const OrtApi *api, const OrtTensorTypeAndShapeInfo *info,
                               conv_dims *out, size_t index) {
  OrtStatus *st;
  if ((st = api->GetTensorElementType(info, &out->type))) return st;
  if ((st = api->GetDimensionsCount(info, &out->rank))) return st;
  if (out->rank > CONV_MAX_RANK)
    return vc_errorf(api, "%s: input %zu has rank %zu, far above any the op takes", VC_OP_CONV,
                       index, out->rank);
  return api->GetDimensions(info, out->d, out->rank);
}

static void conv_work_item(void *args, size_t i) {
  vc_conv_cpu_range((const vc_conv_args *)args, (int64_t)i, (int64_t)i + 1);
}

typedef struct conv_kernel {
  const OrtApi *api;
} conv_kernel;

static OrtStatus *ORT_API_CALL conv_compute(void *kernel, OrtKernelContext *ctx) {
  const OrtApi *api = ((conv_kernel *)kernel)->api;
  OrtStatus *st;
  size_t n = 0;
  if ((st = api->KernelContext_GetInputCount(ctx, &n))) return st;
  if (n != VC_CONV_INPUTS)
    return vc_errorf(api, "%s: got %zu inputs, want %d", VC_OP_CONV, n, VC_CONV_INPUTS);
  conv_dims dims[VC_CONV_INPUTS];
  const OrtValue *vals[VC_CONV_INPUTS];
  for (size_t i = 0; i < n; i++) {
    if ((st = api->KernelContext_GetInput(ctx, i, &vals[i]))) return st;
    if (!vals[i]) return vc_errorf(api, "%s: input %zu is missing", VC_OP_CONV, i);
    OrtTensorTypeAndShapeInfo *info = NULL;
    if ((st = api->GetTensorTypeAndShape(vals[i], &info))) return st;
    st = conv_dims_of(api, info, &dims[i], i);
    api->ReleaseTensorTypeAndShapeInfo(info);
    if (st) return st;
  }
  int64_t sym[5];
  if ((st = conv_check(api, n, dims, sym))) return st;
  const int64_t B = sym[0], L = sym[1], X = sym[2], D = sym[3], K = sym[4];
  int64_t out_dims[3] = {B, L, D};
  OrtValue *outs[2] = {NULL, NULL};
  for (size_t o = 0; o < 2; o++)
    if ((st = api->KernelContext_GetOutput(ctx, o, out_dims, 3, &outs[o]))) return st;
  if (B == 0 || L == 0 || D == 0) return NULL; /* empty outputs */

  const float *p[VC_CONV_INPUTS];
  for (size_t i = 0; i < n; i++) {
    void *d = NULL;
    /* Inputs are only read; GetTensorData (const) needs API 23. */
    if ((st = api->GetTensorMutableData((OrtValue *)vals[i], &d))) return st;
    p[i] = d;
  }
  void *uf = NULL, *ub = NULL;
  if ((st = api->GetTensorMutableData(outs[0], &uf))) return st;
  if ((st = api->GetTensorMutableData(outs[1], &ub))) return st;

  /* Taps as [K, D] rows (backward ones reversed): 2·K·D floats per call. */
  float *taps = malloc(sizeof(float) * 2 * (size_t)K * (size_t)D);
  if (!taps) return api->CreateStatus(ORT_FAIL, "vimconvert ops: out of memory");
  vc_conv_taps(p[1], D, K, 0, taps);
  vc_conv_taps(p[3], D, K, 1, taps + K * D);
  vc_conv_args a = {
      .batch = B, .seqlen = L, .dim = D, .kernel = K, .x_stride = X, .x = p[0],
      .wf_t = taps, .bf = p[2], .wb_t = taps + K * D, .bb = p[4], .u_f = uf, .u_b = ub,
  };
  int64_t items = vc_conv_cpu_num_items(&a);
  /* Small calls run on the calling thread: at B·L·D = 197 × 384 (Vim-T at
   * 224, ~40 µs of work) handing 4 items to a second thread made the whole
   * model ~25 % slower at 2 threads (33-35 vs 27 ms), 1248 (6085 tokens)
   * gained from it. */
  if (items == 1 || B * L * D < VC_CONV_SERIAL_BELOW)
    vc_conv_cpu(&a);
  else if (items > 1)
    st = api->KernelContext_ParallelFor(ctx, conv_work_item, (size_t)items, 0, &a);
  free(taps);
  return st;
}

/* ---- ORT callbacks ---- */

static const OrtApi *conv_shape_api; /* for shape inference, which gets no api argument */

static const char *ORT_API_CALL conv_get_name(const OrtCustomOp *op) {
  (void)op;
  return VC_OP_CONV;
}

static const char *ORT_API_CALL conv_get_provider(const OrtCustomOp *op) {
  (void)op;
  return NULL; /* CPUExecutionProvider */
}

static ONNXTensorElementDataType ORT_API_CALL conv_float_type(const OrtCustomOp *op, size_t i) {
  (void)op, (void)i;
  return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
}

static size_t ORT_API_CALL conv_input_count(const OrtCustomOp *op) {
  (void)op;
  return VC_CONV_INPUTS;
}

static size_t ORT_API_CALL conv_output_count(const OrtCustomOp *op) {
  (void)op;
  return 2;
}


static OrtStatus *ORT_API_CALL conv_create_kernel(const OrtCustomOp *op, const OrtApi *api,
                                                  const OrtKernelInfo *info, void **kernel) {
  (void)op, (void)info;
  conv_kernel *k = malloc(sizeof *k);
  if (!k) return api->CreateStatus(ORT_FAIL, "vimconvert ops: out of memory");
  k->api = api;
  *kernel = k;
  return NULL;
}

static void ORT_API_CALL conv_destroy_kernel(void *kernel) { free(kernel); }

/* Both outputs are float32 [B, L, D]: B and L from x, D from w_f, with
 * their symbolic names (an unnamed unknown dim gets a fresh name, never
 * -1). As for the scan, ORT ignores an error returned from shape
 * inference: it is released unreported (vc_shape_inference_done) and the
 * check that counts is the one at run time. */
static OrtStatus *conv_infer_shape_checked(OrtShapeInferContext *ctx) {
  const OrtApi *api = conv_shape_api;
  OrtStatus *st;
  size_t n = 0;
  if ((st = api->ShapeInferContext_GetInputCount(ctx, &n))) return st;
  if (n != VC_CONV_INPUTS)
    return vc_errorf(api, "%s: got %zu inputs, want %d", VC_OP_CONV, n, VC_CONV_INPUTS);
  conv_dims dims[VC_CONV_INPUTS];
  /* Symbolic names of x's and w_f's dims ("" where none). */
  const char *x_params[CONV_MAX_RANK] = {0}, *w_params[CONV_MAX_RANK] = {0};
  for (size_t i = 0; i < n; i++) {
    OrtTensorTypeAndShapeInfo *info = NULL; /* owned by the context */
    if ((st = api->ShapeInferContext_GetInputTypeShape(ctx, i, &info))) return st;
    if (!info) return vc_errorf(api, "%s: input %zu has no tensor type", VC_OP_CONV, i);
    if ((st = conv_dims_of(api, info, &dims[i], i))) return st;
    const char **params = i == 0 ? x_params : i == 1 ? w_params : NULL;
    if (params && (st = vc_symbolic_dims(api, info, dims[i].rank, params))) return st;
    if (dims[i].rank == 0) { /* no shape information: all unknown */
      dims[i].rank = (size_t)conv_input_rank[i];
      for (size_t j = 0; j < dims[i].rank; j++) dims[i].d[j] = -1;
    }
  }
  int64_t sym[5];
  if ((st = conv_check(api, n, dims, sym))) return st;
  /* Outputs [B, L, D]: x's dims 0 and 1, w_f's dim 0. */
  const int64_t out_dims[3] = {sym[0], sym[1], sym[3]};
  const char *const out_params[3] = {x_params[0], x_params[1], w_params[0]};
  st = vc_set_output_shape(api, ctx, 0, 3, out_dims, out_params);
  if (!st) st = vc_set_output_shape(api, ctx, 1, 3, out_dims, out_params);
  return st;
}

static OrtStatus *ORT_API_CALL conv_infer_shape(const OrtCustomOp *op, OrtShapeInferContext *ctx) {
  (void)op;
  return vc_shape_inference_done(conv_shape_api, conv_infer_shape_checked(ctx));
}

void vc_conv_op_init(OrtCustomOp *c, const OrtApi *api) {
  memset(c, 0, sizeof *c);
  conv_shape_api = api;
  vc_op_set_common(c);
  c->GetName = conv_get_name;
  c->GetExecutionProviderType = conv_get_provider;
  c->GetInputType = conv_float_type;
  c->GetInputTypeCount = conv_input_count;
  c->GetOutputType = conv_float_type;
  c->GetOutputTypeCount = conv_output_count;
  c->CreateKernelV2 = conv_create_kernel;
  c->KernelComputeV2 = conv_compute;
  c->KernelDestroy = conv_destroy_kernel;
  c->InferOutputShapeFn = conv_infer_shape;
}
