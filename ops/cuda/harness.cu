// Standalone GPU harness for the CUDA selective scan (no ONNX Runtime):
//   --fixtures DIR  the official selective_scan_ref cases and the bimamba v2
//                   mixer (dumped to raw float32 by tools/fixtures_to_raw.py)
//   --checks        fresh random inputs at Vim-T/S/B x 224/1248, fp32/fp16/bf16,
//                   several chunkings, against a float64 reference and the CPU kernel
//   --quick         a few small checks only (for compute-sanitizer)
//   --time          CUDA-event timings (warm-up, median of many launches) and the
//                   device-memory floor (bytes / measured copy bandwidth)
//   --profile       one launch at Vim-S 1248 fp32 (for ncu)
//   --json FILE     one JSON object per result line
// Exit status: 0 all checks passed, 1 a check failed, 2 a CUDA or usage error.
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <string>
#include <vector>

#include "scan_cuda.h"
#include "test_common.h"

using namespace vctest;

#define CK(call)                                                                        \
  do {                                                                                  \
    cudaError_t e_ = (call);                                                            \
    if (e_ != cudaSuccess) {                                                            \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      exit(2);                                                                          \
    }                                                                                   \
  } while (0)

namespace {

FILE *g_json = NULL;
int g_failures = 0;

// Device copy of a problem in storage type t.
struct DeviceProblem {
  std::vector<void *> allocs;
  Buffers buf;
  size_t y_bytes = 0;

  void *up(const void *host, size_t bytes) {
    void *d = NULL;
    CK(cudaMalloc(&d, bytes > 0 ? bytes : 1));
    if (bytes) CK(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice));
    allocs.push_back(d);
    return d;
  }
  DeviceProblem(const Problem &p, vc_cuda_dtype t) {
    memset(&buf, 0, sizeof buf);
    for (int dir = 0; dir < p.ndir(); ++dir) {
      std::vector<uint8_t> v;
      v = to_type(p.u[dir], t), buf.u[dir] = up(v.data(), v.size());
      v = to_type(p.delta[dir], t), buf.delta[dir] = up(v.data(), v.size());
      v = to_type(p.Bm[dir], t), buf.Bm[dir] = up(v.data(), v.size());
      v = to_type(p.Cm[dir], t), buf.Cm[dir] = up(v.data(), v.size());
      buf.A[dir] = (const float *)up(p.A[dir].data(), p.A[dir].size() * 4);
      buf.Dv[dir] = (const float *)up(p.Dv[dir].data(), p.Dv[dir].size() * 4);
      buf.bias[dir] = (const float *)up(p.bias[dir].data(), p.bias[dir].size() * 4);
    }
    std::vector<uint8_t> v = to_type(p.z, t);
    buf.z = up(v.data(), v.size());
    y_bytes = (size_t)p.act() * vc::elem_bytes(t);
    std::vector<uint8_t> y(y_bytes);
    buf.y = up(y.data(), y.size());
  }
  ~DeviceProblem() {
    for (void *d : allocs) cudaFree(d);
  }
};

int num_sms() {
  const int n = vc_scan_cuda_num_sms();
  if (n <= 0) {
    fprintf(stderr, "cannot read the multiprocessor count\n");
    exit(2);
  }
  return n;
}

// Runs the CUDA scan once on poisoned y and returns y as float.
std::vector<float> run_device(const Problem &p, vc_cuda_dtype t, const vc_scan_cuda_plan_t *plan,
                              DeviceProblem &dp, cudaStream_t s) {
  std::vector<uint8_t> y(dp.y_bytes);
  poison(y, t);
  CK(cudaMemcpy(dp.buf.y, y.data(), y.size(), cudaMemcpyHostToDevice));
  const vc_scan_cuda_args a = cuda_args(p, t, dp.buf);
  const char *err = vc_scan_cuda_launch(&a, plan, s);
  if (err) {
    fprintf(stderr, "%s: launch: %s\n", p.name.c_str(), err);
    exit(2);
  }
  CK(cudaStreamSynchronize(s));
  CK(cudaGetLastError());
  CK(cudaMemcpy(y.data(), dp.buf.y, y.size(), cudaMemcpyDeviceToHost));
  return from_type(y, t);
}

void json_check(const Problem &p, vc_cuda_dtype t, const vc_scan_cuda_plan_t &plan,
                const char *against, const Err &e, double tol, bool pass) {
  if (!g_json) return;
  fprintf(g_json,
          "{\"kind\":\"check\",\"case\":\"%s\",\"dtype\":\"%s\",\"B\":%lld,\"L\":%lld,\"D\":%lld,"
          "\"N\":%lld,\"bidir\":%d,\"nchunks\":%lld,\"against\":\"%s\",\"rel_l2\":%.3e,"
          "\"max_abs\":%.3e,\"nonfinite\":%lld,\"tol\":%.1e,\"pass\":%s}\n",
          p.name.c_str(), dtype_name(t), (long long)p.B, (long long)p.L, (long long)p.D,
          (long long)p.N, p.bidir ? 1 : 0, (long long)plan.nchunks, against, e.rel_l2, e.max_abs,
          (long long)e.nonfinite, tol, pass ? "true" : "false");
  fflush(g_json);
}

bool report(const Problem &p, vc_cuda_dtype t, const vc_scan_cuda_plan_t &plan,
            const char *against, const Err &e, double tol) {
  const bool pass = e.nonfinite == 0 && e.rel_l2 <= tol;
  printf("%-5s %-30s %-4s chunks=%-4lld vs %-9s rel=%.2e max=%.2e tol=%.0e%s\n",
         pass ? "ok" : "FAIL", p.name.c_str(), dtype_name(t), (long long)plan.nchunks, against,
         e.rel_l2, e.max_abs, tol,
         e.nonfinite ? (" UNWRITTEN/NONFINITE=" + std::to_string(e.nonfinite)).c_str() : "");
  json_check(p, t, plan, against, e, tol, pass);
  if (!pass) g_failures++;
  return pass;
}

// Checks one problem in type t with the heuristic plan and, when they differ,
// one chunk and the most chunks; plus a rerun that must be bit-identical.
void check_problem(Problem p, vc_cuda_dtype t, cudaStream_t s, bool all_plans) {
  round_activations(p, t);
  const std::vector<double> ref = reference(p);
  std::vector<float> cpu((size_t)p.act());
  const vc_scan_args ca = p.cpu_args(cpu.data());
  vc_scan_cpu(&ca);
  DeviceProblem dp(p, t);
  const vc_scan_cuda_args a = cuda_args(p, t, dp.buf);
  std::vector<int64_t> wants = {0};
  if (all_plans) wants.push_back(1), wants.push_back(1 << 30);
  std::vector<int64_t> seen;
  for (int64_t w : wants) {
    vc_scan_cuda_plan_t plan;
    const char *err = vc_scan_cuda_plan(&a, num_sms(), w, &plan);
    if (err) {
      fprintf(stderr, "%s: plan: %s\n", p.name.c_str(), err);
      exit(2);
    }
    if (std::find(seen.begin(), seen.end(), plan.nchunks) != seen.end()) continue;
    seen.push_back(plan.nchunks);
    const std::vector<float> y = run_device(p, t, &plan, dp, s);
    report(p, t, plan, "float64", compare(y, ref), tolerance(t));
    if (t == VC_CUDA_F32) report(p, t, plan, "cpu", compare(y, cpu), 2 * tolerance(t));
    if (!p.expected.empty()) report(p, t, plan, "official", compare(y, p.expected), tolerance(t));
    const std::vector<float> y2 = run_device(p, t, &plan, dp, s);
    if (memcmp(y.data(), y2.data(), y.size() * 4) != 0) {
      printf("FAIL  %-30s %-4s chunks=%lld: two runs differ (race?)\n", p.name.c_str(),
             dtype_name(t), (long long)plan.nchunks);
      g_failures++;
    }
  }
}

std::vector<std::string> read_lines(const std::string &path) {
  std::vector<std::string> out;
  FILE *f = fopen(path.c_str(), "r");
  if (!f) return out;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    if (!s.empty()) out.push_back(s);
  }
  fclose(f);
  return out;
}

struct Shape {
  const char *name;
  int64_t B, L, D;
};

// d_inner = 2 * d_model: Vim-T 192 -> 384, Vim-S 384 -> 768, Vim-B 768 -> 1536.
// Tokens: (img/16)^2 + 1 cls: 197 at 224, 6085 at 1248.
const Shape kVimShapes[] = {
    {"vim-t-224", 1, 197, 384},   {"vim-s-224", 1, 197, 768},   {"vim-b-224", 1, 197, 1536},
    {"vim-t-1248", 1, 6085, 384}, {"vim-s-1248", 1, 6085, 768}, {"vim-b-1248", 1, 6085, 1536},
    {"vim-s-224-b8", 8, 197, 768},
};

const vc_cuda_dtype kTypes[] = {VC_CUDA_F32, VC_CUDA_F16, VC_CUDA_BF16};

void run_checks(cudaStream_t s, bool quick) {
  uint64_t seed = 7001;
  if (quick) {
    check_problem(random_problem("small-bi", 2, 70, 40, 16, true, seed++), VC_CUDA_F32, s, true);
    check_problem(random_problem("small-uni", 1, 50, 33, 16, false, seed++), VC_CUDA_F16, s, true);
    check_problem(random_problem("small-n5", 1, 90, 20, 5, true, seed++), VC_CUDA_BF16, s, true);
    return;
  }
  // Odd shapes: generic N path, partial blocks, one-row chunks' neighbours.
  check_problem(random_problem("odd-b2-l9-d13-n5", 2, 9, 13, 5, true, seed++), VC_CUDA_F32, s, true);
  check_problem(random_problem("odd-b3-l137-d130", 3, 137, 130, 16, true, seed++), VC_CUDA_F32, s,
                true);
  check_problem(random_problem("odd-uni-l300-d70", 2, 300, 70, 16, false, seed++), VC_CUDA_F16, s,
                true);
  for (const Shape &sh : kVimShapes) {
    for (vc_cuda_dtype t : kTypes) {
      check_problem(random_problem(sh.name, sh.B, sh.L, sh.D, 16, true, seed++), t, s,
                    sh.L < 1000 && t == VC_CUDA_F32);
    }
  }
}

// ---- timing ----

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0f : v[v.size() / 2];
}

// Device-to-device copy bandwidth, counting bytes read plus bytes written.
double copy_bandwidth(cudaStream_t s) {
  const size_t bytes = (size_t)1 << 30;
  void *a = NULL, *b = NULL;
  CK(cudaMalloc(&a, bytes));
  CK(cudaMalloc(&b, bytes));
  CK(cudaMemsetAsync(a, 1, bytes, s));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  std::vector<float> ms;
  for (int i = 0; i < 12; ++i) {
    CK(cudaEventRecord(e0, s));
    CK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, s));
    CK(cudaEventRecord(e1, s));
    CK(cudaEventSynchronize(e1));
    float t = 0;
    CK(cudaEventElapsedTime(&t, e0, e1));
    if (i >= 2) ms.push_back(t);
  }
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  CK(cudaFree(a));
  CK(cudaFree(b));
  return 2.0 * bytes / (median(ms) * 1e-3);
}

// Fewest bytes one scan must move: every input read once, y written once.
double min_bytes(const Problem &p, vc_cuda_dtype t) {
  const double eb = (double)vc::elem_bytes(t);
  const double act = (double)p.act(), bc = (double)p.bc();
  return ((2.0 * p.ndir() + 1.0) * act + 2.0 * p.ndir() * bc + act) * eb +
         p.ndir() * ((double)p.D * p.N + 2.0 * p.D) * 4.0;
}

void time_shape(const Shape &sh, vc_cuda_dtype t, double bw, size_t l2, cudaStream_t s) {
  Problem p = random_problem(sh.name, sh.B, sh.L, sh.D, 16, true, 9000 + sh.L + sh.D);
  const double bytes = min_bytes(p, t);
  // Rotate among enough input sets that they do not fit in L2 together.
  const int sets = (int)std::min<double>(16.0, std::max(1.0, 3.0 * (double)l2 / bytes + 1));
  std::vector<DeviceProblem *> dps;
  for (int i = 0; i < sets; ++i) dps.push_back(new DeviceProblem(p, t));
  std::vector<vc_scan_cuda_args> args;
  for (auto *dp : dps) args.push_back(cuda_args(p, t, dp->buf));
  vc_scan_cuda_plan_t plan;
  const char *err = vc_scan_cuda_plan(&args[0], num_sms(), 0, &plan);
  if (err) {
    fprintf(stderr, "%s: plan: %s\n", sh.name, err);
    exit(2);
  }
  // All launches are queued back to back, each between its own pair of events,
  // and read after one synchronisation: no host round trip between launches.
  const int warm = 10, reps = sh.L > 1000 ? 100 : 300;
  std::vector<cudaEvent_t> ev(2 * (size_t)(warm + reps));
  for (auto &e : ev) CK(cudaEventCreate(&e));
  for (int i = 0; i < warm + reps; ++i) {
    CK(cudaEventRecord(ev[2 * i], s));
    err = vc_scan_cuda_launch(&args[i % sets], &plan, s);
    if (err) {
      fprintf(stderr, "%s: launch: %s\n", sh.name, err);
      exit(2);
    }
    CK(cudaEventRecord(ev[2 * i + 1], s));
  }
  CK(cudaStreamSynchronize(s));
  std::vector<float> ms;
  for (int i = warm; i < warm + reps; ++i) {
    float x = 0;
    CK(cudaEventElapsedTime(&x, ev[2 * i], ev[2 * i + 1]));
    ms.push_back(x);
  }
  float total = 0;
  CK(cudaEventElapsedTime(&total, ev[2 * warm], ev[2 * (warm + reps) - 1]));
  CK(cudaGetLastError());
  const float med = median(ms), mn = *std::min_element(ms.begin(), ms.end());
  const double floor_us = bytes / bw * 1e6, us = med * 1e3;
  const double mean_us = total * 1e3 / reps;  // back to back, gaps included
  printf("time  %-13s %-4s B=%lld L=%-5lld D=%-5lld chunks=%-4lld median %9.1f us  min %9.1f us"
         "  mean %9.1f us  floor %7.1f us  x%.2f of floor  %6.0f GB/s  (%d input sets)\n",
         sh.name, dtype_name(t), (long long)sh.B, (long long)sh.L, (long long)sh.D,
         (long long)plan.nchunks, us, mn * 1e3, mean_us, floor_us, us / floor_us,
         bytes / (med * 1e-3) / 1e9, sets);
  if (g_json)
    fprintf(g_json,
            "{\"kind\":\"time\",\"shape\":\"%s\",\"dtype\":\"%s\",\"B\":%lld,\"L\":%lld,\"D\":%lld,"
            "\"N\":16,\"nchunks\":%lld,\"us_median\":%.2f,\"us_min\":%.2f,\"us_mean\":%.2f,\"reps\":%d,"
            "\"bytes\":%.0f,\"copy_bw_GBs\":%.1f,\"floor_us\":%.2f,\"sets\":%d}\n",
            sh.name, dtype_name(t), (long long)sh.B, (long long)sh.L, (long long)sh.D,
            (long long)plan.nchunks, us, mn * 1e3, mean_us, reps, bytes, bw / 1e9, floor_us, sets);
  for (auto &e : ev) CK(cudaEventDestroy(e));
  for (auto *dp : dps) delete dp;
}

}  // namespace

int main(int argc, char **argv) {
  std::string fixtures, json;
  bool checks = false, quick = false, timing = false, profile = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--fixtures" && i + 1 < argc) fixtures = argv[++i];
    else if (a == "--json" && i + 1 < argc) json = argv[++i];
    else if (a == "--checks") checks = true;
    else if (a == "--quick") quick = true;
    else if (a == "--time") timing = true;
    else if (a == "--profile") profile = true;
    else {
      fprintf(stderr, "usage: %s [--fixtures DIR] [--checks] [--quick] [--time] [--profile] "
                      "[--json FILE]\n", argv[0]);
      return 2;
    }
  }
  if (!json.empty() && !(g_json = fopen(json.c_str(), "w"))) {
    fprintf(stderr, "cannot write %s\n", json.c_str());
    return 2;
  }
  int dev = 0;
  CK(cudaGetDevice(&dev));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, dev));
  printf("device %d: %s, %d SMs, L2 %.0f MB, cc %d.%d\n", dev, prop.name,
         prop.multiProcessorCount, prop.l2CacheSize / 1e6, prop.major, prop.minor);
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

  if (!fixtures.empty()) {
    const std::vector<std::string> names = read_lines(fixtures + "/index.txt");
    if (names.empty()) {
      fprintf(stderr, "no cases in %s/index.txt\n", fixtures.c_str());
      return 2;
    }
    for (const std::string &n : names) {
      Problem p;
      std::string err;
      if (!load_raw_case(fixtures, n, &p, &err)) {
        fprintf(stderr, "fixture %s: %s\n", n.c_str(), err.c_str());
        return 2;
      }
      check_problem(p, VC_CUDA_F32, s, true);
    }
  }
  if (checks || quick) run_checks(s, quick);
  if (profile) {
    const Shape sh = {"vim-s-1248", 1, 6085, 768};
    Problem p = random_problem(sh.name, sh.B, sh.L, sh.D, 16, true, 1);
    DeviceProblem dp(p, VC_CUDA_F32);
    run_device(p, VC_CUDA_F32, NULL, dp, s);
  }
  if (timing) {
    const double bw = copy_bandwidth(s);
    printf("copy bandwidth (read + write): %.0f GB/s\n", bw / 1e9);
    for (const Shape &sh : kVimShapes)
      for (vc_cuda_dtype t : kTypes) time_shape(sh, t, bw, (size_t)prop.l2CacheSize, s);
  }
  CK(cudaStreamDestroy(s));
  if (g_json) fclose(g_json);
  if (g_failures) {
    printf("harness: %d check(s) FAILED\n", g_failures);
    return 1;
  }
  printf("harness: all checks passed\n");
  return 0;
}
