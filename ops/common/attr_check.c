/* Attribute check of the vimconvert plugin in any C host (ops/README.md,
 * "Unknown attributes").
 *
 * ONNX Runtime registers a custom op's schema with unchecked attributes and
 * gives its kernel no call that lists a node's attributes, so the ops alone
 * cannot see a misspelt one (dividee_out) and would run with the default.
 * The graph API that ORT >= 1.23 gives plugin execution providers can list
 * them. So RegisterCustomOps also registers this library as a tiny execution
 * provider, "VimconvertAttributeCheck", and appends it to the session
 * options. It claims no node of a valid model. In GetCapability it reads the
 * attributes of every ai.vimconvert node; a node with an attribute its op
 * does not take, or of the wrong type, is claimed and its Compile returns
 * the error, which fails the session creation with a message naming the
 * node, op and attribute.
 *
 * Only ORT's C API is used; every failure is a status, never a crash. Hosts
 * older than ORT 1.23 (C API 23) get no check. A host opts out by setting the
 * session config entry "vimconvert.attribute_check" to "0" before it
 * registers the library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/* One attribute an op takes (ops/attributes.go OpAttributes is the Go side;
 * TestOpAttributesMatchPlugin keeps the two equal). */
typedef struct {
  const char *op, *name;
  OrtOpAttrType type;
} vc_attribute;

static const vc_attribute known_attributes[] = {
    {VC_OP_BIDIRECTIONAL, "divide_out", ORT_OP_ATTR_INT},
};

static const char *attr_type_name(OrtOpAttrType t) {
  switch (t) {
    case ORT_OP_ATTR_INT: return "an int";
    case ORT_OP_ATTR_INTS: return "a list of ints";
    case ORT_OP_ATTR_FLOAT: return "a float";
    case ORT_OP_ATTR_FLOATS: return "a list of floats";
    case ORT_OP_ATTR_STRING: return "a string";
    case ORT_OP_ATTR_STRINGS: return "a list of strings";
    case ORT_OP_ATTR_GRAPH: return "a graph";
    case ORT_OP_ATTR_TENSOR: return "a tensor";
    default: return "another type";
  }
}

/* Writes into buf what op takes: "divide_out (an int)", or "no attributes". */
static void describe_attributes(const char *op, char *buf, size_t n) {
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < sizeof known_attributes / sizeof *known_attributes; i++) {
    if (strcmp(known_attributes[i].op, op) != 0) continue;
    off += (size_t)snprintf(buf + off, off < n ? n - off : 0, "%s%s (%s)", off ? ", " : "",
                            known_attributes[i].name, attr_type_name(known_attributes[i].type));
  }
  if (!off) snprintf(buf, n, "no attributes");
}

/* The API tables, set by vc_attribute_check_register (CreateEpFactories runs
 * after it, on the same runtime). */
static const OrtApi *check_api;
static const OrtEpApi *check_ep_api;

/* Sets the tables once, before any EP exists (from RegisterCustomOps with
 * check_lock held, or from ORT's CreateEpFactories call inside it): later
 * registrations never write them while sessions read them. */
static void set_apis(const OrtApi *api) {
  if (check_api) return;
  check_ep_api = api->GetEpApi();
  check_api = api;
}

/* One EP instance (one session). error holds the refusal GetCapability
 * found, returned by Compile. */
typedef struct {
  OrtEp base;
  char error[512];
} check_ep;

/* Whether st is NULL (success); a status is released. */
static int ok(OrtStatus *st) {
  if (!st) return 1;
  check_api->ReleaseStatus(st);
  return 0;
}

/* Whether an int attribute carries its value: one given by ref_attr_name
 * outside a function body carries none, and the ops would read it as 0.
 * Only int attributes exist (known_attributes). */
static int has_value(const OrtOpAttr *attr, OrtOpAttrType type) {
  if (type != ORT_OP_ATTR_INT) return 1;
  int64_t v = 0;
  size_t size = 0;
  return ok(check_api->ReadOpAttr(attr, ORT_OP_ATTR_INT, &v, sizeof v, &size));
}

/* The row of known_attributes for attribute name of op; NULL if none. */
static const vc_attribute *find_attribute(const char *op, const char *name) {
  for (size_t k = 0; k < sizeof known_attributes / sizeof *known_attributes; k++)
    if (!strcmp(known_attributes[k].op, op) && !strcmp(known_attributes[k].name, name))
      return &known_attributes[k];
  return NULL;
}

/* Checks one attribute of a node of op (where names the node for the
 * message); on a problem writes the message into err and returns 1. */
static int check_attribute(const OrtOpAttr *a, const char *op, const char *where, char *err,
                           size_t n) {
  const char *attr = NULL;
  OrtOpAttrType type = ORT_OP_ATTR_UNDEFINED;
  if (!ok(check_api->OpAttr_GetName(a, &attr)) || !attr) {
    snprintf(err, n, "%s: an attribute ONNX Runtime cannot name", where);
    return 1;
  }
  /* OpAttr_GetType fails for the types it has no enum value for (graphs,
   * tensors, sparse tensors, type protos): "another type". */
  if (!ok(check_api->OpAttr_GetType(a, &type))) type = ORT_OP_ATTR_UNDEFINED;
  const vc_attribute *known = find_attribute(op, attr);
  if (!known) {
    char takes[128];
    describe_attributes(op, takes, sizeof takes);
    snprintf(err, n, "%s: unknown attribute \"%s\" (the op takes %s)", where, attr, takes);
  } else if (type != known->type) {
    snprintf(err, n, "%s: attribute %s is %s, want %s", where, attr, attr_type_name(type),
             attr_type_name(known->type));
  } else if (!has_value(a, type)) {
    snprintf(err, n,
             "%s: attribute %s has no value (given by ref_attr_name, which only a function "
             "body may do; ONNX Runtime would read it as 0)",
             where, attr);
  } else {
    return 0;
  }
  return 1;
}

/* Checks one node; on a problem writes the message into err and returns 1. */
static int check_node(const OrtNode *node, char *err, size_t n) {
  const OrtApi *api = check_api;
  const char *domain = NULL, *op = NULL, *name = NULL;
  /* These getters fail only on a NULL argument, never passed here. */
  if (!ok(api->Node_GetDomain(node, &domain)) || !domain || strcmp(domain, VC_DOMAIN) != 0) return 0;
  size_t count = 0;
  if (!ok(api->Node_GetOperatorType(node, &op)) || !ok(api->Node_GetName(node, &name)) ||
      !ok(api->Node_GetNumAttributes(node, &count)) || count == 0)
    return 0;
  const OrtOpAttr **attrs = calloc(count, sizeof *attrs);
  if (!attrs) return 0;
  char where[160];
  if (name && name[0])
    snprintf(where, sizeof where, "vimconvert ops: node \"%s\" (%s)", name, op);
  else
    snprintf(where, sizeof where, "vimconvert ops: unnamed node (%s)", op);
  int bad = 0;
  if (ok(api->Node_GetAttributes(node, attrs, count)))
    for (size_t i = 0; i < count && !bad; i++) bad = check_attribute(attrs[i], op, where, err, n);
  free(attrs);
  return bad;
}

static const char *ORT_API_CALL ep_name(const OrtEp *ep) {
  (void)ep;
  return VC_CHECK_EP_NAME;
}

/* Claims the first ai.vimconvert node whose attributes are refused, so
 * that Compile can fail the session with the reason; claims nothing else.
 * ORT calls this once per graph and subgraph. */
static OrtStatus *ORT_API_CALL ep_get_capability(OrtEp *this_ptr, const OrtGraph *graph,
                                                 OrtEpGraphSupportInfo *support) {
  check_ep *ep = (check_ep *)this_ptr;
  const OrtApi *api = check_api;
  size_t n = 0;
  OrtStatus *st = api->Graph_GetNumNodes(graph, &n);
  if (st || n == 0) return st;
  const OrtNode **nodes = calloc(n, sizeof *nodes);
  if (!nodes) return api->CreateStatus(ORT_FAIL, "vimconvert ops: out of memory (attribute check)");
  st = api->Graph_GetNodes(graph, nodes, n);
  for (size_t i = 0; !st && i < n; i++) {
    char err[sizeof ep->error];
    if (!check_node(nodes[i], err, sizeof err)) continue;
    memcpy(ep->error, err, sizeof err);
    st = check_ep_api->EpGraphSupportInfo_AddNodesToFuse(support, &nodes[i], 1, NULL);
    break;
  }
  free(nodes);
  return st;
}

/* Only refused nodes are ever claimed: compiling one fails the session. */
static OrtStatus *ORT_API_CALL ep_compile(OrtEp *this_ptr, const OrtGraph **graphs,
                                          const OrtNode **fused_nodes, size_t count,
                                          OrtNodeComputeInfo **infos, OrtNode **ep_context_nodes) {
  (void)graphs, (void)fused_nodes, (void)ep_context_nodes;
  check_ep *ep = (check_ep *)this_ptr;
  for (size_t i = 0; i < count; i++) infos[i] = NULL;
  return check_api->CreateStatus(ORT_INVALID_ARGUMENT,
                                 ep->error[0] ? ep->error : "vimconvert ops: attribute check failed");
}

static void ORT_API_CALL ep_release_infos(OrtEp *ep, OrtNodeComputeInfo **infos, size_t n) {
  (void)ep, (void)infos, (void)n; /* Compile never makes any */
}

static const char *ORT_API_CALL factory_name(const OrtEpFactory *f) {
  (void)f;
  return VC_CHECK_EP_NAME;
}

static const char *ORT_API_CALL factory_vendor(const OrtEpFactory *f) {
  (void)f;
  return "vimconvert";
}

static uint32_t ORT_API_CALL factory_vendor_id(const OrtEpFactory *f) {
  (void)f;
  return 0;
}

static const char *ORT_API_CALL factory_version(const OrtEpFactory *f) {
  (void)f;
  return "1.0.0";
}

/* Offers the EP on the first CPU device. */
static OrtStatus *ORT_API_CALL factory_devices(OrtEpFactory *f, const OrtHardwareDevice *const *devices,
                                               size_t num_devices, OrtEpDevice **ep_devices,
                                               size_t max_ep_devices, size_t *num_ep_devices) {
  *num_ep_devices = 0;
  for (size_t i = 0; i < num_devices && max_ep_devices > 0; i++) {
    if (check_api->HardwareDevice_Type(devices[i]) != OrtHardwareDeviceType_CPU) continue;
    OrtStatus *st = check_ep_api->CreateEpDevice(f, devices[i], NULL, NULL, &ep_devices[0]);
    if (st) return st;
    *num_ep_devices = 1;
    break;
  }
  return NULL;
}

static OrtStatus *ORT_API_CALL factory_create_ep(OrtEpFactory *f, const OrtHardwareDevice *const *devices,
                                                 const OrtKeyValuePairs *const *metadata, size_t n,
                                                 const OrtSessionOptions *options,
                                                 const OrtLogger *logger, OrtEp **out) {
  (void)f, (void)devices, (void)metadata, (void)n, (void)options, (void)logger;
  check_ep *ep = calloc(1, sizeof *ep);
  if (!ep) return check_api->CreateStatus(ORT_FAIL, "vimconvert ops: out of memory (attribute check)");
  ep->base.ort_version_supported = ORT_API_VERSION;
  ep->base.GetName = ep_name;
  ep->base.GetCapability = ep_get_capability;
  ep->base.Compile = ep_compile;
  ep->base.ReleaseNodeComputeInfos = ep_release_infos;
  *out = &ep->base;
  return NULL;
}

static void ORT_API_CALL factory_release_ep(OrtEpFactory *f, OrtEp *ep) {
  (void)f;
  free(ep);
}

static OrtStatus *ORT_API_CALL factory_no_domains(OrtEpFactory *f, size_t *n) {
  (void)f;
  *n = 0;
  return NULL;
}

/* The factory calls below have nothing to do: the EP compiles no model,
 * allocates nothing (the CPU allocator serves), copies nothing and has no
 * stream. ORT calls some of them without a NULL check, so each exists. */
static OrtStatus *ORT_API_CALL factory_compatibility(OrtEpFactory *f, const OrtHardwareDevice *const *d,
                                                     size_t n, const char *info,
                                                     OrtCompiledModelCompatibility *out) {
  (void)f, (void)d, (void)n, (void)info;
  *out = OrtCompiledModelCompatibility_EP_NOT_APPLICABLE;
  return NULL;
}

static OrtStatus *ORT_API_CALL factory_allocator(OrtEpFactory *f, const OrtMemoryInfo *info,
                                                 const OrtKeyValuePairs *options, OrtAllocator **out) {
  (void)f, (void)info, (void)options;
  *out = NULL;
  return NULL;
}

static void ORT_API_CALL factory_release_allocator(OrtEpFactory *f, OrtAllocator *a) {
  (void)f, (void)a;
}

static OrtStatus *ORT_API_CALL factory_data_transfer(OrtEpFactory *f, OrtDataTransferImpl **out) {
  (void)f;
  *out = NULL;
  return NULL;
}

static bool ORT_API_CALL factory_stream_aware(const OrtEpFactory *f) {
  (void)f;
  return false;
}

static OrtStatus *ORT_API_CALL factory_stream(OrtEpFactory *f, const OrtMemoryDevice *d,
                                              const OrtKeyValuePairs *options, OrtSyncStreamImpl **out) {
  (void)f, (void)d, (void)options;
  *out = NULL;
  return NULL;
}

static OrtStatus *ORT_API_CALL factory_domains(OrtEpFactory *f, OrtCustomOpDomain **domains, size_t n) {
  (void)f, (void)domains, (void)n;
  return NULL;
}

static OrtEpFactory check_factory = {
    .ort_version_supported = ORT_API_VERSION,
    .GetName = factory_name,
    .GetVendor = factory_vendor,
    .GetSupportedDevices = factory_devices,
    .CreateEp = factory_create_ep,
    .ReleaseEp = factory_release_ep,
    .GetVendorId = factory_vendor_id,
    .GetVersion = factory_version,
    .ValidateCompiledModelCompatibilityInfo = factory_compatibility,
    .CreateAllocator = factory_allocator,
    .ReleaseAllocator = factory_release_allocator,
    .CreateDataTransfer = factory_data_transfer,
    .IsStreamAware = factory_stream_aware,
    .CreateSyncStreamForDevice = factory_stream,
    .GetNumCustomOpDomains = factory_no_domains,
    .GetCustomOpDomains = factory_domains,
};

/* Called by ORT when vc_attribute_check_register registers this library. */
__attribute__((visibility("default"))) OrtStatus *ORT_API_CALL
CreateEpFactories(const char *registered_name, const OrtApiBase *api_base, const OrtLogger *logger,
                  OrtEpFactory **factories, size_t max_factories, size_t *num_factories) {
  (void)registered_name, (void)logger;
  *num_factories = 0;
  const OrtApi *api = api_base->GetApi(VC_CHECK_API_VERSION);
  if (!api) return NULL; /* not reached: registration needs the same version */
  set_apis(api);
  if (!check_ep_api || max_factories < 1) return NULL;
  factories[0] = &check_factory;
  *num_factories = 1;
  return NULL;
}

__attribute__((visibility("default"))) OrtStatus *ORT_API_CALL ReleaseEpFactory(OrtEpFactory *f) {
  (void)f; /* static */
  return NULL;
}

/* Whether the host turned the check off ("vimconvert.attribute_check" = "0"). */
static int check_disabled(const OrtApi *api, const OrtSessionOptions *options) {
  int has = 0;
  OrtStatus *st = api->HasSessionConfigEntry(options, VC_CHECK_CONFIG_KEY, &has);
  if (st) {
    api->ReleaseStatus(st);
    return 0;
  }
  if (!has) return 0;
  char value[8];
  size_t size = sizeof value;
  st = api->GetSessionConfigEntry(options, VC_CHECK_CONFIG_KEY, value, &size);
  if (st) {
    api->ReleaseStatus(st);
    return 0;
  }
  return strcmp(value, "0") == 0;
}

/* The environment the EP library is registered in: ORT has one per process
 * (CreateEnv returns it when the host made it). The reference is kept for
 * the life of the process, so the registered EP device stays valid for
 * every session options that refer to it. */
static OrtEnv *check_env;
static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;

/* Registers this library as the check EP once per process and returns its
 * device. Called with check_lock held. */
static OrtStatus *check_device(const OrtApi *api, const OrtEpDevice **out) {
  OrtStatus *st = NULL;
  if (!check_env) st = api->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "vimconvert_ops", &check_env);
  if (st) return st;
  const OrtEpDevice *const *devices = NULL;
  size_t n = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    st = api->GetEpDevices(check_env, &devices, &n);
    if (st) return st;
    for (size_t i = 0; i < n; i++) {
      if (!strcmp(api->EpDevice_EpName(devices[i]), VC_CHECK_EP_NAME)) {
        *out = devices[i];
        return NULL;
      }
    }
    if (attempt) break;
    Dl_info self;
    char path[PATH_MAX];
    if (!dladdr((void *)check_device, &self) || !self.dli_fname || !realpath(self.dli_fname, path))
      return vc_errorf(api, "cannot find the plugin's own file to register it");
    st = api->RegisterExecutionProviderLibrary(check_env, VC_CHECK_EP_NAME, path);
    if (st) return st;
  }
  return vc_errorf(api, "ONNX Runtime lists no device for %s", VC_CHECK_EP_NAME);
}

OrtStatus *vc_attribute_check_register(OrtSessionOptions *options, const OrtApiBase *api_base) {
  const OrtApi *api = api_base->GetApi(VC_CHECK_API_VERSION);
  if (!api) return NULL; /* ORT < 1.23: no graph API, no check */
  if (check_disabled(api, options)) return NULL;
  pthread_mutex_lock(&check_lock);
  set_apis(api);
  const OrtEpDevice *device = NULL;
  OrtStatus *st = check_ep_api ? check_device(api, &device) : NULL;
  if (!st && device)
    st = api->SessionOptionsAppendExecutionProvider_V2(options, check_env, &device, 1, NULL, NULL, 0);
  pthread_mutex_unlock(&check_lock);
  if (!st) return NULL;
  OrtStatus *wrapped = vc_errorf(api,
                                 "vimconvert ops: cannot set up the attribute check (%s); set the "
                                 "session config entry %s=0 to run without it",
                                 api->GetErrorMessage(st), VC_CHECK_CONFIG_KEY);
  api->ReleaseStatus(st);
  return wrapped;
}
