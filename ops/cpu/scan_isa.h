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

/* vc_conv_cpu_isa_range runs conv items [begin, end) (no clamping) with the
 * variant the scan uses; conv_kernel.inc is compiled beside each scan
 * variant in scan_cpu.c. */
struct vc_conv_args;
void vc_conv_cpu_isa_range(const struct vc_conv_args *a, int64_t begin, int64_t end);

#endif
