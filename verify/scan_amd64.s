#include "textflag.h"

// Constants of the float32 exponential (Cephes expf): range reduction
// x = k·ln2 + r with ln2 split in two, then e^r by a degree-7 polynomial.
DATA expLog2e<>+0(SB)/4, $0x3fb8aa3b // 1.44269504
DATA expLn2Hi<>+0(SB)/4, $0x3f318000 // 0.693359375
DATA expLn2Lo<>+0(SB)/4, $0xb95e8083 // -2.12194440e-4
DATA expMin<>+0(SB)/4, $0xc2aeac50   // -87.3365448 (below: result 0)
DATA expMax<>+0(SB)/4, $0x42b17218   // 88.7228394
DATA expP0<>+0(SB)/4, $0x39506967    // 1.9875691500e-4
DATA expP1<>+0(SB)/4, $0x3ab743ce    // 1.3981999507e-3
DATA expP2<>+0(SB)/4, $0x3c088908    // 8.3334519073e-3
DATA expP3<>+0(SB)/4, $0x3d2aa9c1    // 4.1665795894e-2
DATA expP4<>+0(SB)/4, $0x3e2aaaaa    // 1.6666665459e-1
DATA expP5<>+0(SB)/4, $0x3f000000    // 5.0000001201e-1
DATA expOne<>+0(SB)/4, $0x3f800000   // 1
DATA expBias<>+0(SB)/4, $127
GLOBL expLog2e<>(SB), RODATA|NOPTR, $4
GLOBL expLn2Hi<>(SB), RODATA|NOPTR, $4
GLOBL expLn2Lo<>(SB), RODATA|NOPTR, $4
GLOBL expMin<>(SB), RODATA|NOPTR, $4
GLOBL expMax<>(SB), RODATA|NOPTR, $4
GLOBL expP0<>(SB), RODATA|NOPTR, $4
GLOBL expP1<>(SB), RODATA|NOPTR, $4
GLOBL expP2<>(SB), RODATA|NOPTR, $4
GLOBL expP3<>(SB), RODATA|NOPTR, $4
GLOBL expP4<>(SB), RODATA|NOPTR, $4
GLOBL expP5<>(SB), RODATA|NOPTR, $4
GLOBL expOne<>(SB), RODATA|NOPTR, $4
GLOBL expBias<>(SB), RODATA|NOPTR, $4

// func scanStepF32AVX2(h, a, b, c, dt, dtu, y *float32, nch, n int)
//
// For each of nch channels ch (h and a advance by n floats per channel,
// dt/dtu/y by one), over the n states j (n a positive multiple of 8):
//
//	hv       = exp(dt[ch]·a[j]) · h[j] + dtu[ch]·b[j]
//	h[j]     = hv
//	y[ch]    = Σ_j hv · c[j]
TEXT ·scanStepF32AVX2(SB), NOSPLIT, $0-72
	MOVQ h+0(FP), SI
	MOVQ a+8(FP), DI
	MOVQ b+16(FP), R8
	MOVQ c+24(FP), R9
	MOVQ dt+32(FP), R10
	MOVQ dtu+40(FP), R11
	MOVQ y+48(FP), R12
	MOVQ nch+56(FP), CX
	MOVQ n+64(FP), DX
	SHLQ $2, DX // n in bytes

	VBROADCASTSS expLog2e<>(SB), Y15
	VBROADCASTSS expLn2Hi<>(SB), Y14
	VBROADCASTSS expLn2Lo<>(SB), Y13
	VBROADCASTSS expMin<>(SB), Y12
	VBROADCASTSS expMax<>(SB), Y11
	VBROADCASTSS expOne<>(SB), Y10
	VPBROADCASTD expBias<>(SB), Y9

	TESTQ CX, CX
	JLE   done

loopc:
	VBROADCASTSS (R10), Y0 // dt
	VBROADCASTSS (R11), Y1 // dtu
	VXORPS       Y2, Y2, Y2 // Σ h·c
	XORQ         BX, BX

loopj:
	// x = dt·a
	VMULPS (DI)(BX*1), Y0, Y3
	// mask of x ≥ min (exp underflows to 0 below), then clamp
	VCMPPS $0x1d, Y12, Y3, Y5
	VMAXPS Y12, Y3, Y3
	VMINPS Y11, Y3, Y3
	// k = round(x·log2e); r = x - k·ln2
	VMULPS       Y15, Y3, Y4
	VROUNDPS     $0, Y4, Y4
	VFNMADD231PS Y14, Y4, Y3
	VFNMADD231PS Y13, Y4, Y3
	// p(r) = ((((p0 r + p1) r + p2) r + p3) r + p4) r + p5; e^r = p r² + r + 1
	VBROADCASTSS expP0<>(SB), Y6
	VBROADCASTSS expP1<>(SB), Y7
	VFMADD213PS  Y7, Y3, Y6
	VBROADCASTSS expP2<>(SB), Y7
	VFMADD213PS  Y7, Y3, Y6
	VBROADCASTSS expP3<>(SB), Y7
	VFMADD213PS  Y7, Y3, Y6
	VBROADCASTSS expP4<>(SB), Y7
	VFMADD213PS  Y7, Y3, Y6
	VBROADCASTSS expP5<>(SB), Y7
	VFMADD213PS  Y7, Y3, Y6
	VMULPS       Y3, Y3, Y7
	VFMADD213PS  Y3, Y7, Y6
	VADDPS       Y10, Y6, Y6
	// · 2^k
	VCVTPS2DQ Y4, Y4
	VPADDD    Y9, Y4, Y4
	VPSLLD    $23, Y4, Y4
	VMULPS    Y4, Y6, Y6
	VANDPS    Y5, Y6, Y6 // e = exp(x), 0 where x < min

	// h = e·h + dtu·b; Σ += h·c
	VMULPS      (R8)(BX*1), Y1, Y8
	VMOVUPS     (SI)(BX*1), Y7
	VFMADD213PS Y8, Y6, Y7
	VMOVUPS     Y7, (SI)(BX*1)
	VFMADD231PS (R9)(BX*1), Y7, Y2

	ADDQ $32, BX
	CMPQ BX, DX
	JLT  loopj

	// y[ch] = horizontal sum of Y2
	VEXTRACTF128 $1, Y2, X3
	VADDPS       X3, X2, X2
	VHADDPS      X2, X2, X2
	VHADDPS      X2, X2, X2
	VMOVSS       X2, (R12)

	ADDQ DX, SI
	ADDQ DX, DI
	ADDQ $4, R10
	ADDQ $4, R11
	ADDQ $4, R12
	DECQ CX
	JNZ  loopc

done:
	VZEROUPPER
	RET
