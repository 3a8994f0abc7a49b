/* Instruction-set selection for the CPU scan (internal to ops/; not part of
 * the scan_cpu.h interface). The kernel is compiled several times for
 * different vector widths; the best one the running CPU supports is chosen at
 * first use, or the one named by the environment variable VIMCONVERT_CPU_ISA
 * ("avx512", "avx2", "generic") when the CPU supports it. */
#ifndef VIMCONVERT_OPS_CPU_SCAN_ISA_H
#define VIMCONVERT_OPS_CPU_SCAN_ISA_H

#include "scan_cpu.h"

/* Number of channels in one work item (independent of the ISA). */
#define VC_SCAN_BLOCK 16

/* vc_scan_cpu_set_isa selects the kernel variant by name ("avx512", "avx2",
 * "generic") or, for NULL or "", the best supported one. It returns 0 on
 * success and -1 when the name is unknown or the CPU lacks the instructions;
 * the selection is then unchanged. Not thread-safe against running scans. */
int vc_scan_cpu_set_isa(const char *name);

/* vc_scan_cpu_isa names the variant vc_scan_cpu_range uses. */
const char *vc_scan_cpu_isa(void);

/* vc_work_items counts the work items of a [batch, seqlen, dim] problem
 * whose every batch row is cut into ceil(span / per_item) items (span is
 * seqlen or dim); 0 when batch, seqlen or dim is not positive. */
static inline int64_t vc_work_items(int64_t batch, int64_t seqlen, int64_t dim, int64_t span,
                                    int64_t per_item) {
  if (batch <= 0 || seqlen <= 0 || dim <= 0) return 0;
  return batch * ((span + per_item - 1) / per_item);
}

/* vc_clip_items clips the item range [*begin, *end) to [0, n) and returns
 * whether any item is left. */
static inline int vc_clip_items(int64_t n, int64_t *begin, int64_t *end) {
  if (*begin < 0) *begin = 0;
  if (*end > n) *end = n;
  return *begin < *end;
}

/* vc_conv_cpu_isa_range runs conv items [begin, end) (no clamping) with the
 * variant the scan uses; conv_kernel.inc is compiled beside each scan
 * variant in scan_cpu.c. */
struct vc_conv_args;
void vc_conv_cpu_isa_range(const struct vc_conv_args *a, int64_t begin, int64_t end);

#endif
