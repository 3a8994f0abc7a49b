/* Micro-benchmark of the CPU scan kernel (no ONNX Runtime).
 *   bench_scan [B L D N [threads [isa]]]   default: Vim-T size 1 197 384 16
 * Runs the bidirectional scan and prints the best time over many runs and the
 * rate in G state updates/s (one update = one (t, d, n) element of one
 * direction: the exp, the state update and the C product). Threads split the
 * work items like the plugin does; the rate is per run, not per core. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cpu/scan_isa.h"
#include "ref_scan.h"

typedef struct job {
  const vc_scan_args *a;
  int64_t begin, end;
} job;

static void *worker(void *p) {
  job *j = p;
  vc_scan_cpu_range(j->a, j->begin, j->end);
  return NULL;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void run(const vc_scan_args *a, int threads) {
  int64_t items = vc_scan_cpu_num_items(a);
  if (threads <= 1) {
    vc_scan_cpu(a);
    return;
  }
  pthread_t th[64];
  job jobs[64];
  for (int i = 0; i < threads; i++) {
    jobs[i] = (job){a, items * i / threads, items * (i + 1) / threads};
    if (i > 0) pthread_create(&th[i], NULL, worker, &jobs[i]);
  }
  worker(&jobs[0]);
  for (int i = 1; i < threads; i++) pthread_join(th[i], NULL);
}

int main(int argc, char **argv) {
  int64_t B = 1, L = 197, D = 384, N = 16;
  int threads = 1;
  if (argc >= 5) B = atoll(argv[1]), L = atoll(argv[2]), D = atoll(argv[3]), N = atoll(argv[4]);
  if (argc >= 6) threads = atoi(argv[5]);
  if (threads < 1 || threads > 64) threads = 1;
  if (argc >= 7 && vc_scan_cpu_set_isa(argv[6]) != 0) {
    fprintf(stderr, "bench_scan: ISA %s not available\n", argv[6]);
    return 2;
  }
  ref_case c;
  ref_case_fill(&c, B, L, D, N, 1, 0.5f);
  double updates = 2.0 * B * L * D * N;
  run(&c.args, threads); /* warm up */
  double best = 1e9, total = 0;
  int reps = 0;
  double start = now();
  while (reps < 20 || now() - start < 1.0) {
    double t0 = now();
    run(&c.args, threads);
    double dt = now() - t0;
    total += dt;
    if (dt < best) best = dt;
    reps++;
  }
  printf("isa=%s B=%lld L=%lld D=%lld N=%lld bidirectional threads=%d: best %.3f ms, mean %.3f ms "
         "(%d runs), %.2f G updates/s\n",
         vc_scan_cpu_isa(), (long long)B, (long long)L, (long long)D, (long long)N, threads,
         best * 1e3, total / reps * 1e3, reps, updates / best * 1e-9);
  ref_case_free(&c);
  return 0;
}
