// Host emulation of vc_scan_cuda_launch: runs the kernel bodies of
// scan_kernel.cuh on the CPU, one emulated thread at a time, in a shuffled
// order within each kernel (a GPU gives no order either), with the same
// Params, plan and workspace-in-y layout as the device launch.
#pragma once

#include <algorithm>
#include <random>
#include <vector>

#include "scan_kernel.cuh"

namespace vc {

template <class T, int kN>
void emulate_t(const Params<T> &p, const vc_scan_cuda_plan_t &plan, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t C = p.nchunks;
  // Threads of kernels 1 and 3: (b, c, d).
  std::vector<int64_t> order((size_t)(p.B * C * p.D));
  for (size_t i = 0; i < order.size(); ++i) order[i] = (int64_t)i;
  if (C > 1) {
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t i : order) state_body<T, kN, false>(p, i / (C * p.D), (i / p.D) % C, i % p.D);
    std::vector<int64_t> corder((size_t)(p.B * p.ndir * p.N * p.D));
    for (size_t i = 0; i < corder.size(); ++i) corder[i] = (int64_t)i;
    std::shuffle(corder.begin(), corder.end(), rng);
    for (int64_t i : corder) {
      const int64_t d = i % p.D;
      int64_t r = i / p.D;
      const int n = (int)(r % p.N);
      r /= p.N;
      combine_body<T>(p, r / p.ndir, (int)(r % p.ndir), n, d);
    }
  }
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<float> buf((size_t)(plan.chunk_max > 0 ? plan.chunk_max : 1));
  for (int64_t i : order) {
    // Fresh garbage in the scratch, as shared memory would hold.
    std::fill(buf.begin(), buf.end(), std::nanf(""));
    output_body<T, kN, false>(p, i / (C * p.D), (i / p.D) % C, i % p.D, buf.data(), 1);
  }
}

template <class T>
void emulate_type(const vc_scan_cuda_args *a, const vc_scan_cuda_plan_t &plan, uint64_t seed) {
  const Params<T> p = make_params<T>(a, &plan);
  if (p.N == 16)
    emulate_t<T, 16>(p, plan, seed);
  else
    emulate_t<T, 0>(p, plan, seed);
}

// emulate runs the scan described by a (HOST pointers) with the given plan.
// Returns NULL or the same error messages as the launcher.
inline const char *emulate(const vc_scan_cuda_args *a, const vc_scan_cuda_plan_t &plan,
                           uint64_t seed) {
  const char *err = check_args(a);
  if (err) return err;
  if (a->batch == 0 || a->seqlen == 0 || a->dim == 0) return NULL;
  switch (a->dtype) {
    case VC_CUDA_F32: emulate_type<float>(a, plan, seed); return NULL;
    case VC_CUDA_F16: emulate_type<f16>(a, plan, seed); return NULL;
    case VC_CUDA_BF16: emulate_type<bf16>(a, plan, seed); return NULL;
  }
  return "SelectiveScan CUDA: unsupported activation type";
}

}  // namespace vc
