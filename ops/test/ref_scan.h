/* Naive float64 reference of the ops in ops/README.md, for the C tests.
 * Same argument layout as vc_scan_args (token-major [B, L, D]); the result is
 * written to out (float64, [B, L, D]). Written straight from the formulas,
 * one (b, d) channel at a time, with libm exp/log1p. */
#ifndef VIMCONVERT_OPS_TEST_REF_SCAN_H
#define VIMCONVERT_OPS_TEST_REF_SCAN_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../cpu/scan_cpu.h"

static double ref_softplus(double x) { return x > 20.0 ? x : log1p(exp(x)); }

/* One direction of one channel: adds <h_t, C_t> + D*u_t to acc[t]. */
static void ref_direction(int64_t L, int64_t dim, int64_t N, int64_t b, int64_t d,
                          const float *u, const float *delta, const float *A, const float *Bm,
                          const float *Cm, const float *Dv, const float *bias, int reverse,
                          double *h, double *acc) {
  for (int64_t n = 0; n < N; n++) h[n] = 0.0;
  for (int64_t s = 0; s < L; s++) {
    int64_t t = reverse ? L - 1 - s : s;
    int64_t i = (b * L + t) * dim + d;
    double dt = ref_softplus((double)delta[i] + (double)bias[d]);
    double y = (double)Dv[d] * u[i];
    for (int64_t n = 0; n < N; n++) {
      double a = exp(dt * (double)A[d * N + n]);
      h[n] = a * h[n] + dt * (double)Bm[(b * L + t) * N + n] * (double)u[i];
      y += h[n] * (double)Cm[(b * L + t) * N + n];
    }
    acc[t] += y;
  }
}

static void ref_scan(const vc_scan_args *a, double *out) {
  int64_t L = a->seqlen, dim = a->dim, N = a->dstate;
  double *h = malloc(sizeof(double) * (N > 0 ? N : 1));
  double *acc = malloc(sizeof(double) * (L > 0 ? L : 1));
  for (int64_t b = 0; b < a->batch; b++) {
    for (int64_t d = 0; d < dim; d++) {
      for (int64_t t = 0; t < L; t++) acc[t] = 0.0;
      ref_direction(L, dim, N, b, d, a->u_f, a->delta_f, a->A_f, a->B_f, a->C_f, a->D_f,
                    a->delta_bias_f, 0, h, acc);
      if (a->u_b)
        ref_direction(L, dim, N, b, d, a->u_b, a->delta_b, a->A_b, a->B_b, a->C_b, a->D_b,
                      a->delta_bias_b, 1, h, acc);
      for (int64_t t = 0; t < L; t++) {
        int64_t i = (b * L + t) * dim + d;
        double z = a->z[i];
        out[i] = acc[t] * (z / (1.0 + exp(-z))) * (double)a->out_scale;
      }
    }
  }
  free(h);
  free(acc);
}

/* Deterministic pseudo-random inputs shaped like Vim's: uniform in [lo, hi). */
static uint64_t ref_rng_state = 0x9E3779B97F4A7C15ull;
static float ref_uniform(float lo, float hi) {
  ref_rng_state ^= ref_rng_state << 13;
  ref_rng_state ^= ref_rng_state >> 7;
  ref_rng_state ^= ref_rng_state << 17;
  return lo + (hi - lo) * (float)((ref_rng_state >> 40) * (1.0 / 16777216.0));
}

/* Buffers for one problem; ref_case_fill allocates and fills them. */
typedef struct ref_case {
  vc_scan_args args;
  float *buf[16];
} ref_case;

static float *ref_fill(ref_case *c, int slot, int64_t n, float lo, float hi) {
  float *p = malloc(sizeof(float) * (n > 0 ? n : 1));
  for (int64_t i = 0; i < n; i++) p[i] = ref_uniform(lo, hi);
  c->buf[slot] = p;
  return p;
}

/* Fills one direction's u, delta, A, B, C, D and delta_bias (in buffer slots
 * first .. first + 6, drawn in that order) for act = B*L*D activations and
 * bc = B*L*N B/C values. */
static void ref_fill_direction(ref_case *c, int first, int64_t act, int64_t bc, int64_t D,
                               int64_t N, const float **u, const float **delta, const float **A,
                               const float **Bm, const float **Cm, const float **Dv,
                               const float **delta_bias) {
  *u = ref_fill(c, first, act, -2, 2);
  *delta = ref_fill(c, first + 1, act, -4, 3);
  *A = ref_fill(c, first + 2, D * N, -12, -0.05f);
  *Bm = ref_fill(c, first + 3, bc, -1.5f, 1.5f);
  *Cm = ref_fill(c, first + 4, bc, -1.5f, 1.5f);
  *Dv = ref_fill(c, first + 5, D, -1, 1.5f);
  *delta_bias = ref_fill(c, first + 6, D, -6, -1);
}

static void ref_case_fill(ref_case *c, int64_t B, int64_t L, int64_t D, int64_t N, int bidir,
                          float out_scale) {
  memset(c, 0, sizeof *c);
  vc_scan_args *a = &c->args;
  a->batch = B, a->seqlen = L, a->dim = D, a->dstate = N;
  int64_t act = B * L * D, bc = B * L * N;
  /* delta + bias spans softplus's whole range incl. the x > 20 branch rarely. */
  ref_fill_direction(c, 0, act, bc, D, N, &a->u_f, &a->delta_f, &a->A_f, &a->B_f, &a->C_f,
                     &a->D_f, &a->delta_bias_f);
  if (bidir)
    ref_fill_direction(c, 7, act, bc, D, N, &a->u_b, &a->delta_b, &a->A_b, &a->B_b, &a->C_b,
                       &a->D_b, &a->delta_bias_b);
  a->z = ref_fill(c, 14, act, -4, 4);
  a->y = ref_fill(c, 15, act, 1e30f, 1e30f); /* poison: every element must be written */
  a->out_scale = out_scale;
}

static void ref_case_free(ref_case *c) {
  for (int i = 0; i < 16; i++) free(c->buf[i]);
}

#endif
