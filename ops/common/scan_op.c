/* The op description shared by every provider: ORT callbacks, attribute
 * handling, shape inference and validation of a call's inputs. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/* Role of an input: which of the symbolic sizes {B, L, D, N} its dims are. */
enum { ROLE_ACT, ROLE_A, ROLE_BC, ROLE_VEC };

static const int role_rank[] = {3, 2, 3, 1};
static const int role_dims[][3] = {{0, 1, 2}, {2, 3, -1}, {0, 1, 3}, {2, -1, -1}};
static const char *const role_text[] = {"[B, L, D]", "[D, N]", "[B, L, N]", "[D]"};
static const char *const sym_name = "BLDN";
/* Whether a role's inputs have the op's activation element type T (float32,
 * float16 or bfloat16); the others (A, D, delta_bias: the fp32 islands of the
 * official mixed-precision path) are always float32. */
static const int role_is_act[] = {1, 0, 1, 0};

typedef struct input_desc {
  const char *name;
  int role;
} input_desc;

static const input_desc bi_inputs[VC_BI_INPUTS] = {
    {"u_f", ROLE_ACT}, {"delta_f", ROLE_ACT}, {"A_f", ROLE_A},        {"B_f", ROLE_BC},
    {"C_f", ROLE_BC},  {"D_f", ROLE_VEC},     {"delta_bias_f", ROLE_VEC}, {"u_b", ROLE_ACT},
    {"delta_b", ROLE_ACT}, {"A_b", ROLE_A},   {"B_b", ROLE_BC},       {"C_b", ROLE_BC},
    {"D_b", ROLE_VEC}, {"delta_bias_b", ROLE_VEC}, {"z", ROLE_ACT},
};

static const input_desc uni_inputs[VC_UNI_INPUTS] = {
    {"u", ROLE_ACT}, {"delta", ROLE_ACT}, {"A", ROLE_A},          {"B", ROLE_BC},
    {"C", ROLE_BC},  {"D", ROLE_VEC},     {"delta_bias", ROLE_VEC}, {"z", ROLE_ACT},
};

/* Shape and type of one input as far as known: dims -1 are unknown
 * (symbolic, during shape inference). */
#define VC_MAX_RANK 8
typedef struct vc_dims {
  size_t rank;
  int64_t d[VC_MAX_RANK];
  ONNXTensorElementDataType type;
} vc_dims;

static const char *op_name(int bidirectional) {
  return bidirectional ? VC_OP_BIDIRECTIONAL : VC_OP_UNIDIRECTIONAL;
}

OrtStatus *vc_errorf(const OrtApi *api, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return api->CreateStatus(ORT_INVALID_ARGUMENT, msg);
}

void vc_format_dims(char *buf, size_t n, size_t rank, const int64_t *dims) {
  size_t off = (size_t)snprintf(buf, n, "[");
  for (size_t i = 0; i < rank && off < n; i++) {
    if (dims[i] < 0)
      off += (size_t)snprintf(buf + off, n - off, "%s?", i ? ", " : "");
    else
      off += (size_t)snprintf(buf + off, n - off, "%s%lld", i ? ", " : "", (long long)dims[i]);
  }
  if (off < n) snprintf(buf + off, n - off, "]");
}

OrtStatus *vc_set_output_shape(const OrtApi *api, OrtShapeInferContext *ctx, size_t index,
                               size_t rank, const int64_t *dims, const char *const *params) {
  return vc_set_output_shape_typed(api, ctx, index, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, rank,
                                   dims, params);
}

OrtStatus *vc_set_output_shape_typed(const OrtApi *api, OrtShapeInferContext *ctx, size_t index,
                                     ONNXTensorElementDataType type, size_t rank,
                                     const int64_t *dims, const char *const *params) {
  static unsigned long unknown_counter; /* shape inference may run on several threads */
  char fresh[VC_MAX_RANK][40];
  const char *names[VC_MAX_RANK];
  int64_t values[VC_MAX_RANK];
  if (rank > VC_MAX_RANK) return vc_errorf(api, "vimconvert ops: output rank %zu too large", rank);
  for (size_t i = 0; i < rank; i++) {
    values[i] = dims[i];
    names[i] = "";
    if (dims[i] >= 0) continue;
    values[i] = -1;
    if (params && params[i] && params[i][0]) {
      names[i] = params[i];
    } else {
      unsigned long n = __atomic_add_fetch(&unknown_counter, 1, __ATOMIC_RELAXED);
      snprintf(fresh[i], sizeof fresh[i], "vimconvert_unk_%lu", n);
      names[i] = fresh[i];
    }
  }
  OrtTensorTypeAndShapeInfo *out = NULL;
  OrtStatus *st = api->CreateTensorTypeAndShapeInfo(&out);
  if (!st) st = api->SetTensorElementType(out, type);
  if (!st) st = api->SetDimensions(out, values, rank);
  if (!st) st = api->SetSymbolicDimensions(out, names, rank);
  if (!st) st = api->ShapeInferContext_SetOutputTypeShape(ctx, index, out);
  if (out) api->ReleaseTensorTypeAndShapeInfo(out);
  return st;
}

const char *vc_type_name(ONNXTensorElementDataType t) {
  switch (t) {
  case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return "float32";
  case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return "float16";
  case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return "bfloat16";
  default: return "another type";
  }
}

OrtStatus *vc_shape_inference_done(const OrtApi *api, OrtStatus *st) {
  if (st) api->ReleaseStatus(st);
  return NULL;
}

OrtStatus *vc_symbolic_dims(const OrtApi *api, const OrtTensorTypeAndShapeInfo *info, size_t rank,
                            const char **params) {
  for (size_t i = 0; i < rank; i++) params[i] = "";
  return rank ? api->GetSymbolicDimensions(info, params, rank) : NULL;
}

/* Checks element types, ranks and that all inputs agree on B, L, D, N
 * (unknown dims are skipped). sym receives {B, L, D, N}, -1 where unknown. */
static OrtStatus *check_inputs(const OrtApi *api, int bidirectional,
                               ONNXTensorElementDataType act_type, size_t n, const vc_dims *in,
                               int64_t sym[4]) {
  const input_desc *desc = bidirectional ? bi_inputs : uni_inputs;
  const size_t want = bidirectional ? VC_BI_INPUTS : VC_UNI_INPUTS;
  const char *op = op_name(bidirectional);
  if (n != want)
    return vc_errorf(api, "%s: got %zu inputs, want %zu (see ops/README.md)", op, n, want);
  for (int k = 0; k < 4; k++) sym[k] = -1;
  /* First source of each size, for the message. */
  const char *from[4] = {NULL, NULL, NULL, NULL};
  for (size_t i = 0; i < n; i++) {
    const input_desc *d = &desc[i];
    char got[128];
    ONNXTensorElementDataType want_type =
        role_is_act[d->role] ? act_type : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    if (in[i].type != ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED && in[i].type != want_type)
      return vc_errorf(api, "%s: input %zu (%s) has element type %d, want %s (%d)", op, i,
                       d->name, (int)in[i].type, vc_type_name(want_type), (int)want_type);
    if (in[i].rank != (size_t)role_rank[d->role]) {
      vc_format_dims(got, sizeof got, in[i].rank, in[i].d);
      return vc_errorf(api, "%s: input %zu (%s) has rank %zu (shape %s), want rank %d %s", op, i,
                    d->name, in[i].rank, got, role_rank[d->role], role_text[d->role]);
    }
    for (int j = 0; j < role_rank[d->role]; j++) {
      int k = role_dims[d->role][j];
      int64_t v = in[i].d[j];
      if (v < 0) continue;
      if (sym[k] < 0) {
        sym[k] = v;
        from[k] = d->name;
      } else if (sym[k] != v) {
        vc_format_dims(got, sizeof got, in[i].rank, in[i].d);
        return vc_errorf(api, "%s: input %zu (%s) has shape %s, want %s with %c = %lld (from %s)",
                      op, i, d->name, got, role_text[d->role], sym_name[k], (long long)sym[k],
                      from[k]);
      }
    }
  }
  return NULL;
}

static OrtStatus *dims_of(const OrtApi *api, const OrtTensorTypeAndShapeInfo *info, vc_dims *out,
                          const char *op, size_t index) {
  OrtStatus *st;
  if ((st = api->GetTensorElementType(info, &out->type))) return st;
  if ((st = api->GetDimensionsCount(info, &out->rank))) return st;
  if (out->rank > VC_MAX_RANK)
    return vc_errorf(api, "%s: input %zu has rank %zu, far above any the op takes", op, index,
                  out->rank);
  return api->GetDimensions(info, out->d, out->rank);
}

OrtStatus *vc_scan_prepare(const vc_scan_kernel *k, OrtKernelContext *ctx, vc_scan_args *a) {
  const OrtApi *api = k->api;
  const char *op = op_name(k->bidirectional);
  OrtStatus *st;
  size_t n = 0;
  if ((st = api->KernelContext_GetInputCount(ctx, &n))) return st;
  if (n > VC_BI_INPUTS) n = VC_BI_INPUTS + 1; /* enough to report the mismatch */
  vc_dims dims[VC_BI_INPUTS + 1];
  const OrtValue *vals[VC_BI_INPUTS + 1];
  size_t want = k->bidirectional ? VC_BI_INPUTS : VC_UNI_INPUTS;
  if (n != want) return vc_errorf(api, "%s: got %zu inputs, want %zu", op, n, want);
  for (size_t i = 0; i < n; i++) {
    if ((st = api->KernelContext_GetInput(ctx, i, &vals[i]))) return st;
    if (!vals[i]) return vc_errorf(api, "%s: input %zu is missing", op, i);
    OrtTensorTypeAndShapeInfo *info = NULL;
    if ((st = api->GetTensorTypeAndShape(vals[i], &info))) return st;
    st = dims_of(api, info, &dims[i], op, i);
    api->ReleaseTensorTypeAndShapeInfo(info);
    if (st) return st;
  }
  int64_t sym[4];
  if ((st = check_inputs(api, k->bidirectional, k->act_type, n, dims, sym))) return st;

  memset(a, 0, sizeof *a);
  a->batch = sym[0], a->seqlen = sym[1], a->dim = sym[2], a->dstate = sym[3];
  a->out_scale = k->out_scale;
  int64_t out_dims[3] = {sym[0], sym[1], sym[2]};
  OrtValue *out = NULL;
  if ((st = api->KernelContext_GetOutput(ctx, 0, out_dims, 3, &out))) return st;
  if (sym[0] == 0 || sym[1] == 0 || sym[2] == 0) return NULL; /* empty output, nothing to do */

  const float *p[VC_BI_INPUTS];
  for (size_t i = 0; i < n; i++) {
    void *d = NULL;
    /* Inputs are only read; GetTensorData (const) needs API 23. */
    if ((st = api->GetTensorMutableData((OrtValue *)vals[i], &d))) return st;
    p[i] = d;
  }
  void *y = NULL;
  if ((st = api->GetTensorMutableData(out, &y))) return st;
  a->y = y;
  a->u_f = p[0], a->delta_f = p[1], a->A_f = p[2], a->B_f = p[3], a->C_f = p[4];
  a->D_f = p[5], a->delta_bias_f = p[6];
  if (k->bidirectional) {
    a->u_b = p[7], a->delta_b = p[8], a->A_b = p[9], a->B_b = p[10], a->C_b = p[11];
    a->D_b = p[12], a->delta_bias_b = p[13], a->z = p[14];
  } else {
    a->z = p[7];
  }
  return NULL;
}

/* ---- ORT callbacks ---- */

/* What ORT keeps per node: the provider-neutral kernel and its compute. */
typedef struct kernel_box {
  vc_scan_kernel k; /* first: the compute function gets &k */
  vc_scan_compute_fn compute;
} kernel_box;

static const vc_scan_op *op_of(const OrtCustomOp *op) { return (const vc_scan_op *)op; }

static const char *ORT_API_CALL get_name(const OrtCustomOp *op) {
  return op_name(op_of(op)->bidirectional);
}

static const char *ORT_API_CALL get_provider(const OrtCustomOp *op) {
  return op_of(op)->provider;
}

/* Input i's element type: T for the activations, float32 for A, D and
 * delta_bias. */
static ONNXTensorElementDataType ORT_API_CALL get_input_type(const OrtCustomOp *op, size_t i) {
  const vc_scan_op *o = op_of(op);
  size_t n = o->bidirectional ? VC_BI_INPUTS : VC_UNI_INPUTS;
  if (i >= n) return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  int role = (o->bidirectional ? bi_inputs : uni_inputs)[i].role;
  return role_is_act[role] ? o->act_type : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
}

/* The output y has the activations' type T. */
static ONNXTensorElementDataType ORT_API_CALL get_output_type(const OrtCustomOp *op, size_t i) {
  (void)i;
  return op_of(op)->act_type;
}

static size_t ORT_API_CALL get_input_count(const OrtCustomOp *op) {
  return op_of(op)->bidirectional ? VC_BI_INPUTS : VC_UNI_INPUTS;
}

static size_t ORT_API_CALL get_output_count(const OrtCustomOp *op) {
  (void)op;
  return 1;
}

static OrtCustomOpInputOutputCharacteristic ORT_API_CALL get_required(const OrtCustomOp *op,
                                                                      size_t i) {
  (void)op, (void)i;
  return INPUT_OUTPUT_REQUIRED;
}

static OrtMemType ORT_API_CALL get_mem_type(const OrtCustomOp *op, size_t i) {
  (void)op, (void)i;
  return OrtMemTypeDefault;
}

static int ORT_API_CALL get_one(const OrtCustomOp *op) {
  (void)op;
  return 1;
}

static int ORT_API_CALL get_end_version(const OrtCustomOp *op) {
  (void)op;
  return INT_MAX;
}

void vc_op_set_common(OrtCustomOp *c) {
  c->version = VC_ORT_API_VERSION;
  c->GetInputCharacteristic = get_required;
  c->GetOutputCharacteristic = get_required;
  c->GetInputMemoryType = get_mem_type;
  c->GetVariadicInputMinArity = get_one;
  c->GetVariadicInputHomogeneity = get_one;
  c->GetVariadicOutputMinArity = get_one;
  c->GetVariadicOutputHomogeneity = get_one;
  c->GetStartVersion = get_one;
  c->GetEndVersion = get_end_version;
}

/* The type of the node's attribute `name` when it has one, NULL when it
 * has none. ORT's C API (v17) cannot list attributes, so each type it reads
 * is tried in turn; int_error is the message of the failed int read. Types
 * no v17 call reads (strings, tensors, graphs, empty lists) are recognised by ORT's
 * message: an absent attribute fails with "No attribute with name ...", so
 * any other failure means it is there. Should ORT change that wording,
 * absent attributes become a loud error (every model without the attribute
 * is refused and the tests fail), never a silently wrong default. */
static const char *attribute_type(const OrtApi *api, const OrtKernelInfo *info, const char *name,
                                  const char *int_error) {
  size_t size = 0;
  float f = 0;
  OrtStatus *st;
  if (!(st = api->KernelInfoGetAttribute_float(info, name, &f))) return "a float";
  api->ReleaseStatus(st);
  if (!(st = api->KernelInfoGetAttribute_string(info, name, NULL, &size))) return "a string";
  api->ReleaseStatus(st);
  /* The array reads succeed with size 0 for an attribute of any type
   * (ORT 1.24-1.29 does not check it), so only a non-empty list counts. */
  size = 0;
  if (!(st = api->KernelInfoGetAttributeArray_int64(info, name, NULL, &size))) {
    if (size > 0) return "a list of ints";
  } else {
    api->ReleaseStatus(st);
  }
  size = 0;
  if (!(st = api->KernelInfoGetAttributeArray_float(info, name, NULL, &size))) {
    if (size > 0) return "a list of floats";
  } else {
    api->ReleaseStatus(st);
  }
  return strstr(int_error, "No attribute") ? NULL : "another type";
}

/* Reads the int attribute `name` into *out, leaving *out (the default)
 * unchanged when the node has none. A present attribute of another type
 * (float 0.0, "0", [0], ...) is an error naming it, never the default. */
static OrtStatus *read_int_attribute(const OrtApi *api, const OrtKernelInfo *info,
                                     const char *op, const char *name, int64_t *out) {
  int64_t v = 0;
  OrtStatus *st = api->KernelInfoGetAttribute_int64(info, name, &v);
  if (!st) {
    *out = v;
    return NULL;
  }
  char why[256];
  snprintf(why, sizeof why, "%s", api->GetErrorMessage(st));
  api->ReleaseStatus(st);
  const char *type = attribute_type(api, info, name, why);
  if (!type) return NULL;
  return vc_errorf(api, "%s: attribute %s is %s, want an int (ORT: %s)", op, name, type, why);
}

/* Whether the node has an attribute `name` of any type. */
static int has_attribute(const OrtApi *api, const OrtKernelInfo *info, const char *name) {
  int64_t v = 0;
  OrtStatus *st = api->KernelInfoGetAttribute_int64(info, name, &v);
  if (!st) return 1;
  char why[256];
  snprintf(why, sizeof why, "%s", api->GetErrorMessage(st));
  api->ReleaseStatus(st);
  return attribute_type(api, info, name, why) != NULL;
}

static OrtStatus *ORT_API_CALL create_kernel(const OrtCustomOp *op, const OrtApi *api,
                                             const OrtKernelInfo *info, void **kernel) {
  const vc_scan_op *o = op_of(op);
  float scale = 1.0f;
  if (o->bidirectional) {
    int64_t divide_out = 1; /* absent: the default */
    OrtStatus *st = read_int_attribute(api, info, VC_OP_BIDIRECTIONAL, "divide_out", &divide_out);
    if (st) return st;
    if (divide_out != 0 && divide_out != 1)
      return vc_errorf(api, "%s: attribute divide_out = %lld, want 0 or 1", VC_OP_BIDIRECTIONAL,
                    (long long)divide_out);
    scale = divide_out ? 0.5f : 1.0f;
  } else {
    /* divide_out averages the two directions: meaningless for one. Refused
     * rather than ignored, so that a graph that means it is not silently
     * run unscaled. */
    if (has_attribute(api, info, "divide_out"))
      return vc_errorf(api, "%s: has no attribute divide_out (only %s has)", VC_OP_UNIDIRECTIONAL,
                    VC_OP_BIDIRECTIONAL);
  }
  kernel_box *b = malloc(sizeof *b);
  if (!b) return api->CreateStatus(ORT_FAIL, "vimconvert ops: out of memory");
  b->k.api = api;
  b->k.bidirectional = o->bidirectional;
  b->k.out_scale = scale;
  b->k.act_type = o->act_type;
  b->compute = o->compute;
  *kernel = b;
  return NULL;
}

static OrtStatus *ORT_API_CALL compute(void *kernel, OrtKernelContext *ctx) {
  kernel_box *b = kernel;
  return b->compute(&b->k, ctx);
}

static void ORT_API_CALL destroy_kernel(void *kernel) { free(kernel); }

/* Output 0 is [B, L, D] of the activations' type T: each size known from
 * any input, else the symbolic name of input 0's dim (an unnamed one gets a
 * fresh name, never -1). Sizes known from the model are validated too, but
 * ORT (1.24.3-1.31.1) ignores an error from shape inference and creates the
 * session anyway: such an error is released unreported
 * (vc_shape_inference_done) and the check that counts is the one in
 * vc_scan_prepare at run time. */
static OrtStatus *infer_shape_checked(const vc_scan_op *o, OrtShapeInferContext *ctx) {
  const OrtApi *api = o->api;
  const char *name = op_name(o->bidirectional);
  OrtStatus *st;
  size_t n = 0;
  if ((st = api->ShapeInferContext_GetInputCount(ctx, &n))) return st;
  size_t want = o->bidirectional ? VC_BI_INPUTS : VC_UNI_INPUTS;
  if (n != want) return vc_errorf(api, "%s: got %zu inputs, want %zu", name, n, want);
  vc_dims dims[VC_BI_INPUTS];
  const char *params[VC_MAX_RANK]; /* input 0's symbolic dims */
  /* The infos belong to the context (ORT frees them): not released here. */
  for (size_t i = 0; i < n; i++) {
    OrtTensorTypeAndShapeInfo *info = NULL;
    if ((st = api->ShapeInferContext_GetInputTypeShape(ctx, i, &info))) return st;
    if (!info) return vc_errorf(api, "%s: input %zu has no tensor type", name, i);
    if ((st = dims_of(api, info, &dims[i], name, i))) return st;
    if (i == 0 && (st = vc_symbolic_dims(api, info, dims[0].rank, params))) return st;
    if (dims[i].rank == 0) {
      /* No shape information (ORT reports it as rank 0): all unknown.
       * A true scalar is rejected at compute time. */
      const input_desc *d = &(o->bidirectional ? bi_inputs : uni_inputs)[i];
      dims[i].rank = (size_t)role_rank[d->role];
      for (size_t j = 0; j < dims[i].rank; j++) dims[i].d[j] = -1;
      if (i == 0)
        for (size_t j = 0; j < dims[i].rank; j++) params[j] = NULL;
    }
  }
  int64_t sym[4];
  if ((st = check_inputs(api, o->bidirectional, o->act_type, n, dims, sym))) return st;
  /* [B, L, D]: sizes known from any input, else input 0's dim names. */
  const int64_t out_dims[3] = {sym[0], sym[1], sym[2]};
  return vc_set_output_shape_typed(api, ctx, 0, o->act_type, 3, out_dims, params);
}

static OrtStatus *ORT_API_CALL infer_shape(const OrtCustomOp *op, OrtShapeInferContext *ctx) {
  const vc_scan_op *o = op_of(op);
  return vc_shape_inference_done(o->api, infer_shape_checked(o, ctx));
}

void vc_scan_op_init(vc_scan_op *op, const OrtApi *api, int bidirectional, const char *provider,
                     vc_scan_compute_fn compute_fn) {
  vc_scan_op_init_typed(op, api, bidirectional, provider, compute_fn,
                        ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT);
}

void vc_scan_op_init_typed(vc_scan_op *op, const OrtApi *api, int bidirectional,
                           const char *provider, vc_scan_compute_fn compute_fn,
                           ONNXTensorElementDataType act_type) {
  memset(op, 0, sizeof *op);
  op->act_type = act_type;
  op->bidirectional = bidirectional;
  op->provider = provider;
  op->compute = compute_fn;
  op->api = api;
  OrtCustomOp *c = &op->base;
  vc_op_set_common(c);
  c->GetName = get_name;
  c->GetExecutionProviderType = get_provider;
  c->GetInputType = get_input_type;
  c->GetInputTypeCount = get_input_count;
  c->GetOutputType = get_output_type;
  c->GetOutputTypeCount = get_output_count;
  c->CreateKernelV2 = create_kernel;
  c->KernelComputeV2 = compute;
  c->KernelDestroy = destroy_kernel;
  c->InferOutputShapeFn = infer_shape;
  /* CreateKernel/KernelCompute (pre-V2) stay NULL: ORT uses the V2 pair for
   * version >= 16. Fields after GetEndVersion belong to versions > 17. */
}
