# CUDA part of the plugin. Included by ops/Makefile when `nvcc` is on PATH;
# appends objects to CUDA_OBJS and link flags to CUDA_LDLIBS (see README.md
# in this folder). Variables that may be overridden on the make command line:
#   NVCC        the compiler (default: nvcc from PATH)
#   CUDA_HOME   toolkit root (default: the folder above nvcc's bin/)
#   CUDA_ARCHS  compute capabilities to emit machine code for (default: those of
#               70 75 80 90 that nvcc supports; PTX for the last one is embedded too)

# ops/Makefile includes this before its `all` rule: keep `all` the default goal.
vc_cuda_saved_goal := $(.DEFAULT_GOAL)

NVCC       ?= nvcc
# (nvcc's real path: a symlink in /usr/bin must not make it /usr)
CUDA_HOME  ?= $(patsubst %/bin/,%,$(dir $(realpath $(shell command -v $(NVCC)))))
# Machine code for these compute capabilities where this nvcc still supports
# them (CUDA 13 dropped 7.0), plus PTX of the newest for later GPUs.
VC_CUDA_WANT := 70 75 80 90
VC_CUDA_HAVE := $(patsubst compute_%,%,$(shell $(NVCC) --list-gpu-arch 2>/dev/null))
CUDA_ARCHS ?= $(if $(VC_CUDA_HAVE),$(filter $(VC_CUDA_HAVE),$(VC_CUDA_WANT)),75 80 90)

NVCC_GENCODE := $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a)) \
                -gencode arch=compute_$(lastword $(CUDA_ARCHS)),code=compute_$(lastword $(CUDA_ARCHS))
NVCC_FLAGS ?= -O3
NVCC_FLAGS += -std=c++17 -Xcompiler -fPIC -Xcompiler -fvisibility=hidden $(NVCC_GENCODE)

CUDA_HDRS := cuda/scan_cuda.h cuda/scan_kernel.cuh

CUDA_OBJS += $(OBJDIR)/cuda/scan_cuda.o $(OBJDIR)/cuda/scan_cuda_op.o

# The CUDA runtime is linked statically: the plugin then needs only the
# driver (libcuda.so.1) at run time, not a libcudart.so of one CUDA version.
# Debian's toolkit keeps its libraries in the default search path; the
# NVIDIA installer's live under $(CUDA_HOME)/lib64.
CUDA_LDLIBS += -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lpthread

$(OBJDIR)/cuda/scan_cuda.o: cuda/scan_cuda.cu $(CUDA_HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -c -o $@ $<

$(OBJDIR)/cuda/scan_cuda_op.o: cuda/scan_cuda_op.c cuda/scan_cuda.h $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Standalone GPU harness (no ONNX Runtime): CUDA kernels vs the CPU kernel
# and a float64 reference, plus timings. scripts/gpu-verify.sh runs it.
$(BUILD)/vimconvert_cuda_harness: cuda/harness.cu cuda/test_common.h $(CUDA_HDRS) \
    cuda/scan_cuda.cu cpu/scan_cpu.c $(HDRS)
	@mkdir -p $(BUILD) $(OBJDIR)/cuda
	$(CC) $(CFLAGS) -c -o $(OBJDIR)/cuda/harness_scan_cpu.o cpu/scan_cpu.c
	$(NVCC) $(NVCC_FLAGS) -o $@ cuda/harness.cu cuda/scan_cuda.cu \
	  $(OBJDIR)/cuda/harness_scan_cpu.o -lm

.PHONY: cuda-harness
cuda-harness: $(BUILD)/vimconvert_cuda_harness

.DEFAULT_GOAL := $(vc_cuda_saved_goal)
