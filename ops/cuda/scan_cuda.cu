// Kernels and launcher of the CUDA selective scan. The per-thread work is in
// scan_kernel.cuh (shared with the host emulation); this file maps threads to
// (batch, chunk, channel), picks the chunking and checks every CUDA call.
#include <cuda_runtime.h>
#include <stdio.h>

#include "scan_cuda.h"
#include "scan_kernel.cuh"

namespace vc {
namespace {

constexpr int kCombineThreads = 256;

// Kernels 1 and 3: one block = `blockDim.x` consecutive channels of one
// (batch, chunk); blockIdx.x = (b * nchunks + c) * ntiles + tile.
template <class T, int kN, bool kVec>
__global__ void __launch_bounds__(128) state_kernel(Params<T> p, int64_t ntiles) {
  const int64_t blk = blockIdx.x;
  const int64_t tile = blk % ntiles, bc = blk / ntiles;
  const int64_t c = bc % p.nchunks, b = bc / p.nchunks;
  const int64_t d = tile * blockDim.x + threadIdx.x;
  if (d >= p.D) return;
  state_body<T, kN, kVec>(p, b, c, d);
}

// Kernel 2: thread i = ((b * ndir + dir) * N + n) * D + d (coalesced over d).
template <class T>
__global__ void __launch_bounds__(kCombineThreads) combine_kernel(Params<T> p) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t total = p.B * p.ndir * p.N * p.D;
  if (i >= total) return;
  const int64_t d = i % p.D;
  int64_t r = i / p.D;
  const int n = (int)(r % p.N);
  r /= p.N;
  const int dir = (int)(r % p.ndir);
  const int64_t b = r / p.ndir;
  combine_body<T>(p, b, dir, n, d);
}

template <class T, int kN, bool kVec>
__global__ void __launch_bounds__(128) output_kernel(Params<T> p, int64_t ntiles) {
  extern __shared__ float smem[];  // [chunk_max][blockDim.x] forward partials
  const int64_t blk = blockIdx.x;
  const int64_t tile = blk % ntiles, bc = blk / ntiles;
  const int64_t c = bc % p.nchunks, b = bc / p.nchunks;
  const int64_t d = tile * blockDim.x + threadIdx.x;
  if (d >= p.D) return;  // no barrier below: each thread uses only its own column
  output_body<T, kN, kVec>(p, b, c, d, smem + threadIdx.x, blockDim.x);
}

thread_local char g_err[256];

const char *cuda_fail(const char *what, cudaError_t e) {
  snprintf(g_err, sizeof g_err, "SelectiveScan CUDA: %s failed: %s (%s)", what,
           cudaGetErrorName(e), cudaGetErrorString(e));
  return g_err;
}

bool aligned16(const void *q) { return ((uintptr_t)q & 15u) == 0; }

template <class T, int kN, bool kVec>
const char *launch_t(const Params<T> &p, const vc_scan_cuda_plan_t *plan, cudaStream_t s) {
  const int64_t ntiles = (p.D + plan->threads - 1) / plan->threads;
  const int64_t blocks = p.B * p.nchunks * ntiles;
  cudaError_t e;
  if (p.nchunks > 1) {
    state_kernel<T, kN, kVec><<<(unsigned)blocks, plan->threads, 0, s>>>(p, ntiles);
    if ((e = cudaGetLastError()) != cudaSuccess) return cuda_fail("state kernel launch", e);
    const int64_t total = p.B * p.ndir * p.N * p.D;
    const int64_t cblocks = (total + kCombineThreads - 1) / kCombineThreads;
    combine_kernel<T><<<(unsigned)cblocks, kCombineThreads, 0, s>>>(p);
    if ((e = cudaGetLastError()) != cudaSuccess) return cuda_fail("combine kernel launch", e);
  }
  output_kernel<T, kN, kVec><<<(unsigned)blocks, plan->threads, plan->smem_bytes, s>>>(p, ntiles);
  if ((e = cudaGetLastError()) != cudaSuccess) return cuda_fail("output kernel launch", e);
  return NULL;
}

template <class T>
const char *launch_type(const vc_scan_cuda_args *a, const vc_scan_cuda_plan_t *plan,
                        cudaStream_t s) {
  const Params<T> p = make_params<T>(a, plan);
  if (p.N == 16) {
    const bool vec = aligned16(a->B_f) && aligned16(a->C_f) &&
                     (a->u_b == NULL || (aligned16(a->B_b) && aligned16(a->C_b)));
    return vec ? launch_t<T, 16, true>(p, plan, s) : launch_t<T, 16, false>(p, plan, s);
  }
  return launch_t<T, 0, false>(p, plan, s);
}

}  // namespace
}  // namespace vc

extern "C" const char *vc_scan_cuda_check(const vc_scan_cuda_args *a) {
  return vc::check_args(a);
}

extern "C" int vc_scan_cuda_num_sms(void) {
  int dev = 0, n = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return -1;
  if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) return -1;
  return n;
}

extern "C" const char *vc_scan_cuda_plan(const vc_scan_cuda_args *a, int num_sms,
                                         int64_t want_chunks, vc_scan_cuda_plan_t *plan) {
  return vc::plan_chunks(a, num_sms, want_chunks, plan);
}

extern "C" const char *vc_scan_cuda_launch(const vc_scan_cuda_args *a,
                                           const vc_scan_cuda_plan_t *plan_in, void *stream) {
  const char *err = vc_scan_cuda_check(a);
  if (err) return err;
  if (a->batch == 0 || a->seqlen == 0 || a->dim == 0) return NULL;  // empty output
  vc_scan_cuda_plan_t plan;
  if (plan_in) {
    plan = *plan_in;
  } else {
    int dev = 0, sms = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return vc::cuda_fail("cudaGetDevice", e);
    e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    if (e != cudaSuccess) return vc::cuda_fail("reading the multiprocessor count", e);
    if ((err = vc_scan_cuda_plan(a, sms, 0, &plan)) != NULL) return err;
  }
  cudaStream_t s = (cudaStream_t)stream;
  switch (a->dtype) {
    case VC_CUDA_F32: return vc::launch_type<float>(a, &plan, s);
    case VC_CUDA_F16: return vc::launch_type<vc::f16>(a, &plan, s);
    case VC_CUDA_BF16: return vc::launch_type<vc::bf16>(a, &plan, s);
  }
  return "SelectiveScan CUDA: unsupported activation type";
}
