// Test support shared by the host emulation test (emu_test.cc, any C++17
// compiler) and the GPU harness (harness.cu): problem construction with fresh
// random Vim-like inputs, a float64 reference written from the formulas in
// ops/README.md, conversion of inputs to the activation type, and error metrics.
#pragma once

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmath>
#include <string>
#include <vector>

#include "../cpu/scan_cpu.h"
#include "scan_cuda.h"
#include "scan_kernel.cuh"

namespace vctest {

// splitmix64: small, seedable, identical on every platform.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((next() >> 40) * (1.0 / 16777216.0));
  }
};

// One problem in the op's layout, float32 master copies on the host.
struct Problem {
  std::string name;
  int64_t B = 0, L = 0, D = 0, N = 0;
  bool bidir = true;
  float out_scale = 0.5f;
  // dir 0 = forward, 1 = backward: u, delta [B,L,D]; A [D,N]; Bm, Cm [B,L,N]; Dv, bias [D]
  std::vector<float> u[2], delta[2], A[2], Bm[2], Cm[2], Dv[2], bias[2];
  std::vector<float> z;         // [B,L,D]
  std::vector<float> expected;  // [B,L,D], optional (fixtures: the official reference)

  int ndir() const { return bidir ? 2 : 1; }
  int64_t act() const { return B * L * D; }
  int64_t bc() const { return B * L * N; }

  // Pointers for the CPU kernel (float32).
  vc_scan_args cpu_args(float *y) const {
    vc_scan_args a;
    memset(&a, 0, sizeof a);
    a.batch = B, a.seqlen = L, a.dim = D, a.dstate = N;
    a.u_f = u[0].data(), a.delta_f = delta[0].data(), a.A_f = A[0].data();
    a.B_f = Bm[0].data(), a.C_f = Cm[0].data(), a.D_f = Dv[0].data();
    a.delta_bias_f = bias[0].data();
    if (bidir) {
      a.u_b = u[1].data(), a.delta_b = delta[1].data(), a.A_b = A[1].data();
      a.B_b = Bm[1].data(), a.C_b = Cm[1].data(), a.D_b = Dv[1].data();
      a.delta_bias_b = bias[1].data();
    }
    a.z = z.data();
    a.y = y;
    a.out_scale = out_scale;
    return a;
  }
};

// Fresh random inputs with Vim's value ranges: dt = softplus(delta + bias) in
// about [3e-4, 1], A = -exp(U(log 0.5, log 16)), activations O(1).
inline Problem random_problem(const std::string &name, int64_t B, int64_t L, int64_t D, int64_t N,
                              bool bidir, uint64_t seed) {
  Problem p;
  p.name = name;
  p.B = B, p.L = L, p.D = D, p.N = N;
  p.bidir = bidir;
  p.out_scale = bidir ? 0.5f : 1.0f;
  Rng r(seed);
  auto fill = [&r](std::vector<float> &v, int64_t n, float lo, float hi) {
    v.resize((size_t)n);
    for (auto &x : v) x = r.uniform(lo, hi);
  };
  for (int dir = 0; dir < p.ndir(); ++dir) {
    fill(p.u[dir], p.act(), -2.0f, 2.0f);
    fill(p.delta[dir], p.act(), -1.0f, 1.0f);
    fill(p.A[dir], D * N, logf(0.5f), logf(16.0f));
    for (auto &a : p.A[dir]) a = -expf(a);
    fill(p.Bm[dir], p.bc(), -1.5f, 1.5f);
    fill(p.Cm[dir], p.bc(), -1.5f, 1.5f);
    fill(p.Dv[dir], D, 0.5f, 1.5f);
    fill(p.bias[dir], D, -6.0f, -1.0f);
  }
  fill(p.z, p.act(), -3.0f, 3.0f);
  return p;
}

// Rounds every activation (u, delta, B, C, z) to the given type and back, so
// that the references see exactly what the kernel reads.
inline void round_activations(Problem &p, vc_cuda_dtype t) {
  if (t == VC_CUDA_F32) return;
  auto rnd = [t](std::vector<float> &v) {
    for (auto &x : v)
      x = t == VC_CUDA_F16 ? vc::host_f16_to_f32(vc::host_f32_to_f16(x))
                           : vc::bits_f32((uint32_t)vc::host_f32_to_bf16(x) << 16);
  };
  for (int dir = 0; dir < p.ndir(); ++dir) {
    rnd(p.u[dir]);
    rnd(p.delta[dir]);
    rnd(p.Bm[dir]);
    rnd(p.Cm[dir]);
  }
  rnd(p.z);
}

// Activations converted to the storage type (raw bytes, for upload).
inline std::vector<uint8_t> to_type(const std::vector<float> &v, vc_cuda_dtype t) {
  const size_t eb = vc::elem_bytes(t);
  std::vector<uint8_t> out(v.size() * eb);
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == VC_CUDA_F32) {
      memcpy(&out[i * 4], &v[i], 4);
    } else {
      const uint16_t h =
          t == VC_CUDA_F16 ? vc::host_f32_to_f16(v[i]) : vc::host_f32_to_bf16(v[i]);
      memcpy(&out[i * 2], &h, 2);
    }
  }
  return out;
}

inline std::vector<float> from_type(const std::vector<uint8_t> &raw, vc_cuda_dtype t) {
  const size_t eb = vc::elem_bytes(t), n = raw.size() / eb;
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (t == VC_CUDA_F32) {
      memcpy(&out[i], &raw[i * 4], 4);
    } else {
      uint16_t h;
      memcpy(&h, &raw[i * 2], 2);
      out[i] = t == VC_CUDA_F16 ? vc::host_f16_to_f32(h) : vc::bits_f32((uint32_t)h << 16);
    }
  }
  return out;
}

// Fills raw (storage type t) with NaN so that unwritten elements show.
inline void poison(std::vector<uint8_t> &raw, vc_cuda_dtype t) {
  if (t == VC_CUDA_F32) {
    const uint32_t nan = 0x7fc00000u;
    for (size_t i = 0; i + 4 <= raw.size(); i += 4) memcpy(&raw[i], &nan, 4);
  } else {
    const uint16_t nan = t == VC_CUDA_F16 ? 0x7e00u : 0x7fc0u;
    for (size_t i = 0; i + 2 <= raw.size(); i += 2) memcpy(&raw[i], &nan, 2);
  }
}

// Float64 reference, straight from the formulas (one channel at a time).
inline std::vector<double> reference(const Problem &p) {
  std::vector<double> out((size_t)p.act(), 0.0), acc((size_t)p.L), h((size_t)p.N);
  for (int64_t b = 0; b < p.B; ++b) {
    for (int64_t d = 0; d < p.D; ++d) {
      for (auto &x : acc) x = 0.0;
      for (int dir = 0; dir < p.ndir(); ++dir) {
        for (auto &x : h) x = 0.0;
        for (int64_t s = 0; s < p.L; ++s) {
          const int64_t t = dir == 0 ? s : p.L - 1 - s;
          const int64_t i = (b * p.L + t) * p.D + d, j = (b * p.L + t) * p.N;
          const double x = (double)p.delta[dir][i] + (double)p.bias[dir][d];
          const double dt = x > 20.0 ? x : log1p(exp(x));
          const double uu = p.u[dir][i];
          double y = (double)p.Dv[dir][d] * uu;
          for (int64_t n = 0; n < p.N; ++n) {
            h[n] = exp(dt * (double)p.A[dir][d * p.N + n]) * h[n] + dt * (double)p.Bm[dir][j + n] * uu;
            y += h[n] * (double)p.Cm[dir][j + n];
          }
          acc[t] += y;
        }
      }
      for (int64_t t = 0; t < p.L; ++t) {
        const int64_t i = (b * p.L + t) * p.D + d;
        const double zz = p.z[i];
        out[i] = acc[t] * (zz / (1.0 + exp(-zz))) * (double)p.out_scale;
      }
    }
  }
  return out;
}

// Error of out against ref: relative L2 norm, max abs, and count of
// non-finite outputs (unwritten elements keep the NaN poison).
struct Err {
  double rel_l2 = 0, max_abs = 0, ref_max = 0;
  int64_t nonfinite = 0, worst = -1;
};

template <class V>
inline Err compare(const std::vector<float> &out, const V &ref) {
  Err e;
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const double r = (double)ref[i];
    if (!std::isfinite(out[i])) {
      e.nonfinite++;
      continue;
    }
    const double d = fabs((double)out[i] - r);
    num += d * d;
    den += r * r;
    if (d > e.max_abs) e.max_abs = d, e.worst = (int64_t)i;
    if (fabs(r) > e.ref_max) e.ref_max = fabs(r);
  }
  e.rel_l2 = den > 0 ? sqrt(num / den) : sqrt(num);
  return e;
}

// Tolerance on the relative L2 error against the float64 reference computed
// on the same (rounded) inputs: float32 state and accumulation everywhere, so
// only the output's own rounding differs by type.
inline double tolerance(vc_cuda_dtype t) {
  switch (t) {
    case VC_CUDA_F32: return 1e-5;
    case VC_CUDA_F16: return 1e-3;   // output rounding alone: ~2^-11/sqrt(3) = 2.8e-4
    case VC_CUDA_BF16: return 8e-3;  // output rounding alone: ~2^-8/sqrt(3) = 2.3e-3
  }
  return 0;
}

inline const char *dtype_name(vc_cuda_dtype t) {
  return t == VC_CUDA_F32 ? "fp32" : t == VC_CUDA_F16 ? "fp16" : "bf16";
}

// Device-side arguments for p whose buffers (storage type t) are at the given
// addresses; A, D, delta_bias are float32. Used by the harness and emulation.
struct Buffers {
  const void *u[2], *delta[2], *Bm[2], *Cm[2];
  const float *A[2], *Dv[2], *bias[2];
  const void *z;
  void *y;
};

inline vc_scan_cuda_args cuda_args(const Problem &p, vc_cuda_dtype t, const Buffers &b) {
  vc_scan_cuda_args a;
  memset(&a, 0, sizeof a);
  a.batch = p.B, a.seqlen = p.L, a.dim = p.D, a.dstate = p.N;
  a.dtype = t;
  a.u_f = b.u[0], a.delta_f = b.delta[0], a.B_f = b.Bm[0], a.C_f = b.Cm[0];
  a.A_f = b.A[0], a.D_f = b.Dv[0], a.delta_bias_f = b.bias[0];
  if (p.bidir) {
    a.u_b = b.u[1], a.delta_b = b.delta[1], a.B_b = b.Bm[1], a.C_b = b.Cm[1];
    a.A_b = b.A[1], a.D_b = b.Dv[1], a.delta_bias_b = b.bias[1];
  }
  a.z = b.z, a.y = b.y;
  a.out_scale = p.out_scale;
  return a;
}

// Reads a fixture case written by tools/fixtures_to_raw.py: DIR/NAME.txt holds
// "B L D N bidir out_scale" and the list of arrays; each array is DIR/NAME.KEY.f32
// (little-endian float32, already in the op's layout).
inline bool load_raw_case(const std::string &dir, const std::string &name, Problem *p,
                          std::string *err) {
  FILE *f = fopen((dir + "/" + name + ".txt").c_str(), "r");
  if (!f) {
    *err = "cannot open " + dir + "/" + name + ".txt";
    return false;
  }
  long long B, L, D, N;
  int bidir;
  float scale;
  const int got = fscanf(f, "%lld %lld %lld %lld %d %f", &B, &L, &D, &N, &bidir, &scale);
  fclose(f);
  if (got != 6) {
    *err = "bad header in " + name + ".txt";
    return false;
  }
  p->name = name;
  p->B = B, p->L = L, p->D = D, p->N = N;
  p->bidir = bidir != 0;
  p->out_scale = scale;
  auto rd = [&](const std::string &key, std::vector<float> &v, int64_t n) -> bool {
    const std::string path = dir + "/" + name + "." + key + ".f32";
    FILE *g = fopen(path.c_str(), "rb");
    if (!g) {
      *err = "cannot open " + path;
      return false;
    }
    v.resize((size_t)n);
    const size_t r = fread(v.data(), 4, (size_t)n, g);
    const bool extra = fgetc(g) != EOF;
    fclose(g);
    if (r != (size_t)n || extra) {
      *err = path + ": wrong size, want " + std::to_string(n) + " floats";
      return false;
    }
    return true;
  };
  const char *sfx[2] = {"f", "b"};
  for (int dir = 0; dir < p->ndir(); ++dir) {
    const std::string s = sfx[dir];
    if (!rd("u_" + s, p->u[dir], p->act()) || !rd("delta_" + s, p->delta[dir], p->act()) ||
        !rd("A_" + s, p->A[dir], D * N) || !rd("B_" + s, p->Bm[dir], p->bc()) ||
        !rd("C_" + s, p->Cm[dir], p->bc()) || !rd("D_" + s, p->Dv[dir], D) ||
        !rd("delta_bias_" + s, p->bias[dir], D))
      return false;
  }
  return rd("z", p->z, p->act()) && rd("expected", p->expected, p->act());
}

}  // namespace vctest
