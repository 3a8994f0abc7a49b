// Per-thread bodies of the CUDA selective scan, written once for two compilers:
// nvcc (device code, wrapped in kernels by scan_cuda.cu) and a plain C++
// compiler (host emulation by emu_test.cc, which runs the SAME bodies on the CPU
// so the chunk decomposition is tested in CI without a GPU).
//
// Algorithm (NOTES.md has the cost model). One thread owns one channel d of one
// batch element b and one chunk c of the sequence, for BOTH directions, with the
// N <= 16 states in registers. Three kernels:
//   1. state:   each chunk scans its rows from a zero state and stores its end
//               state S (N floats) and sum(dt) for each direction. Over a chunk
//               the recurrence is affine in the start state:
//                 h_end = P (.) h_start + S,  P[n] = prod exp(dt_t A[n]) = exp(A[n] sum dt).
//   2. combine: one thread per (b, dir, n, d) walks the chunks in scan order and
//               turns every S into the chunk's true start state h0 (in place).
//   3. output:  each chunk re-scans its rows from h0 and writes y. The forward
//               partial yf of the chunk is kept in shared memory (fp32) until
//               the backward walk of the same rows adds yb and the gate.
// With one chunk (short sequences, or enough batch x channels to fill the GPU)
// only kernel 3 runs. The per-chunk states live in the output tensor y itself:
// thread (b, c, d) parks its 2(N+1) floats in its own column y[b, t0:t1, d],
// which only it overwrites later, in kernel 3, after reading them. So the op
// needs no workspace; chunks are at least need_rows() long for this.
#pragma once

#include <stdint.h>
#include <string.h>
#include <math.h>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#define VC_HD __host__ __device__ __forceinline__
#define VC_UNROLL _Pragma("unroll")
#else
#define VC_HD inline
#define VC_UNROLL
#endif

#include "scan_cuda.h"

namespace vc {

// Raw 16-bit storage types; conversions below (hardware on the device, exact
// bit manipulation on the host, round-to-nearest-even both ways).
struct f16 { uint16_t bits; };
struct bf16 { uint16_t bits; };

VC_HD uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
#endif
}

VC_HD float bits_f32(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, 4);
  return f;
#endif
}

inline float host_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {  // zero or subnormal: m * 2^-24, exact in float32
    const float v = ldexpf((float)m, -24);
    return bits_f32(f32_bits(v) | sign);
  }
  if (e == 31) return bits_f32(sign | 0x7f800000u | (m << 13));  // inf / NaN
  return bits_f32(sign | ((e + 112u) << 23) | (m << 13));
}

inline uint16_t host_f32_to_f16(float f) {
  const uint32_t x = f32_bits(f);
  const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);  // NaN
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); // rounds to inf
  if (ax < 0x38800000u) {                                   // half subnormal range
    // |f| * 2^24 is exact; rint rounds half to even (default mode).
    const float s = bits_f32(ax) * 16777216.0f;
    return (uint16_t)(sign | (uint16_t)rintf(s));
  }
  uint32_t h = (((ax >> 23) - 112u) << 10) | ((ax & 0x7fffffu) >> 13);
  const uint32_t rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
  return (uint16_t)(sign | h);
}

VC_HD uint16_t host_f32_to_bf16(float f) {
  const uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);  // quiet NaN
  return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

// Elem<T>: load a T as float, store a float as T.
template <class T> struct Elem;

template <> struct Elem<float> {
  static VC_HD float load(const float *p) {
#if defined(__CUDA_ARCH__)
    return __ldg(p);
#else
    return *p;
#endif
  }
  static VC_HD void store(float *p, float v) { *p = v; }
};

template <> struct Elem<f16> {
  static VC_HD float cvt(uint16_t b) {
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(b));
#else
    return host_f16_to_f32(b);
#endif
  }
  static VC_HD float load(const f16 *p) {
#if defined(__CUDA_ARCH__)
    return cvt(__ldg(&p->bits));
#else
    return cvt(p->bits);
#endif
  }
  static VC_HD void store(f16 *p, float v) {
#if defined(__CUDA_ARCH__)
    p->bits = __half_as_ushort(__float2half_rn(v));
#else
    p->bits = host_f32_to_f16(v);
#endif
  }
};

template <> struct Elem<bf16> {
  static VC_HD float cvt(uint16_t b) { return bits_f32((uint32_t)b << 16); }
  static VC_HD float load(const bf16 *p) {
#if defined(__CUDA_ARCH__)
    return cvt(__ldg(&p->bits));
#else
    return cvt(p->bits);
#endif
  }
  static VC_HD void store(bf16 *p, float v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    p->bits = __bfloat16_as_ushort(__float2bfloat16_rn(v));
#else  // the same rounding by bit manipulation (older GPUs, host emulation)
    p->bits = host_f32_to_bf16(v);
#endif
  }
};

// Device view of one scan. dir 0 = forward, 1 = backward.
template <class T> struct Params {
  int64_t B, L, D;
  int N;                   // dstate (runtime; kN below is the compile-time one)
  int ndir;                // 2 = bidirectional, 1 = forward only
  int64_t nchunks;         // chunk c = rows [c*cbase + min(c, crem), +cbase + (c < crem))
  int64_t cbase, crem;
  const T *u[2], *delta[2], *Bm[2], *Cm[2];
  const float *A[2], *Dv[2], *bias[2];
  const T *z;
  T *y;
  float out_scale;
};

// Floats each thread parks in its y column between the kernels, and the rows
// of type T they occupy: chunks must be at least that long when nchunks > 1.
inline int64_t slots(int N, int ndir) { return (int64_t)ndir * (N + 1); }
inline int64_t need_rows(int N, int ndir, size_t elem_bytes) {
  return slots(N, ndir) * (int64_t)(4 / elem_bytes);
}

template <class T>
VC_HD void chunk_range(const Params<T> &p, int64_t c, int64_t *t0, int64_t *t1) {
  *t0 = c * p.cbase + (c < p.crem ? c : p.crem);
  *t1 = *t0 + p.cbase + (c < p.crem ? 1 : 0);
}

// Workspace slot k of thread (b, chunk starting at t0, d): float k is stored in
// y rows t0 + k (float32) or t0 + 2k, t0 + 2k + 1 (low, high 16 bits).
template <class T>
VC_HD void ws_store(const Params<T> &p, int64_t b, int64_t t0, int64_t d, int k, float v) {
  if (sizeof(T) == 4) {
    float *y = (float *)p.y;
    y[(b * p.L + t0 + k) * p.D + d] = v;
  } else {
    uint16_t *y = (uint16_t *)p.y;
    const uint32_t u = f32_bits(v);
    y[(b * p.L + t0 + 2 * k) * p.D + d] = (uint16_t)(u & 0xffffu);
    y[(b * p.L + t0 + 2 * k + 1) * p.D + d] = (uint16_t)(u >> 16);
  }
}

template <class T>
VC_HD float ws_load(const Params<T> &p, int64_t b, int64_t t0, int64_t d, int k) {
  // Plain loads, not __ldg: kernel 1/2 wrote these (read-only cache not coherent
  // within a kernel; across kernels either is fine, keep it simple).
  if (sizeof(T) == 4) {
    const float *y = (const float *)p.y;
    return y[(b * p.L + t0 + k) * p.D + d];
  }
  const uint16_t *y = (const uint16_t *)p.y;
  const uint32_t lo = y[(b * p.L + t0 + 2 * k) * p.D + d];
  const uint32_t hi = y[(b * p.L + t0 + 2 * k + 1) * p.D + d];
  return bits_f32(lo | (hi << 16));
}

// 2^x. On the device the bare MUFU.EX2 instruction (max error 2 ulp, results
// below 2^-126 flushed to zero, which only ever multiply a state): exp2f adds
// three instructions per call to handle those denormal results.
VC_HD float vc_exp2(float x) {
#if defined(__CUDA_ARCH__)
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
  return r;
#else
  return exp2f(x);
#endif
}

// torch softplus with threshold 20.
VC_HD float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

VC_HD float silu(float x) { return x / (1.0f + expf(-x)); }

// Loads row[0..N) (N = kN when kN > 0, else n_rt) as floats. kVec: the row is
// 16-byte aligned and kN * sizeof(T) is a multiple of 16 (checked by the
// launcher), so the device uses 16-byte loads; they are uniform across the warp
// (every channel reads the same B/C row) and hit L1 after the first warp.
template <class T, int kN, bool kVec>
VC_HD void load_row(const T *row, int n_rt, float *out) {
  constexpr int kMax = kN > 0 ? kN : VC_CUDA_MAX_DSTATE;
#if defined(__CUDA_ARCH__)
  if constexpr (kVec && kN > 0) {
    constexpr int kPer = 16 / (int)sizeof(T);  // elements per 16-byte load
VC_UNROLL
    for (int v = 0; v < kMax / kPer; ++v) {
      const uint4 q = __ldg((const uint4 *)row + v);
      const uint32_t w[4] = {q.x, q.y, q.z, q.w};
VC_UNROLL
      for (int j = 0; j < 4; ++j) {
        if constexpr (sizeof(T) == 4) {
          out[v * kPer + j] = __uint_as_float(w[j]);
        } else {
          out[v * kPer + 2 * j] = Elem<T>::cvt((uint16_t)(w[j] & 0xffffu));
          out[v * kPer + 2 * j + 1] = Elem<T>::cvt((uint16_t)(w[j] >> 16));
        }
      }
    }
  } else
#endif
  {
VC_UNROLL
    for (int n = 0; n < kMax; ++n) out[n] = (kN > 0 || n < n_rt) ? Elem<T>::load(row + n) : 0.0f;
  }
}

constexpr float kLog2e = 1.4426950408889634f;

// Kernel 1 body: end state S and sum(dt) of chunk c from a zero start state,
// for each direction whose end state a later chunk needs.
template <class T, int kN, bool kVec>
VC_HD void state_body(const Params<T> &p, int64_t b, int64_t c, int64_t d) {
  constexpr int kMax = kN > 0 ? kN : VC_CUDA_MAX_DSTATE;
  const int N = kN > 0 ? kN : p.N;
  int64_t t0, t1;
  chunk_range(p, c, &t0, &t1);
  for (int dir = 0; dir < p.ndir; ++dir) {
    if (dir == 0 ? c == p.nchunks - 1 : c == 0) continue;  // never used
    float A2[kMax], h[kMax];
VC_UNROLL
    for (int n = 0; n < kMax; ++n) {
      A2[n] = (kN > 0 || n < N) ? p.A[dir][d * N + n] * kLog2e : 0.0f;
      h[n] = 0.0f;
    }
    const float bias = p.bias[dir][d];
    const T *u = p.u[dir], *delta = p.delta[dir], *Bm = p.Bm[dir];
    float sdt = 0.0f;
    // Walk the rows in scan order with pointers (row stride D, or N for B);
    // the next row's delta and u are loaded before this row's math.
    const int64_t len = t1 - t0, first = b * p.L + (dir == 0 ? t0 : t1 - 1);
    const int64_t step = dir == 0 ? p.D : -p.D, bstep = dir == 0 ? N : -N;
    const T *dp = delta + first * p.D + d, *up = u + first * p.D + d, *bp = Bm + first * N;
    float dnext = Elem<T>::load(dp), unext = Elem<T>::load(up);
    for (int64_t k = 0; k < len; ++k) {
      const float dcur = dnext, ucur = unext;
      if (k + 1 < len) {
        dp += step, up += step;
        dnext = Elem<T>::load(dp), unext = Elem<T>::load(up);
      }
      const float dt = softplus(dcur + bias);
      const float x = dt * ucur;
      float Bv[kMax];
      load_row<T, kN, kVec>(bp, N, Bv);
      if (k + 1 < len) bp += bstep;  // never past the array
      sdt += dt;
VC_UNROLL
      for (int n = 0; n < kMax; ++n) h[n] = vc_exp2(dt * A2[n]) * h[n] + x * Bv[n];
    }
VC_UNROLL
    for (int n = 0; n < kMax; ++n)
      if (kN > 0 || n < N) ws_store(p, b, t0, d, dir * (N + 1) + n, h[n]);
    ws_store(p, b, t0, d, dir * (N + 1) + N, sdt);
  }
}

// Kernel 2 body: thread (b, dir, n, d) walks the chunks in scan order and
// replaces each chunk's S[n] by its start state h0[n] (the first chunk in scan
// order keeps its slot unwritten: its start state is zero).
template <class T>
VC_HD void combine_body(const Params<T> &p, int64_t b, int dir, int n, int64_t d) {
  const int N = p.N;
  const float A2 = p.A[dir][d * N + n] * kLog2e;
  const int sslot = dir * (N + 1) + n, tslot = dir * (N + 1) + N;
  const int64_t C = p.nchunks;
  float h = 0.0f;
  for (int64_t i = 0; i < C; ++i) {
    const int64_t c = dir == 0 ? i : C - 1 - i;
    int64_t t0, t1;
    chunk_range(p, c, &t0, &t1);
    float S = 0.0f, sdt = 0.0f;
    if (i < C - 1) {  // read before the slot is overwritten with h0
      S = ws_load(p, b, t0, d, sslot);
      sdt = ws_load(p, b, t0, d, tslot);
    }
    if (i > 0) ws_store(p, b, t0, d, sslot, h);
    if (i < C - 1) h = vc_exp2(A2 * sdt) * h + S;
  }
}

// Kernel 3 body: chunk c of channel d, both directions, writes y[b, t0:t1, d].
// buf: this thread's fp32 scratch for the forward partial, element k at
// buf[k * bstride] (shared memory on the device).
template <class T, int kN, bool kVec>
VC_HD void output_body(const Params<T> &p, int64_t b, int64_t c, int64_t d, float *buf,
                       int64_t bstride) {
  constexpr int kMax = kN > 0 ? kN : VC_CUDA_MAX_DSTATE;
  const int N = kN > 0 ? kN : p.N;
  int64_t t0, t1;
  chunk_range(p, c, &t0, &t1);
  const int64_t len = t1 - t0;
  const bool bidir = p.ndir == 2;
  for (int dir = 0; dir < p.ndir; ++dir) {
    float A2[kMax], h[kMax];
    const bool has_h0 = dir == 0 ? c > 0 : c < p.nchunks - 1;
VC_UNROLL
    for (int n = 0; n < kMax; ++n) {
      const bool live = kN > 0 || n < N;
      A2[n] = live ? p.A[dir][d * N + n] * kLog2e : 0.0f;
      // Read before this thread overwrites its column (forward-only mode writes
      // y in the forward walk; bidirectional mode only in the backward walk).
      h[n] = (live && has_h0) ? ws_load(p, b, t0, d, dir * (N + 1) + n) : 0.0f;
    }
    const float bias = p.bias[dir][d], Dskip = p.Dv[dir][d];
    const T *u = p.u[dir], *delta = p.delta[dir], *Bm = p.Bm[dir], *Cm = p.Cm[dir];
    // Rows in scan order through pointers, as in state_body; kk is the row
    // within the chunk (index of the forward partial in buf).
    const int64_t first = b * p.L + t0 + (dir == 0 ? 0 : len - 1);
    const int64_t step = dir == 0 ? p.D : -p.D, bstep = dir == 0 ? N : -N;
    const T *dp = delta + first * p.D + d, *up = u + first * p.D + d;
    const T *bp = Bm + first * N, *cp = Cm + first * N, *zp = p.z + first * p.D + d;
    T *yp = p.y + first * p.D + d;
    float dnext = Elem<T>::load(dp), unext = Elem<T>::load(up);
    for (int64_t k = 0; k < len; ++k) {
      const int64_t kk = dir == 0 ? k : len - 1 - k;
      const float dcur = dnext, uu = unext;
      if (k + 1 < len) {
        dp += step, up += step;
        dnext = Elem<T>::load(dp), unext = Elem<T>::load(up);
      }
      const float dt = softplus(dcur + bias);
      const float x = dt * uu;
      float Bv[kMax], Cv[kMax];
      load_row<T, kN, kVec>(bp, N, Bv);
      load_row<T, kN, kVec>(cp, N, Cv);
      float acc = 0.0f;
VC_UNROLL
      for (int n = 0; n < kMax; ++n) {
        h[n] = vc_exp2(dt * A2[n]) * h[n] + x * Bv[n];
        acc += h[n] * Cv[n];
      }
      const float yv = acc + Dskip * uu;
      if (bidir && dir == 0) {
        buf[kk * bstride] = yv;
      } else {
        const float yall = bidir ? buf[kk * bstride] + yv : yv;
        Elem<T>::store(yp, yall * silu(Elem<T>::load(zp)) * p.out_scale);
      }
      if (k + 1 < len) bp += bstep, cp += bstep, zp += step, yp += step;  // never past the array
    }
  }
}

// ---- Host-side helpers shared by the launcher (scan_cuda.cu) and the host
// emulation (emulate.h). ----

inline size_t elem_bytes(int32_t t) { return t == VC_CUDA_F32 ? 4 : 2; }

inline const char *check_args(const vc_scan_cuda_args *a) {
  if (a->batch < 0 || a->seqlen < 0 || a->dim < 0) return "SelectiveScan CUDA: negative dimension";
  if (a->dstate < 1 || a->dstate > VC_CUDA_MAX_DSTATE)
    return "SelectiveScan CUDA: dstate (last dim of A) must be between 1 and 16";
  if (a->dtype != VC_CUDA_F32 && a->dtype != VC_CUDA_F16 && a->dtype != VC_CUDA_BF16)
    return "SelectiveScan CUDA: unsupported activation type";
  // Index arithmetic is int64 and the grid one-dimensional (< 2^31 blocks):
  // refuse sizes no GPU memory holds rather than risk overflow.
  const int64_t lim = (int64_t)1 << 40;
  if (a->batch > lim || a->seqlen > lim || a->dim > lim ||
      (a->batch > 0 && a->seqlen > 0 && a->dim > 0 &&
       a->batch * a->seqlen > lim / a->dim))
    return "SelectiveScan CUDA: tensor too large (more than 2^40 elements)";
  return NULL;
}

// The chunking (see vc_scan_cuda_plan in scan_cuda.h).
inline const char *plan_chunks(const vc_scan_cuda_args *a, int num_sms, int64_t want_chunks,
                               vc_scan_cuda_plan_t *plan) {
  const char *err = check_args(a);
  if (err) return err;
  const int ndir = a->u_b ? 2 : 1;
  const size_t eb = elem_bytes(a->dtype);
  const int64_t L = a->seqlen;
  const int64_t need = need_rows((int)a->dstate, ndir, eb);
  // 128 threads per block for float32, 64 for 16-bit types, so that the
  // forward partials of the longest allowed chunk (2 * need rows) take the same
  // shared memory (34.8 KB at N = 16) whatever the type.
  plan->threads = eb == 4 ? 128 : 64;
  // Chunk length bounds: >= need (room for the parked states) when there is
  // more than one chunk; <= cap (shared memory) in the bidirectional case.
  const int64_t cap = ndir == 2 ? 2 * need : (L > 1 ? L : 1);
  const int64_t cmin = L > 0 ? (L + cap - 1) / cap : 1;
  const int64_t cmax = L >= need ? L / need : 1;
  if (cmin > cmax) return "SelectiveScan CUDA: internal error: no valid chunking";
  int64_t want = want_chunks;
  if (want <= 0) {
    // Enough threads for ~1024 resident per multiprocessor; each thread costs
    // registers for its N states, so more than that only adds chunk overhead.
    const int64_t per_chunk = a->batch * a->dim;
    const int64_t target = (int64_t)(num_sms > 0 ? num_sms : 1) * 1024;
    want = per_chunk > 0 ? (target + per_chunk - 1) / per_chunk : 1;
  }
  if (want < cmin) want = cmin;
  if (want > cmax) want = cmax;
  plan->nchunks = want;
  plan->chunk_min = L / want;
  plan->chunk_max = (L + want - 1) / want;
  plan->smem_bytes = ndir == 2 ? (size_t)plan->chunk_max * plan->threads * sizeof(float) : 0;
  const int64_t ntiles = (a->dim + plan->threads - 1) / plan->threads;
  if (a->batch * want * ntiles > INT32_MAX ||
      a->batch * ndir * a->dstate * a->dim / 256 + 1 > INT32_MAX)
    return "SelectiveScan CUDA: too many blocks for one launch";
  if (plan->smem_bytes > 48 * 1024) return "SelectiveScan CUDA: internal error: shared memory";
  return NULL;
}

template <class T>
inline Params<T> make_params(const vc_scan_cuda_args *a, const vc_scan_cuda_plan_t *plan) {
  Params<T> p;
  p.B = a->batch;
  p.L = a->seqlen;
  p.D = a->dim;
  p.N = (int)a->dstate;
  p.ndir = a->u_b ? 2 : 1;
  p.nchunks = plan->nchunks;
  p.cbase = a->seqlen / plan->nchunks;
  p.crem = a->seqlen % plan->nchunks;
  p.u[0] = (const T *)a->u_f;
  p.delta[0] = (const T *)a->delta_f;
  p.Bm[0] = (const T *)a->B_f;
  p.Cm[0] = (const T *)a->C_f;
  p.A[0] = a->A_f;
  p.Dv[0] = a->D_f;
  p.bias[0] = a->delta_bias_f;
  const bool bi = a->u_b != NULL;
  p.u[1] = bi ? (const T *)a->u_b : p.u[0];
  p.delta[1] = bi ? (const T *)a->delta_b : p.delta[0];
  p.Bm[1] = bi ? (const T *)a->B_b : p.Bm[0];
  p.Cm[1] = bi ? (const T *)a->C_b : p.Cm[0];
  p.A[1] = bi ? a->A_b : p.A[0];
  p.Dv[1] = bi ? a->D_b : p.Dv[0];
  p.bias[1] = bi ? a->delta_bias_b : p.bias[0];
  p.z = (const T *)a->z;
  p.y = (T *)a->y;
  p.out_scale = a->out_scale;
  return p;
}

}  // namespace vc
