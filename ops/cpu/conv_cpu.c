/* CPU depthwise conv1d + SiLU, both directions in one pass (conv_cpu.h).
 *
 * The kernel itself (conv_kernel.inc) is compiled in scan_cpu.c beside each
 * vector-width variant of the scan, whose vector helpers and SiLU it uses,
 * and runs in the variant the scan uses (vc_scan_cpu_isa: the CPU's best or
 * VIMCONVERT_CPU_ISA). This file holds the work split and the tap layout. */
#include "conv_cpu.h"
#include "scan_isa.h"

void vc_conv_taps(const float *w, int64_t dim, int64_t kernel, int reverse, float *out) {
  for (int64_t d = 0; d < dim; d++)
    for (int64_t k = 0; k < kernel; k++)
      out[k * dim + d] = w[d * kernel + (reverse ? kernel - 1 - k : k)];
}

int64_t vc_conv_cpu_num_items(const vc_conv_args *a) {
  return vc_work_items(a->batch, a->seqlen, a->dim, a->seqlen, VC_CONV_TOKENS);
}

void vc_conv_cpu_range(const vc_conv_args *a, int64_t begin, int64_t end) {
  if (vc_clip_items(vc_conv_cpu_num_items(a), &begin, &end)) vc_conv_cpu_isa_range(a, begin, end);
}

void vc_conv_cpu(const vc_conv_args *a) { vc_conv_cpu_range(a, 0, vc_conv_cpu_num_items(a)); }
