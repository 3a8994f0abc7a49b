/* Test host for the plugin: plain C, ONNX Runtime loaded with dlopen, no Go.
 *
 * Self-test (exit 0 = all checks pass):
 *   vimconvert_ops_host ORT_LIB PLUGIN [--testdata DIR] [--bench]
 * runs the single-op models of DIR (default ops/testdata) on pseudo-random
 * inputs and compares with the float64 reference of ref_scan.h, checks that
 * the bad_*.onnx models and bad runtime shapes give errors (not crashes), and
 * with --bench times the bidirectional op at Vim-T size end to end.
 *
 * Any model (e.g. an exported Vim model):
 *   vimconvert_ops_host ORT_LIB PLUGIN --model M.onnx
 *       --input NAME=FILE:D0xD1x... [--input ...] [--expect FILE] [--tol T]
 *       [--threads N] [--repeat N] [--log-level L]
 * FILEs are raw little-endian float32. Runs the model once (plus --repeat
 * timed runs), compares output 0 with --expect (max |d| <= T, default 1e-4,
 * same element count) and prints "max_abs_diff=..." and the run time.
 *
 * --log-level L is ORT's log severity threshold for the environment (0
 * verbose .. 4 fatal; default 4, so only the host's own lines print): at 2
 * every ORT warning (e.g. a shape mismatch) reaches stderr.
 *
 * The host sets ORT_DISABLE_TELEMETRY=1 (unless the variable is already
 * set) before creating the environment: ORT 1.29.0-1.31.1 otherwise write
 * $TMPDIR/.ses (and, before 1.31, an empty mat-debug-PID.log per process)
 * from their telemetry client. See README.md "ONNX Runtime temp files". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../include/onnxruntime/onnxruntime_c_api.h"
#include "ref_scan.h"

#define HOST_API_VERSION 17 /* same floor as the plugin; RegisterCustomOpsLibrary_V2 is 14 */

static const OrtApi *api;
static const OrtApiBase *api_base;
static OrtEnv *env;
static int failures;
/* Session config entries (--config KEY=VALUE) of every session. */
static const char *config_keys[8], *config_values[8];
static size_t nconfig;

static void fail(const char *fmt, const char *a, const char *b) {
  fprintf(stderr, "FAIL: ");
  fprintf(stderr, fmt, a, b);
  fprintf(stderr, "\n");
  failures++;
}

/* Returns the status message (static copy) and releases the status; NULL if ok. */
static const char *take(OrtStatus *st) {
  static char msg[1024];
  if (!st) return NULL;
  snprintf(msg, sizeof msg, "%s", api->GetErrorMessage(st));
  api->ReleaseStatus(st);
  return msg;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Creates a session for model with the plugin registered. On failure returns
 * NULL and copies the error into err (if non-NULL). */
static OrtSession *open_session(const char *model, const char *plugin, int threads, char *err,
                                size_t errlen) {
  OrtSessionOptions *opts = NULL;
  OrtSession *sess = NULL;
  const char *msg = take(api->CreateSessionOptions(&opts));
  if (!msg && threads > 0) msg = take(api->SetIntraOpNumThreads(opts, threads));
  for (size_t i = 0; !msg && i < nconfig; i++)
    msg = take(api->AddSessionConfigEntry(opts, config_keys[i], config_values[i]));
  if (!msg) msg = take(api->RegisterCustomOpsLibrary_V2(opts, plugin));
  if (!msg) msg = take(api->CreateSession(env, model, opts, &sess));
  if (opts) api->ReleaseSessionOptions(opts);
  if (msg) {
    if (err) snprintf(err, errlen, "%s", msg);
    return NULL;
  }
  return sess;
}

/* open_session for dir/model; err as there. */
static OrtSession *open_model(const char *dir, const char *model, const char *plugin, int threads,
                              char *err, size_t errlen) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, model);
  return open_session(path, plugin, threads, err, errlen);
}

/* open_model that counts a failure (naming what) and returns NULL when the session
 * cannot be created. */
static OrtSession *open_model_or_fail(const char *dir, const char *model, const char *plugin,
                                      int threads, const char *what) {
  char err[1024];
  OrtSession *s = open_model(dir, model, plugin, threads, err, sizeof err);
  if (!s) fail("%s: session: %s", what, err);
  return s;
}

typedef struct tensor {
  const char *name;
  float *data;
  int64_t dims[8];
  size_t rank;
  ONNXTensorElementDataType type;
} tensor;

static int64_t numel(const tensor *t) {
  int64_t n = 1;
  for (size_t i = 0; i < t->rank; i++) n *= t->dims[i];
  return n;
}

/* Runs sess on the inputs; output 0 (float32) is copied to a new buffer in
 * *out with its element count in *out_n. Returns an error message or NULL. */
static const char *run(OrtSession *sess, const tensor *in, size_t n, float **out, int64_t *out_n,
                       double *seconds) {
  OrtMemoryInfo *mem = NULL;
  const char *msg = take(api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &mem));
  if (msg) return msg;
  OrtValue *vals[32] = {0};
  const char *names[32];
  for (size_t i = 0; i < n && !msg; i++) {
    size_t esize = in[i].type == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 ? 8 : 4;
    names[i] = in[i].name;
    msg = take(api->CreateTensorWithDataAsOrtValue(mem, in[i].data, (size_t)numel(&in[i]) * esize,
                                                   in[i].dims, in[i].rank, in[i].type, &vals[i]));
  }
  OrtValue *y = NULL;
  const char *out_name = NULL;
  OrtAllocator *alloc = NULL;
  char *out_name_owned = NULL;
  if (!msg) msg = take(api->GetAllocatorWithDefaultOptions(&alloc));
  if (!msg) msg = take(api->SessionGetOutputName(sess, 0, alloc, &out_name_owned));
  out_name = out_name_owned;
  double t0 = now();
  if (!msg) msg = take(api->Run(sess, NULL, names, (const OrtValue *const *)vals, n, &out_name, 1, &y));
  if (seconds) *seconds = now() - t0;
  if (!msg && out) {
    OrtTensorTypeAndShapeInfo *info = NULL;
    size_t count = 0;
    float *data = NULL;
    msg = take(api->GetTensorTypeAndShape(y, &info));
    if (!msg) msg = take(api->GetTensorShapeElementCount(info, &count));
    if (info) api->ReleaseTensorTypeAndShapeInfo(info);
    if (!msg) msg = take(api->GetTensorMutableData(y, (void **)&data));
    if (!msg) {
      *out = malloc(sizeof(float) * (count ? count : 1));
      if (count) memcpy(*out, data, sizeof(float) * count);
      *out_n = (int64_t)count;
    }
  }
  if (y) api->ReleaseValue(y);
  if (out_name_owned) take(api->AllocatorFree(alloc, out_name_owned));
  for (size_t i = 0; i < n; i++)
    if (vals[i]) api->ReleaseValue(vals[i]);
  api->ReleaseMemoryInfo(mem);
  return msg;
}

/* ---- self-test ---- */

static const char *const bi_names[15] = {"u_f", "delta_f", "A_f", "B_f", "C_f",
                                         "D_f", "delta_bias_f", "u_b", "delta_b", "A_b",
                                         "B_b", "C_b", "D_b", "delta_bias_b", "z"};
static const char *const uni_names[8] = {"u", "delta", "A", "B", "C", "D", "delta_bias", "z"};

/* ref_case buffer slot of each op input, and its role's dims. */
static const int bi_slot[15] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
static const int uni_slot[8] = {0, 1, 2, 3, 4, 5, 6, 14};

static size_t case_inputs(ref_case *c, int bidir, tensor *t) {
  const vc_scan_args *a = &c->args;
  int64_t B = a->batch, L = a->seqlen, D = a->dim, N = a->dstate;
  size_t n = bidir ? 15 : 8;
  for (size_t i = 0; i < n; i++) {
    int slot = bidir ? bi_slot[i] : uni_slot[i];
    int k = slot == 14 ? 0 : slot % 7; /* position within one direction */
    tensor *x = &t[i];
    memset(x, 0, sizeof *x);
    x->name = bidir ? bi_names[i] : uni_names[i];
    x->data = c->buf[slot];
    x->type = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    if (k == 0 || k == 1) x->rank = 3, x->dims[0] = B, x->dims[1] = L, x->dims[2] = D;
    if (k == 2) x->rank = 2, x->dims[0] = D, x->dims[1] = N;
    if (k == 3 || k == 4) x->rank = 3, x->dims[0] = B, x->dims[1] = L, x->dims[2] = N;
    if (k == 5 || k == 6) x->rank = 1, x->dims[0] = D;
  }
  return n;
}

static void check_case(const char *dir, const char *plugin, const char *model, int bidir,
                       float scale, int64_t B, int64_t L, int64_t D, int64_t N) {
  char what[256];
  snprintf(what, sizeof what, "%s B=%lld L=%lld D=%lld N=%lld", model, (long long)B,
           (long long)L, (long long)D, (long long)N);
  OrtSession *s = open_model_or_fail(dir, model, plugin, 0, what);
  if (!s) return;
  ref_case c;
  ref_case_fill(&c, B, L, D, N, bidir, scale);
  tensor in[15];
  size_t n = case_inputs(&c, bidir, in);
  float *got = NULL;
  int64_t count = 0;
  const char *msg = run(s, in, n, &got, &count, NULL);
  if (msg) {
    fail("%s: run: %s", what, msg);
  } else {
    int64_t act = B * L * D;
    double *want = malloc(sizeof(double) * (act ? act : 1));
    ref_scan(&c.args, want);
    double maxd = 0;
    int bad = count != act;
    for (int64_t i = 0; i < act && !bad; i++) {
      double d = fabs(got[i] - want[i]);
      if (d > maxd) maxd = d;
      if (!(d <= 2e-5 + 2e-5 * fabs(want[i]))) bad = 1;
    }
    printf("%-5s %s: %lld outputs, max|d| vs float64 = %.2e\n", bad ? "FAIL" : "ok", what,
           (long long)count, maxd);
    if (bad) failures++;
    free(want);
  }
  free(got);
  ref_case_free(&c);
  api->ReleaseSession(s);
}

/* Session creation must fail and the message contain needle. */
static void expect_session_error(const char *dir, const char *plugin, const char *model,
                                 const char *needle) {
  char err[1024] = "";
  OrtSession *s = open_model(dir, model, plugin, 0, err, sizeof err);
  if (s) {
    fail("%s: session created, want an error mentioning \"%s\"", model, needle);
    api->ReleaseSession(s);
    return;
  }
  if (!strstr(err, needle)) {
    fail("%s: error does not mention the problem: %s", model, err);
    return;
  }
  printf("ok    %s refused: %s\n", model, err);
}

/* bad_static_shape.onnx: B is [1, 4, 15] while A is [8, 16]. ORT ignores
 * the op's shape-inference error, so the run must fail (with our message). */
static void check_static_shape(const char *dir, const char *plugin) {
  char err[1024];
  OrtSession *s = open_model(dir, "bad_static_shape.onnx", plugin, 0, err, sizeof err);
  if (!s) {
    if (strstr(err, "input 3 (B)"))
      printf("ok    bad_static_shape.onnx refused: %s\n", err);
    else
      fail("bad_static_shape.onnx: error does not name input 3 (B): %s%s", err, "");
    return;
  }
  ref_case c;
  ref_case_fill(&c, 1, 4, 8, 16, 0, 1.0f);
  tensor in[8];
  size_t n = case_inputs(&c, 0, in);
  in[3].dims[2] = 15;
  const char *msg = run(s, in, n, NULL, NULL, NULL);
  if (!msg || !strstr(msg, "input 3 (B)"))
    fail("bad_static_shape.onnx: want a run error naming input 3 (B), got: %s%s",
         msg ? msg : "success", "");
  else
    printf("ok    bad_static_shape.onnx run refused: %s\n", msg);
  ref_case_free(&c);
  api->ReleaseSession(s);
}

/* Run-time validation: a mismatched N in B_f and a wrong rank for u_f. */
static void check_run_errors(const char *dir, const char *plugin) {
  OrtSession *s = open_model_or_fail(dir, "scan_bidirectional.onnx", plugin, 0,
                                     "scan_bidirectional.onnx");
  if (!s) return;
  ref_case c;
  ref_case_fill(&c, 1, 4, 8, 16, 1, 0.5f);
  tensor in[16];
  size_t n = case_inputs(&c, 1, in);
  in[3].dims[2] = 8; /* B_f [1, 4, 8] while A_f says N = 16 (buffer is big enough) */
  const char *msg = run(s, in, n, NULL, NULL, NULL);
  if (!msg || !strstr(msg, "B_f"))
    fail("mismatched B_f: want an error naming B_f, got: %s%s", msg ? msg : "success", "");
  else
    printf("ok    mismatched B_f refused: %s\n", msg);
  api->ReleaseSession(s);

  s = open_model_or_fail(dir, "scan_bidirectional_reshape.onnx", plugin, 0,
                         "scan_bidirectional_reshape.onnx");
  if (!s) {
    ref_case_free(&c);
    return;
  }
  int64_t shape2[2] = {4, 8}, shape3[3] = {1, 4, 8};
  n = case_inputs(&c, 1, in);
  in[0].name = "u_f_data";
  in[0].rank = 1, in[0].dims[0] = 32;
  tensor *sh = &in[n++];
  memset(sh, 0, sizeof *sh);
  sh->name = "u_f_shape";
  sh->type = ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
  sh->rank = 1;
  sh->data = (float *)shape2;
  sh->dims[0] = 2;
  msg = run(s, in, n, NULL, NULL, NULL);
  if (!msg || !strstr(msg, "rank"))
    fail("u_f of rank 2: want an error about the rank, got: %s%s", msg ? msg : "success", "");
  else
    printf("ok    u_f of rank 2 refused: %s\n", msg);
  sh->data = (float *)shape3;
  sh->dims[0] = 3;
  float *got = NULL;
  int64_t count = 0;
  msg = run(s, in, n, &got, &count, NULL);
  if (msg || count != 32)
    fail("reshape model with a valid u_f: %s%s", msg ? msg : "wrong output size", "");
  else
    printf("ok    reshape model with a valid u_f runs\n");
  free(got);
  api->ReleaseSession(s);
  ref_case_free(&c);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void bench(const char *dir, const char *plugin) {
  for (int threads = 1; threads <= 2; threads++) {
    OrtSession *s = open_model_or_fail(dir, "scan_bidirectional.onnx", plugin, threads, "bench");
    if (!s) return;
    ref_case c;
    ref_case_fill(&c, 1, 197, 384, 16, 1, 0.5f);
    tensor in[15];
    size_t n = case_inputs(&c, 1, in);
    double best = 1e9, sum = 0;
    enum { reps = 200 };
    double secs[reps];
    for (int r = 0; r < reps + 5; r++) {
      float *got = NULL;
      int64_t count;
      double sec;
      const char *msg = run(s, in, n, &got, &count, &sec);
      free(got);
      if (msg) {
        fail("bench run: %s%s", msg, "");
        break;
      }
      if (r < 5) continue; /* warm-up */
      secs[r - 5] = sec;
      sum += sec;
      if (sec < best) best = sec;
    }
    qsort(secs, reps, sizeof secs[0], cmp_double);
    printf("bench SelectiveScanBidirectional B=1 L=197 D=384 N=16, intra-op threads %d: "
           "Run() best %.3f ms, median %.3f ms, p90 %.3f ms, mean %.3f ms\n",
           threads, best * 1e3, secs[reps / 2] * 1e3, secs[reps * 9 / 10] * 1e3,
           sum / reps * 1e3);
    ref_case_free(&c);
    api->ReleaseSession(s);
  }
}

static int self_test(const char *dir, const char *plugin, int do_bench) {
  static const struct {
    int64_t B, L, D, N;
  } sizes[] = {{1, 197, 384, 16}, {3, 7, 20, 16}, {1, 1, 8, 16}, {3, 2, 384, 16}, {0, 5, 8, 16},
               {2, 9, 13, 5}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    int64_t B = sizes[i].B, L = sizes[i].L, D = sizes[i].D, N = sizes[i].N;
    check_case(dir, plugin, "scan_bidirectional.onnx", 1, 0.5f, B, L, D, N);
    check_case(dir, plugin, "scan_bidirectional_divide1.onnx", 1, 0.5f, B, L, D, N);
    check_case(dir, plugin, "scan_bidirectional_sum.onnx", 1, 1.0f, B, L, D, N);
    check_case(dir, plugin, "scan_unidirectional.onnx", 0, 1.0f, B, L, D, N);
  }
  expect_session_error(dir, plugin, "bad_input_count.onnx", "SelectiveScanBidirectional");
  expect_session_error(dir, plugin, "bad_dtype.onnx", "u");
  expect_session_error(dir, plugin, "bad_divide_out.onnx", "divide_out = 2, want 0 or 1");
  if (api_base->GetApi(23)) /* the attribute check (ORT >= 1.23) */
    expect_session_error(dir, plugin, "bad_unknown_attribute.onnx",
                         "unknown attribute \"dividee_out\"");
  check_static_shape(dir, plugin);
  check_run_errors(dir, plugin);
  if (do_bench) bench(dir, plugin);
  return failures != 0;
}

/* ---- environment lifecycle (--lifecycle) ----
 * The attribute check registers the plugin in ORT's one environment. It must
 * work, and never crash the host, when the host registers the plugin before
 * it creates its environment, and after it released one and made another. */

static void lifecycle_sessions(const char *dir, const char *plugin, const char *when) {
  char err[1024] = "";
  OrtSession *s = open_model(dir, "bad_unknown_attribute.onnx", plugin, 0, err, sizeof err);
  if (s) {
    fail("%s: bad_unknown_attribute.onnx: session created%s", when, "");
    api->ReleaseSession(s);
  } else if (!strstr(err, "unknown attribute")) {
    fail("%s: bad_unknown_attribute.onnx: %s", when, err);
  }
  s = open_model(dir, "scan_bidirectional.onnx", plugin, 0, err, sizeof err);
  if (!s) fail("%s: scan_bidirectional.onnx: %s", when, err);
  else api->ReleaseSession(s);
}

/* Copies file src to dst; 0 on success. */
static int copy_file(const char *src, const char *dst) {
  FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
  char buf[65536];
  size_t n;
  int rc = in && out ? 0 : -1;
  while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) rc = -1;
  if (in) fclose(in);
  if (out && fclose(out)) rc = -1;
  return rc;
}

/* A host that loads a copy of the plugin and deletes the file (as library
 * extractors do) before it registers it: the attribute check cannot
 * register the library, so registration fails naming the opt-out, and must
 * leave the options usable; registering again with the check off on the
 * same options then works. */
static void unlinked_copy(const char *dir, const char *plugin) {
  char copy[] = "/tmp/vimconvert_ops_copy_XXXXXX";
  int fd = mkstemp(copy);
  if (fd < 0 || close(fd) || copy_file(plugin, copy)) {
    fail("cannot copy the plugin to %s%s", copy, "");
    return;
  }
  void *lib = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
  unlink(copy);
  OrtStatus *(*reg)(OrtSessionOptions *, const OrtApiBase *) =
      lib ? (OrtStatus * (*)(OrtSessionOptions *, const OrtApiBase *)) dlsym(lib, "RegisterCustomOps")
          : NULL;
  if (!reg) {
    fail("dlopen of the copy: %s%s", dlerror(), "");
    return;
  }
  OrtSessionOptions *opts = NULL;
  const char *msg = take(api->CreateSessionOptions(&opts));
  if (!msg) msg = take(reg(opts, api_base));
  if (!msg || !strstr(msg, "vimconvert.attribute_check=0"))
    fail("deleted plugin file: registration gave \"%s\", want the opt-out named%s", msg ? msg : "OK", "");
  msg = take(api->AddSessionConfigEntry(opts, "vimconvert.attribute_check", "0"));
  if (!msg) msg = take(reg(opts, api_base));
  char path[4096];
  snprintf(path, sizeof path, "%s/scan_bidirectional.onnx", dir);
  OrtSession *s = NULL;
  if (!msg) msg = take(api->CreateSession(env, path, opts, &s));
  if (msg) fail("deleted plugin file, check off: %s%s", msg, "");
  if (s) api->ReleaseSession(s);
  api->ReleaseSessionOptions(opts);
}

/* A second ONNX Runtime library (ort2) in the same process, after the
 * plugin was registered with the first: its registration must be refused
 * with a status, not crash the process when a session runs the ops. */
static void second_runtime(const char *dir, const char *plugin, const char *ort2) {
  char err[1024];
  OrtSession *s = open_model(dir, "scan_bidirectional.onnx", plugin, 0, err, sizeof err);
  if (!s) {
    fail("first runtime: %s%s", err, "");
    return;
  }
  api->ReleaseSession(s);
  void *lib = dlopen(ort2, RTLD_NOW | RTLD_LOCAL);
  const OrtApiBase *(*get_base)(void) =
      lib ? (const OrtApiBase *(*)(void))dlsym(lib, "OrtGetApiBase") : NULL;
  const OrtApi *api2 = get_base ? get_base()->GetApi(HOST_API_VERSION) : NULL;
  if (!api2) {
    fail("cannot load %s: %s", ort2, lib ? "no C API 17" : dlerror());
    return;
  }
  OrtEnv *env2 = NULL;
  OrtSessionOptions *opts = NULL;
  OrtStatus *st = api2->CreateEnv(ORT_LOGGING_LEVEL_FATAL, "vimconvert_ops_host2", &env2);
  if (!st) st = api2->CreateSessionOptions(&opts);
  if (!st) st = api2->RegisterCustomOpsLibrary_V2(opts, plugin);
  if (!st) {
    fail("second runtime %s: the plugin registered%s", get_base()->GetVersionString(), "");
  } else {
    if (!strstr(api2->GetErrorMessage(st), "another ONNX Runtime library"))
      fail("second runtime: %s%s", api2->GetErrorMessage(st), "");
    else
      printf("ok    second runtime refused: %s\n", api2->GetErrorMessage(st));
    api2->ReleaseStatus(st);
  }
  if (opts) api2->ReleaseSessionOptions(opts);
  if (env2) api2->ReleaseEnv(env2);
}

static int lifecycle(const char *dir, const char *plugin, int log_level) {
  char bad[1024];
  snprintf(bad, sizeof bad, "%s/bad_unknown_attribute.onnx", dir);
  OrtSessionOptions *opts = NULL;
  OrtSession *s = NULL;
  const char *msg = take(api->CreateSessionOptions(&opts));
  if (!msg) msg = take(api->RegisterCustomOpsLibrary_V2(opts, plugin));
  if (!msg) msg = take(api->CreateEnv((OrtLoggingLevel)log_level, "vimconvert_ops_host", &env));
  if (!msg) msg = take(api->CreateSession(env, bad, opts, &s));
  if (s) {
    fail("plugin registered before the environment: %s%s", "bad_unknown_attribute.onnx created", "");
    api->ReleaseSession(s);
  } else if (!msg || !strstr(msg, "unknown attribute")) {
    fail("plugin registered before the environment: %s%s", msg ? msg : "?", "");
  }
  if (opts) api->ReleaseSessionOptions(opts);
  if (env) lifecycle_sessions(dir, plugin, "first environment");
  if (env) api->ReleaseEnv(env);
  env = NULL;
  msg = take(api->CreateEnv((OrtLoggingLevel)log_level, "vimconvert_ops_host", &env));
  if (msg) fail("second CreateEnv: %s%s", msg, "");
  else lifecycle_sessions(dir, plugin, "second environment");
  printf(failures ? "lifecycle: %d failure(s)\n" : "lifecycle: pass\n", failures);
  return failures != 0;
}

/* ---- arbitrary model ---- */

static float *read_raw(const char *path, int64_t *count) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  float *p = malloc(bytes > 0 ? (size_t)bytes : 1);
  if (bytes < 0 || fread(p, 1, (size_t)bytes, f) != (size_t)bytes) {
    free(p);
    fclose(f);
    return NULL;
  }
  fclose(f);
  *count = bytes / 4;
  return p;
}

static int run_model(const char *plugin, const char *model, tensor *in, size_t n,
                     const char *expect, double tol, int threads, int repeat) {
  char err[1024];
  OrtSession *s = open_session(model, plugin, threads, err, sizeof err);
  if (!s) {
    fprintf(stderr, "session: %s\n", err);
    return 1;
  }
  float *got = NULL;
  int64_t count = 0;
  double sec = 0;
  const char *msg = run(s, in, n, &got, &count, &sec);
  if (msg) {
    fprintf(stderr, "run: %s\n", msg);
    api->ReleaseSession(s);
    return 1;
  }
  int rc = 0;
  if (expect) {
    int64_t ecount = 0;
    float *want = read_raw(expect, &ecount);
    if (!want) {
      fprintf(stderr, "cannot read %s\n", expect);
      rc = 1;
    } else if (ecount != count) {
      fprintf(stderr, "output has %lld elements, %s has %lld\n", (long long)count, expect,
              (long long)ecount);
      rc = 1;
    } else {
      double maxd = 0;
      for (int64_t i = 0; i < count; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= maxd)) maxd = d; /* NaN propagates */
      }
      printf("max_abs_diff=%.3e tol=%.1e elements=%lld\n", maxd, tol, (long long)count);
      if (!(maxd <= tol)) rc = 1;
    }
    free(want);
  }
  double best = sec;
  for (int r = 0; r < repeat; r++) {
    float *g2 = NULL;
    int64_t c2;
    msg = run(s, in, n, &g2, &c2, &sec);
    free(g2);
    if (msg) {
      fprintf(stderr, "run: %s\n", msg);
      rc = 1;
      break;
    }
    if (sec < best) best = sec;
  }
  printf("run_ms=%.3f (best of %d)\n", best * 1e3, repeat + 1);
  free(got);
  api->ReleaseSession(s);
  return rc;
}

/* NAME=FILE:D0xD1x... */
static int parse_input(char *spec, tensor *t) {
  memset(t, 0, sizeof *t);
  char *eq = strchr(spec, '='), *colon = strrchr(spec, ':');
  if (!eq || !colon || colon < eq) return -1;
  *eq = 0, *colon = 0;
  t->name = spec;
  t->type = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  for (char *d = colon + 1; *d && t->rank < 8;) {
    char *end;
    t->dims[t->rank++] = strtoll(d, &end, 10);
    if (end == d) return -1;
    d = *end == 'x' ? end + 1 : end;
  }
  int64_t count = 0;
  t->data = read_raw(eq + 1, &count);
  if (!t->data) {
    fprintf(stderr, "cannot read %s\n", eq + 1);
    return -1;
  }
  if (count != numel(t)) {
    fprintf(stderr, "%s holds %lld floats, shape wants %lld\n", eq + 1, (long long)count,
            (long long)numel(t));
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr,
            "usage: %s ORT_LIB PLUGIN [--testdata DIR] [--bench | --lifecycle | --unlinked-copy | "
            "--second-ort ORT_LIB2]\n"
            "       %s ORT_LIB PLUGIN --model M.onnx --input NAME=FILE:D0xD1... ... "
            "[--expect FILE] [--tol T] [--threads N] [--repeat N] [--log-level L] "
            "[--config KEY=VALUE]\n",
            argv[0], argv[0]);
    return 2;
  }
  const char *ort = argv[1], *plugin = argv[2];
  const char *testdata = "ops/testdata", *model = NULL, *expect = NULL, *second_ort = NULL;
  double tol = 1e-4;
  int threads = 0, repeat = 0, do_bench = 0, do_lifecycle = 0, do_unlinked = 0, log_level = ORT_LOGGING_LEVEL_FATAL;
  tensor inputs[32];
  size_t ninputs = 0;
  for (int i = 3; i < argc; i++) {
    int more = i + 1 < argc;
    if (!strcmp(argv[i], "--testdata") && more) testdata = argv[++i];
    else if (!strcmp(argv[i], "--bench")) do_bench = 1;
    else if (!strcmp(argv[i], "--lifecycle")) do_lifecycle = 1;
    else if (!strcmp(argv[i], "--unlinked-copy")) do_unlinked = 1;
    else if (!strcmp(argv[i], "--second-ort") && more) second_ort = argv[++i];
    else if (!strcmp(argv[i], "--model") && more) model = argv[++i];
    else if (!strcmp(argv[i], "--expect") && more) expect = argv[++i];
    else if (!strcmp(argv[i], "--tol") && more) tol = atof(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && more) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--repeat") && more) repeat = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--log-level") && more) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < ORT_LOGGING_LEVEL_VERBOSE || v > ORT_LOGGING_LEVEL_FATAL) {
        fprintf(stderr, "bad --log-level %s (want 0 verbose .. 4 fatal)\n", argv[i]);
        return 2;
      }
      log_level = (int)v;
    }
    else if (!strcmp(argv[i], "--config") && more && nconfig < 8 && strchr(argv[i + 1], '=')) {
      char *kv = argv[++i], *eq = strchr(kv, '=');
      *eq = '\0';
      config_keys[nconfig] = kv;
      config_values[nconfig++] = eq + 1;
    }
    else if (!strcmp(argv[i], "--input") && more && ninputs < 32) {
      if (parse_input(argv[++i], &inputs[ninputs]) != 0) {
        fprintf(stderr, "bad --input %s (want NAME=FILE:D0xD1x...)\n", argv[i]);
        return 2;
      }
      ninputs++;
    } else {
      fprintf(stderr, "unknown or incomplete argument %s\n", argv[i]);
      return 2;
    }
  }
  void *lib = dlopen(ort, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen %s: %s\n", ort, dlerror());
    return 2;
  }
  const OrtApiBase *(*get_base)(void) = (const OrtApiBase *(*)(void))dlsym(lib, "OrtGetApiBase");
  if (!get_base) {
    fprintf(stderr, "%s has no OrtGetApiBase\n", ort);
    return 2;
  }
  const OrtApiBase *base = get_base();
  api_base = base;
  api = base->GetApi(HOST_API_VERSION);
  if (!api) {
    fprintf(stderr, "ONNX Runtime %s lacks C API %d\n", base->GetVersionString(),
            HOST_API_VERSION);
    return 2;
  }
  printf("ONNX Runtime %s, plugin %s\n", base->GetVersionString(), plugin);
  /* Read by ORT when the environment is created (any value but "0"
   * disables its telemetry client and the temp files it writes). */
  setenv("ORT_DISABLE_TELEMETRY", "1", 0);
  if (do_lifecycle) {
    int rc = lifecycle(testdata, plugin, log_level);
    if (env) api->ReleaseEnv(env);
    return rc;
  }
  const char *msg =
      take(api->CreateEnv((OrtLoggingLevel)log_level, "vimconvert_ops_host", &env));
  if (msg) {
    fprintf(stderr, "CreateEnv: %s\n", msg);
    return 2;
  }
  if (do_unlinked || second_ort) {
    if (do_unlinked) unlinked_copy(testdata, plugin);
    if (second_ort) second_runtime(testdata, plugin, second_ort);
    api->ReleaseEnv(env);
    printf(failures ? "host checks: %d failure(s)\n" : "host checks: pass\n", failures);
    return failures != 0;
  }
  int rc = model ? run_model(plugin, model, inputs, ninputs, expect, tol, threads, repeat)
                 : self_test(testdata, plugin, do_bench);
  for (size_t i = 0; i < ninputs; i++) free(inputs[i].data);
  api->ReleaseEnv(env);
  if (!model) printf(rc ? "host self-test: %d failure(s)\n" : "host self-test: pass\n", failures);
  return rc;
}
