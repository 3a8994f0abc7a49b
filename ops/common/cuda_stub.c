/* Built instead of cuda/ when nvcc is unavailable: no CUDA ops. */
#include "plugin.h"

OrtStatus *vc_register_cuda_ops(OrtCustomOpDomain *domain, const OrtApi *api) {
  (void)domain;
  (void)api;
  return NULL;
}
