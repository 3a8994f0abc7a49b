/* Unit test of the CPU scan kernel (no ONNX Runtime): every compiled ISA
 * variant against the float64 reference in ref_scan.h, over shapes that hit
 * the channel tails (D not a multiple of the vector width), state tails
 * (N not a multiple of the state chunk), L = 1, B = 3, the softplus
 * threshold, and both directions. Also checks that splitting the work items
 * across ranges gives bit-identical output. Exit status 0 = pass. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../cpu/scan_isa.h"
#include "ref_scan.h"

/* Tolerance: |got - want| <= abs_tol + rel_tol * |want|. The float32 kernel keeps
 * states in float32 like the official code; measured error is ~1e-6
 * relative (see the printed max), so 2e-5 still catches any real mistake
 * (a wrong term changes outputs at the 1e-2 level). */
static const double abs_tol = 2e-5, rel_tol = 2e-5;

typedef struct shape {
  int64_t B, L, D, N;
  int bidir;
  float scale;
  float delta_shift; /* added to delta: 24 pushes dt past softplus's threshold */
  const char *reason;
  int odd_A; /* some A entries -inf (exp must give 0) and some positive (growth) */
} shape;

static int run_case(const shape *s, const char *isa) {
  ref_case c;
  ref_case_fill(&c, s->B, s->L, s->D, s->N, s->bidir, s->scale);
  int64_t act = s->B * s->L * s->D;
  if (s->delta_shift != 0) {
    for (int64_t i = 0; i < act; i++) {
      c.buf[1][i] += s->delta_shift;
      if (s->bidir) c.buf[8][i] += s->delta_shift;
    }
  }
  if (s->odd_A) {
    for (int dir = 0; dir < (s->bidir ? 2 : 1); dir++) {
      float *A = c.buf[dir ? 9 : 2];
      for (int64_t i = 0; i < s->D * s->N; i += 3) A[i] = (i % 2) ? -INFINITY : 0.3f;
    }
  }
  double *want = malloc(sizeof(double) * (act > 0 ? act : 1));
  ref_scan(&c.args, want);
  vc_scan_cpu(&c.args);
  double maxerr = 0, maxrel = 0;
  int bad = 0;
  for (int64_t i = 0; i < act; i++) {
    double g = c.args.y[i], w = want[i], e = fabs(g - w);
    if (!(e <= abs_tol + rel_tol * fabs(w))) {
      if (bad < 3)
        fprintf(stderr, "  [%s] %s: y[%lld] = %.9g, want %.9g\n", isa, s->reason, (long long)i,
                g, w);
      bad++;
    }
    if (e > maxerr) maxerr = e;
    if (e / (fabs(w) + 1e-7) > maxrel && fabs(w) > 1e-3) maxrel = e / (fabs(w) + 1e-7);
  }
  /* Split into ranges of 1 item + rest: must match the single call exactly. */
  int64_t items = vc_scan_cpu_num_items(&c.args);
  float *first = malloc(sizeof(float) * (act > 0 ? act : 1));
  memcpy(first, c.args.y, sizeof(float) * act);
  for (int64_t i = 0; i < act; i++) c.buf[15][i] = 1e30f;
  for (int64_t i = items; i > 0; i -= 2) vc_scan_cpu_range(&c.args, i > 1 ? i - 2 : 0, i);
  if (act > 0 && memcmp(first, c.args.y, sizeof(float) * act) != 0) {
    fprintf(stderr, "  [%s] %s: ranged run differs from single run\n", isa, s->reason);
    bad++;
  }
  printf("%-8s B=%lld L=%lld D=%lld N=%lld %s max|d|=%.2e maxrel=%.2e %s (%s)\n", isa,
         (long long)s->B, (long long)s->L, (long long)s->D, (long long)s->N,
         s->bidir ? "bi " : "uni", maxerr, maxrel, bad ? "FAIL" : "ok", s->reason);
  free(first);
  free(want);
  ref_case_free(&c);
  return bad != 0;
}

int main(void) {
  static const shape shapes[] = {
      {1, 197, 384, 16, 1, 0.5f, 0, "Vim-T size, divide_out", 0},
      {3, 7, 384, 16, 1, 1.0f, 0, "batch 3, no divide_out", 0},
      {1, 1, 8, 16, 1, 0.5f, 0, "L = 1, channel tail of a single block", 0},
      {2, 5, 20, 16, 1, 0.5f, 0, "D = 20: full block + 4-channel tail", 0},
      {1, 9, 37, 5, 1, 0.5f, 0, "N = 5: partial state chunk", 0},
      {1, 9, 24, 21, 0, 1.0f, 0, "N = 21: full + partial chunk, unidirectional", 0},
      {2, 33, 16, 16, 0, 1.0f, 0, "unidirectional", 0},
      {1, 13, 17, 16, 1, 0.5f, 24.0f, "delta past the softplus threshold", 0},
      {1, 40, 20, 16, 1, 0.5f, 0, "A = -inf (decay 0) and A > 0 (growth) entries", 1},
      {1, 1030, 70, 16, 1, 0.5f, 0, "long sequence, D = 70: 4 blocks + 6-channel tail", 0},
      {2, 1024, 20, 5, 0, 1.0f, 0, "L = 1024, N = 5, unidirectional, narrow D", 0},
      {0, 5, 16, 16, 1, 0.5f, 0, "empty batch", 0},
      {1, 4, 16, 0, 1, 0.5f, 0, "N = 0: skip term only", 0},
  };
  static const char *isas[] = {"avx512", "avx2", "generic"};
  int fails = 0, ran = 0;
  for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) {
    if (vc_scan_cpu_set_isa(isas[k]) != 0) {
      printf("%-8s not supported by this CPU: not tested\n", isas[k]);
      continue;
    }
    ran++;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
      fails += run_case(&shapes[i], isas[k]);
  }
  if (ran == 0 || fails) {
    fprintf(stderr, "scan_test: %d failing case(s)\n", fails);
    return 1;
  }
  printf("scan_test: all cases pass\n");
  return 0;
}
