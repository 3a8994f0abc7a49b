// Host emulation test of the CUDA scan: runs the exact kernel bodies of
// scan_kernel.cuh on the CPU (emulate.h) with the launcher's chunk plan and
// compares them with a float64 reference and with the CPU kernel
// (ops/cpu/scan_cpu.c), on fresh random inputs, for float32, float16 and
// bfloat16 activations and many chunkings. Needs no GPU and no nvcc, so it runs
// in CI; what it cannot check (the device's exp2f, the 16-byte loads, the real
// thread schedule) is left to the GPU harness (harness.cu).
//
// Usage: vimconvert_cuda_emu_test [--long] [--fixtures DIR]
//   --long adds a Vim-S 1248x1248 shape (L = 6085, D = 768), ~10 s.
//   --fixtures DIR also checks the official cases dumped by
//   tools/fixtures_to_raw.py against their expected outputs.
#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

#include "emulate.h"
#include "test_common.h"

using namespace vctest;

namespace {

struct Case {
  const char *reason;
  int64_t B, L, D, N;
  bool bidir;
  vc_cuda_dtype t;
  int64_t want_chunks;  // 0: the launcher's heuristic for `sms` multiprocessors
  int sms;
};

int failures = 0;

void fail(const char *fmt, const std::string &a, double x, double y) {
  printf("FAIL %s: ", a.c_str());
  printf(fmt, x, y);
  printf("\n");
  failures++;
}

// Uploads p in storage type t into host "device" buffers, runs the emulation
// with the plan, returns y as float.
std::vector<float> run_emulated(const Problem &p, vc_cuda_dtype t,
                                const vc_scan_cuda_plan_t &plan, uint64_t seed) {
  std::vector<uint8_t> u[2], delta[2], Bm[2], Cm[2];
  for (int dir = 0; dir < p.ndir(); ++dir) {
    u[dir] = to_type(p.u[dir], t);
    delta[dir] = to_type(p.delta[dir], t);
    Bm[dir] = to_type(p.Bm[dir], t);
    Cm[dir] = to_type(p.Cm[dir], t);
  }
  std::vector<uint8_t> z = to_type(p.z, t);
  std::vector<uint8_t> y((size_t)p.act() * vc::elem_bytes(t));
  poison(y, t);
  Buffers b;
  memset(&b, 0, sizeof b);
  for (int dir = 0; dir < p.ndir(); ++dir) {
    b.u[dir] = u[dir].data(), b.delta[dir] = delta[dir].data();
    b.Bm[dir] = Bm[dir].data(), b.Cm[dir] = Cm[dir].data();
    b.A[dir] = p.A[dir].data(), b.Dv[dir] = p.Dv[dir].data(), b.bias[dir] = p.bias[dir].data();
  }
  b.z = z.data();
  b.y = y.data();
  const vc_scan_cuda_args a = cuda_args(p, t, b);
  const char *err = vc::emulate(&a, plan, seed);
  if (err) {
    printf("FAIL %s: emulate: %s\n", p.name.c_str(), err);
    failures++;
  }
  return from_type(y, t);
}

void run_case(const Case &c, uint64_t seed) {
  char name[160];
  snprintf(name, sizeof name, "B%lld L%lld D%lld N%lld %s %s chunks=%lld", (long long)c.B,
           (long long)c.L, (long long)c.D, (long long)c.N, c.bidir ? "bi" : "uni",
           dtype_name(c.t), (long long)c.want_chunks);
  Problem p = random_problem(name, c.B, c.L, c.D, c.N, c.bidir, seed);
  round_activations(p, c.t);

  // The plan the launcher would use, and its invariants.
  Buffers dummy;
  memset(&dummy, 0, sizeof dummy);
  vc_scan_cuda_args a = cuda_args(p, c.t, dummy);
  if (p.bidir) a.u_b = &a;  // only its being non-NULL matters for planning
  vc_scan_cuda_plan_t plan;
  const char *err = vc::plan_chunks(&a, c.sms, c.want_chunks, &plan);
  if (err) {
    printf("FAIL %s: plan: %s\n", name, err);
    failures++;
    return;
  }
  const int64_t need = vc::need_rows((int)c.N, p.ndir(), vc::elem_bytes(c.t));
  if (plan.nchunks < 1 || plan.nchunks > (c.L > 0 ? c.L : 1) ||
      (plan.nchunks > 1 && plan.chunk_min < need) ||
      (p.bidir && plan.chunk_max * plan.threads * 4 != (int64_t)plan.smem_bytes) ||
      plan.smem_bytes > 48 * 1024) {
    printf("FAIL %s: bad plan nchunks=%lld rows %lld..%lld smem=%zu (need %lld)\n", name,
           (long long)plan.nchunks, (long long)plan.chunk_min, (long long)plan.chunk_max,
           plan.smem_bytes, (long long)need);
    failures++;
    return;
  }
  if (c.want_chunks > 0 && plan.nchunks != c.want_chunks)
    printf("note %s: asked for %lld chunks, plan allows %lld\n", name, (long long)c.want_chunks,
           (long long)plan.nchunks);

  const std::vector<double> ref = reference(p);
  std::vector<float> cpu((size_t)p.act());
  const vc_scan_args ca = p.cpu_args(cpu.data());
  vc_scan_cpu(&ca);
  const std::vector<float> emu = run_emulated(p, c.t, plan, seed ^ 0x5eed);

  const Err e = compare(emu, ref), ec = compare(cpu, ref);
  printf("%-8s %-44s chunks=%-4lld rows=%lld..%-4lld rel=%.2e max=%.2e (cpu rel=%.2e)  %s\n",
         e.nonfinite || e.rel_l2 > tolerance(c.t) ? "FAIL" : "ok", name, (long long)plan.nchunks,
         (long long)plan.chunk_min, (long long)plan.chunk_max, e.rel_l2, e.max_abs, ec.rel_l2,
         c.reason);
  if (e.nonfinite) fail("%.0f outputs not written or not finite (of %.0f)", name,
                        (double)e.nonfinite, (double)emu.size());
  if (e.rel_l2 > tolerance(c.t)) fail("relative L2 error %.3e > %.1e", name, e.rel_l2,
                                      tolerance(c.t));
  if (ec.rel_l2 > tolerance(VC_CUDA_F32))
    fail("CPU kernel relative L2 error %.3e > %.1e", name, ec.rel_l2, tolerance(VC_CUDA_F32));
}

void check_fixture(const Problem &p) {
  const std::vector<double> ref = reference(p);
  std::vector<float> cpu((size_t)p.act());
  const vc_scan_args ca = p.cpu_args(cpu.data());
  vc_scan_cpu(&ca);
  for (int64_t want : {(int64_t)0, (int64_t)1 << 30}) {
    Buffers dummy;
    memset(&dummy, 0, sizeof dummy);
    vc_scan_cuda_args a = cuda_args(p, VC_CUDA_F32, dummy);
    if (p.bidir) a.u_b = &a;
    vc_scan_cuda_plan_t plan;
    const char *err = vc::plan_chunks(&a, 132, want, &plan);
    if (err) {
      printf("FAIL %s: plan: %s\n", p.name.c_str(), err);
      failures++;
      return;
    }
    const std::vector<float> emu = run_emulated(p, VC_CUDA_F32, plan, 99);
    const Err eo = compare(emu, p.expected), er = compare(emu, ref),
              ec = compare(cpu, p.expected);
    const bool ok = eo.nonfinite == 0 && eo.rel_l2 <= tolerance(VC_CUDA_F32) &&
                    er.rel_l2 <= tolerance(VC_CUDA_F32);
    printf("%-8s fixture %-28s chunks=%-4lld vs official rel=%.2e max=%.2e, vs float64 rel=%.2e"
           " (cpu vs official rel=%.2e)\n",
           ok ? "ok" : "FAIL", p.name.c_str(), (long long)plan.nchunks, eo.rel_l2, eo.max_abs,
           er.rel_l2, ec.rel_l2);
    if (!ok) failures++;
    if (ec.rel_l2 > tolerance(VC_CUDA_F32)) {
      printf("FAIL fixture %s: CPU kernel vs official rel=%.2e\n", p.name.c_str(), ec.rel_l2);
      failures++;
    }
  }
}

void check_errors() {
  Problem p = random_problem("errors", 1, 8, 4, 16, true, 1);
  Buffers b;
  memset(&b, 0, sizeof b);
  vc_scan_cuda_args a = cuda_args(p, VC_CUDA_F32, b);
  struct {
    const char *reason;
    int64_t dstate, batch;
    int dtype;
    const char *want;
  } bad[] = {
      {"state too large for registers", 17, 1, VC_CUDA_F32, "dstate"},
      {"no state", 0, 1, VC_CUDA_F32, "dstate"},
      {"negative batch", 16, -1, VC_CUDA_F32, "negative"},
      {"unknown type", 16, 1, 7, "type"},
  };
  for (auto &t : bad) {
    vc_scan_cuda_args x = a;
    x.dstate = t.dstate, x.batch = t.batch, x.dtype = t.dtype;
    const char *err = vc::check_args(&x);
    if (!err || !strstr(err, t.want)) {
      printf("FAIL error case '%s': got %s\n", t.reason, err ? err : "no error");
      failures++;
    } else {
      printf("ok       error case '%s': %s\n", t.reason, err);
    }
  }
  // Empty problem: nothing runs, the output (none) is untouched.
  vc_scan_cuda_args e = a;
  e.seqlen = 0;
  vc_scan_cuda_plan_t plan;
  const char *err = vc::plan_chunks(&e, 132, 0, &plan);
  if (!err) err = vc::emulate(&e, plan, 1);
  if (err) {
    printf("FAIL empty problem: %s\n", err);
    failures++;
  }
}

}  // namespace

int main(int argc, char **argv) {
  bool long_run = false;
  std::string fixtures;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--long") == 0) {
      long_run = true;
    } else if (strcmp(argv[i], "--fixtures") == 0 && i + 1 < argc) {
      fixtures = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--long] [--fixtures DIR]\n", argv[0]);
      return 2;
    }
  }
  std::vector<Case> cases = {
      {"single step", 1, 1, 8, 16, true, VC_CUDA_F32, 0, 132},
      {"two steps", 2, 2, 8, 16, true, VC_CUDA_F32, 0, 132},
      {"odd sizes, N=5 (generic path)", 2, 9, 13, 5, true, VC_CUDA_F32, 0, 132},
      {"N=1", 1, 50, 3, 1, true, VC_CUDA_F32, 0, 132},
      {"one chunk, bidirectional, L = need", 1, 34, 5, 16, true, VC_CUDA_F32, 1, 132},
      {"two chunks at the minimum length", 1, 68, 5, 16, true, VC_CUDA_F32, 2, 132},
      {"uneven chunks", 3, 137, 9, 16, true, VC_CUDA_F32, 3, 132},
      {"max chunks, Vim-T 224", 1, 197, 384, 16, true, VC_CUDA_F32, 1000, 132},
      {"heuristic, Vim-T 224, batch 2", 2, 197, 384, 16, true, VC_CUDA_F32, 0, 132},
      {"heuristic, few SMs", 1, 300, 40, 16, true, VC_CUDA_F32, 0, 2},
      {"stride-8 length, N=5", 1, 730, 24, 5, true, VC_CUDA_F32, 0, 132},
      {"unidirectional one chunk", 2, 197, 24, 16, false, VC_CUDA_F32, 1, 132},
      {"unidirectional many chunks", 2, 197, 24, 16, false, VC_CUDA_F32, 1000, 132},
      {"unidirectional N=3", 1, 100, 7, 3, false, VC_CUDA_F32, 0, 132},
      {"fp16, one chunk", 1, 100, 16, 16, true, VC_CUDA_F16, 1, 132},
      {"fp16, max chunks", 2, 197, 64, 16, true, VC_CUDA_F16, 1000, 132},
      {"fp16, between caps (L in (96, 136))", 1, 120, 8, 16, true, VC_CUDA_F16, 0, 132},
      {"fp16 unidirectional", 1, 150, 8, 16, false, VC_CUDA_F16, 1000, 132},
      {"bf16, max chunks", 2, 197, 64, 16, true, VC_CUDA_BF16, 1000, 132},
      {"bf16, N=7", 1, 300, 10, 7, true, VC_CUDA_BF16, 0, 132},
  };
  if (long_run) {
    cases.push_back({"Vim-S 1248, heuristic for an H100", 1, 6085, 768, 16, true, VC_CUDA_F32, 0,
                     132});
    cases.push_back({"Vim-T 1248 fp16", 1, 6085, 384, 16, true, VC_CUDA_F16, 0, 132});
  }
  uint64_t seed = 20250521;
  for (const Case &c : cases) run_case(c, seed++);
  check_errors();
  if (!fixtures.empty()) {
    FILE *f = fopen((fixtures + "/index.txt").c_str(), "r");
    if (!f) {
      printf("FAIL cannot open %s/index.txt\n", fixtures.c_str());
      return 1;
    }
    char line[256];
    while (fgets(line, sizeof line, f)) {
      std::string n(line);
      while (!n.empty() && (n.back() == '\n' || n.back() == ' ')) n.pop_back();
      if (n.empty()) continue;
      Problem p;
      std::string err;
      if (!load_raw_case(fixtures, n, &p, &err)) {
        printf("FAIL fixture %s: %s\n", n.c_str(), err.c_str());
        failures++;
        continue;
      }
      check_fixture(p);
    }
    fclose(f);
  }
  if (failures) {
    printf("cuda emulation test: %d failure(s)\n", failures);
    return 1;
  }
  printf("cuda emulation test: all passed\n");
  return 0;
}
