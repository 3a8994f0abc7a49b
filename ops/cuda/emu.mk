# Host emulation test of the CUDA kernels (no GPU, no nvcc: any C++17 compiler).
# Included by ops/Makefile whether or not nvcc exists (after OBJDIR, BUILD,
# CFLAGS, HDRS are set); `make -C ops check` runs it:
#   make -C ops cuda-emu-test        the test (~1 s)
#   make -C ops cuda-emu-test-long   plus Vim-S/T at 1248x1248 (~15 s)

vc_emu_saved_goal := $(.DEFAULT_GOAL)

CXX      ?= g++
VC_EMU_CXXFLAGS ?= -O2
VC_EMU_CXXFLAGS += -std=c++17 -Wall -Wextra

VC_EMU_TEST := $(BUILD)/vimconvert_cuda_emu_test
VC_EMU_DEPS := cuda/emu_test.cc cuda/emulate.h cuda/test_common.h cuda/scan_kernel.cuh \
               cuda/scan_cuda.h cpu/scan_cpu.c $(HDRS)

$(VC_EMU_TEST): $(VC_EMU_DEPS)
	@mkdir -p $(BUILD) $(OBJDIR)/cuda
	$(CC) $(CFLAGS) -c -o $(OBJDIR)/cuda/emu_scan_cpu.o cpu/scan_cpu.c
	$(CXX) $(VC_EMU_CXXFLAGS) -o $@.tmp cuda/emu_test.cc $(OBJDIR)/cuda/emu_scan_cpu.o -lm
	mv $@.tmp $@

.PHONY: cuda-emu-test cuda-emu-test-long
cuda-emu-test: $(VC_EMU_TEST)
	$(VC_EMU_TEST)

cuda-emu-test-long: $(VC_EMU_TEST)
	$(VC_EMU_TEST) --long

.DEFAULT_GOAL := $(vc_emu_saved_goal)
