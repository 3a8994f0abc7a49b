/* Shared declarations of the vimconvert custom-op plugin (ops/README.md).
 *
 * plugin.c owns the entry point and the CPU ops; an execution provider's ops
 * (cuda/) reuse the op description and input validation declared here and
 * only supply a compute function. */
#ifndef VIMCONVERT_OPS_COMMON_PLUGIN_H
#define VIMCONVERT_OPS_COMMON_PLUGIN_H

#include "../include/onnxruntime/onnxruntime_c_api.h"
#include "../cpu/scan_cpu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Custom op domain of every op here. */
#define VC_DOMAIN "ai.vimconvert"

/* ORT C API version the plugin asks for (GetApi) and puts in
 * OrtCustomOp.version. 17 (ONNX Runtime 1.17) is the lowest that has
 * everything used: CreateKernelV2/KernelComputeV2 (16), InferOutputShapeFn,
 * the ShapeInferContext_* functions and KernelContext_ParallelFor (17).
 * A runtime older than 1.17 refuses the plugin with a clear error. Ops of
 * other providers must use the same number. */
#define VC_ORT_API_VERSION 17

/* Names of the ops. */
#define VC_OP_BIDIRECTIONAL "SelectiveScanBidirectional"
#define VC_OP_UNIDIRECTIONAL "SelectiveScan"
#define VC_OP_CONV "CausalConv1dSiLUBidirectional"

/* Inputs of the conv op: x, w_f, b_f, w_b, b_b. */
#define VC_CONV_INPUTS 5

/* Input counts: 15 for the bidirectional op (u_f..delta_bias_f, u_b..
 * delta_bias_b, z), 8 for the unidirectional one (u..delta_bias, z). */
#define VC_BI_INPUTS 15
#define VC_UNI_INPUTS 8

/* One kernel instance (one node of a session). */
typedef struct vc_scan_kernel {
  const OrtApi *api;
  int bidirectional;
  float out_scale; /* 0.5 when divide_out = 1 (bidirectional default), else 1 */
  /* Element type T of u, delta, B, C, z and y: float32, float16 or
   * bfloat16 (A, D, delta_bias are always float32). */
  ONNXTensorElementDataType act_type;
} vc_scan_kernel;

/* Compute function of one execution provider. It receives the kernel and the
 * context; vc_scan_prepare does the validation and output allocation. */
typedef OrtStatus *(*vc_scan_compute_fn)(const vc_scan_kernel *k, OrtKernelContext *ctx);

/* An op as registered with ORT. base must stay the first member: ORT hands
 * back &base, which the callbacks cast to vc_scan_op. */
typedef struct vc_scan_op {
  OrtCustomOp base;
  int bidirectional;
  const char *provider; /* NULL = CPUExecutionProvider, or e.g. "CUDAExecutionProvider" */
  vc_scan_compute_fn compute;
  const OrtApi *api; /* for shape inference, which gets no api argument */
  ONNXTensorElementDataType act_type; /* T: see vc_scan_kernel.act_type */
} vc_scan_op;

/* vc_errorf returns an ORT_INVALID_ARGUMENT status with a printf-style
 * message (at most 511 bytes). */
OrtStatus *vc_errorf(const OrtApi *api, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* vc_format_dims writes dims as "[2, ?, 16]" (negative = unknown) into buf. */
void vc_format_dims(char *buf, size_t n, size_t rank, const int64_t *dims);

/* vc_set_output_shape sets output `index` of a shape-inference context to
 * a float32 tensor of the given rank. Dim i is dims[i] when >= 0, else the
 * symbolic name params[i] (params may be NULL; a NULL or empty name gets a
 * fresh unique one, "vimconvert_unk_N"). Never a literal -1: ORT would
 * store it as the size -1 and warn on every run that the actual size
 * differs ("VerifyOutputSizes ... Expected shape from model of {-1,1000}"). */
OrtStatus *vc_set_output_shape(const OrtApi *api, OrtShapeInferContext *ctx, size_t index,
                               size_t rank, const int64_t *dims, const char *const *params);

/* vc_symbolic_dims writes the symbolic names of info's first rank dims
 * ("" where none) into params; the strings belong to info. */
OrtStatus *vc_symbolic_dims(const OrtApi *api, const OrtTensorTypeAndShapeInfo *info, size_t rank,
                            const char **params);

/* vc_shape_inference_done ends an InferOutputShapeFn: ORT 1.24.3-1.31.1
 * ignore the status that function returns and never release it, so an
 * error status st is released here (the same check runs again when the
 * kernel computes, where the error is reported) and NULL is returned. */
OrtStatus *vc_shape_inference_done(const OrtApi *api, OrtStatus *st);

/* vc_op_set_common sets what every vimconvert op shares: the API version
 * (VC_ORT_API_VERSION), all inputs/outputs required and non-variadic, CPU
 * memory type for the default inputs, since/until version 1/INT_MAX. */
void vc_op_set_common(OrtCustomOp *c);

/* vc_scan_op_init fills op (which must live as long as any session using it;
 * static storage in practice) for the bidirectional or unidirectional op on
 * the given provider. Kernel creation (divide_out), shape inference and
 * kernel destruction are common; compute is the provider's. */
void vc_scan_op_init(vc_scan_op *op, const OrtApi *api, int bidirectional, const char *provider,
                     vc_scan_compute_fn compute);

/* vc_scan_op_init_typed is vc_scan_op_init for activations of element type
 * act_type (float32, float16 or bfloat16). Ops of one name registered with
 * several types form one schema (ORT >= 1.15 merges them) and ORT picks the
 * kernel by the node's input types. */
void vc_scan_op_init_typed(vc_scan_op *op, const OrtApi *api, int bidirectional,
                           const char *provider, vc_scan_compute_fn compute,
                           ONNXTensorElementDataType act_type);

/* vc_type_name names float32, float16 and bfloat16 ("another type" else). */
const char *vc_type_name(ONNXTensorElementDataType t);

/* vc_set_output_shape_typed is vc_set_output_shape with the element type. */
OrtStatus *vc_set_output_shape_typed(const OrtApi *api, OrtShapeInferContext *ctx, size_t index,
                                     ONNXTensorElementDataType type, size_t rank,
                                     const int64_t *dims, const char *const *params);

/* vc_scan_prepare validates the inputs of one call (count, element types,
 * ranks and consistent B, L, D, N), allocates output 0 as [B, L, D] and fills
 * a with the sizes and data pointers (device pointers for a GPU provider).
 * When k->act_type is not float32, the pointers of u, delta, B, C, z and y
 * address 16-bit data of that type despite their float type: the compute
 * function converts them (the CPU one widens them to float32 copies).
 * Errors are ORT_INVALID_ARGUMENT statuses naming the op, input and shapes.
 * A zero-size problem (B, L or D = 0) is valid: the output is allocated
 * empty and vc_scan_cpu_num_items(a) is 0. */
OrtStatus *vc_scan_prepare(const vc_scan_kernel *k, OrtKernelContext *ctx, vc_scan_args *a);

/* vc_conv_op_init fills c (static storage) for the CPU
 * CausalConv1dSiLUBidirectional op (conv_op.c). */
void vc_conv_op_init(OrtCustomOp *c, const OrtApi *api);

/* Registers the CUDA ops into domain. Defined by cuda/ when the plugin is
 * built with nvcc, else by cuda_stub.c, which registers nothing. Returns
 * NULL on success. */
OrtStatus *vc_register_cuda_ops(OrtCustomOpDomain *domain, const OrtApi *api);

/* Attribute check in any C host (attr_check.c): the name the check
 * registers as an execution provider, the C API version it needs (ORT 1.23:
 * the graph API), and the session config entry that turns it off ("0"). */
#define VC_CHECK_EP_NAME "VimconvertAttributeCheck"
#define VC_CHECK_API_VERSION 23
#define VC_CHECK_CONFIG_KEY "vimconvert.attribute_check"

/* vc_attribute_check_register appends the attribute-check execution
 * provider to options (registering this library with ORT's environment the
 * first time). It does nothing on ORT < 1.23 or when the config entry is
 * "0"; an error says why the check could not be set up. */
OrtStatus *vc_attribute_check_register(OrtSessionOptions *options, const OrtApiBase *api_base);

#ifdef __cplusplus
}
#endif

#endif
