#include "textflag.h"

// Constants of the float32 exponential (Cephes expf): range reduction
// x = k·ln2 + r with ln2 split in two, then e^r by a degree-7 polynomial.
DATA expLog2e<>+0(SB)/4, $0x3fb8aa3b // 1.44269504
DATA expLn2Hi<>+0(SB)/4, $0x3f318000 // 0.693359375
DATA expLn2Lo<>+0(SB)/4, $0xb95e8083 // -2.12194440e-4
DATA expMin<>+0(SB)/4, $0xc2aeac50   // -87.3365448 (below: result 0)
DATA expMax<>+0(SB)/4, $0x42b00000   // 88 (clamp: 2^k stays finite)
DATA expP0<>+0(SB)/4, $0x39506967    // 1.9875691500e-4
DATA expP1<>+0(SB)/4, $0x3ab743ce    // 1.3981999507e-3
DATA expP2<>+0(SB)/4, $0x3c088908    // 8.3334519073e-3
DATA expP3<>+0(SB)/4, $0x3d2aa9c1    // 4.1665795894e-2
DATA expP4<>+0(SB)/4, $0x3e2aaaaa    // 1.6666665459e-1
DATA expP5<>+0(SB)/4, $0x3f000000    // 5.0000001201e-1
DATA expOne<>+0(SB)/4, $0x3f800000   // 1
DATA expBias<>+0(SB)/4, $127
DATA logMant<>+0(SB)/4, $0x007fffff
DATA logHalf<>+0(SB)/4, $0x3f000000
DATA logSqrtHalf<>+0(SB)/4, $0x3f3504f3 // 0.707106781
DATA logP0<>+0(SB)/4, $0x3d9021bb       // 7.0376836292e-2
DATA logP1<>+0(SB)/4, $0xbdebd1b8       // -1.1514610310e-1
DATA logP2<>+0(SB)/4, $0x3def251a       // 1.1676998740e-1
DATA logP3<>+0(SB)/4, $0xbdfe5d4f       // -1.2420140846e-1
DATA logP4<>+0(SB)/4, $0x3e11e9bf       // 1.4249322787e-1
DATA logP5<>+0(SB)/4, $0xbe2aae50       // -1.6668057665e-1
DATA logP6<>+0(SB)/4, $0x3e4cceac       // 2.0000714765e-1
DATA logP7<>+0(SB)/4, $0xbe7ffffc       // -2.4999993993e-1
DATA logP8<>+0(SB)/4, $0x3eaaaaaa       // 3.3333331174e-1
DATA logQ1<>+0(SB)/4, $0xb95e8083       // -2.12194440e-4
DATA logQ2<>+0(SB)/4, $0x3f318000       // 0.693359375
DATA negHalf<>+0(SB)/4, $0xbf000000     // -0.5
DATA twenty<>+0(SB)/4, $0x41a00000      // 20 (softplus threshold)
GLOBL logMant<>(SB), RODATA|NOPTR, $4
GLOBL logHalf<>(SB), RODATA|NOPTR, $4
GLOBL logSqrtHalf<>(SB), RODATA|NOPTR, $4
GLOBL logP0<>(SB), RODATA|NOPTR, $4
GLOBL logP1<>(SB), RODATA|NOPTR, $4
GLOBL logP2<>(SB), RODATA|NOPTR, $4
GLOBL logP3<>(SB), RODATA|NOPTR, $4
GLOBL logP4<>(SB), RODATA|NOPTR, $4
GLOBL logP5<>(SB), RODATA|NOPTR, $4
GLOBL logP6<>(SB), RODATA|NOPTR, $4
GLOBL logP7<>(SB), RODATA|NOPTR, $4
GLOBL logP8<>(SB), RODATA|NOPTR, $4
GLOBL logQ1<>(SB), RODATA|NOPTR, $4
GLOBL logQ2<>(SB), RODATA|NOPTR, $4
GLOBL negHalf<>(SB), RODATA|NOPTR, $4
GLOBL twenty<>(SB), RODATA|NOPTR, $4
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

// LOADEXPCONST loads the constants EXPF expects in Y9-Y15.
#define LOADEXPCONST \
	VBROADCASTSS expLog2e<>(SB), Y15; \
	VBROADCASTSS expLn2Hi<>(SB), Y14; \
	VBROADCASTSS expLn2Lo<>(SB), Y13; \
	VBROADCASTSS expMin<>(SB), Y12; \
	VBROADCASTSS expMax<>(SB), Y11; \
	VBROADCASTSS expOne<>(SB), Y10; \
	VPBROADCASTD expBias<>(SB), Y9

// EXPF sets R = exp(X) for 8 floats, as in scanStepF32AVX2 (0 below
// expMin). X is clobbered; K, MSK, TMP are scratch. Needs LOADEXPCONST.
#define EXPF(X, R, K, MSK, TMP) \
	VCMPPS       $0x1d, Y12, X, MSK; \
	VMAXPS       Y12, X, X; \
	VMINPS       Y11, X, X; \
	VMULPS       Y15, X, K; \
	VROUNDPS     $0, K, K; \
	VFNMADD231PS Y14, K, X; \
	VFNMADD231PS Y13, K, X; \
	VBROADCASTSS expP0<>(SB), R; \
	VBROADCASTSS expP1<>(SB), TMP; \
	VFMADD213PS  TMP, X, R; \
	VBROADCASTSS expP2<>(SB), TMP; \
	VFMADD213PS  TMP, X, R; \
	VBROADCASTSS expP3<>(SB), TMP; \
	VFMADD213PS  TMP, X, R; \
	VBROADCASTSS expP4<>(SB), TMP; \
	VFMADD213PS  TMP, X, R; \
	VBROADCASTSS expP5<>(SB), TMP; \
	VFMADD213PS  TMP, X, R; \
	VMULPS       X, X, TMP; \
	VFMADD213PS  X, TMP, R; \
	VADDPS       Y10, R, R; \
	VCVTPS2DQ    K, K; \
	VPADDD       Y9, K, K; \
	VPSLLD       $23, K, K; \
	VMULPS       K, R, R; \
	VANDPS       MSK, R, R

// func softplusF32AVX2(out, x, bias *float32, n int)
//
// out[i] = softplus(x[i] + bias[i]) with threshold 20: the input itself
// above 20, else log1p(e) for e = exp(v), computed as log(1+e)·e/((1+e)-1)
// (e where 1+e rounds to 1) with a Cephes-style logf. n is a multiple of 8.
TEXT ·softplusF32AVX2(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ bias+16(FP), R8
	MOVQ n+24(FP), CX
	SHLQ $2, CX
	LOADEXPCONST
	XORQ BX, BX
	TESTQ CX, CX
	JLE   spdone

sploop:
	VMOVUPS      (SI)(BX*1), Y5
	VADDPS       (R8)(BX*1), Y5, Y5 // v
	VBROADCASTSS twenty<>(SB), Y6
	VCMPPS       $0x1e, Y6, Y5, Y7 // big = v > 20
	VMINPS       Y6, Y5, Y0
	EXPF(Y0, Y1, Y2, Y3, Y4)        // e = exp(min(v, 20))
	VADDPS       Y10, Y1, Y2        // u = 1 + e
	VSUBPS       Y10, Y2, Y8        // w = u - 1

	// log(u), u ≥ 1: u = m·2^f with m in [0.5, 1)
	VPSRLD       $23, Y2, Y3
	VPSUBD       Y9, Y3, Y3
	VCVTDQ2PS    Y3, Y3
	VADDPS       Y10, Y3, Y3        // f = exponent - 126
	VBROADCASTSS logMant<>(SB), Y4
	VANDPS       Y4, Y2, Y0
	VBROADCASTSS logHalf<>(SB), Y4
	VORPS        Y4, Y0, Y0         // m
	VBROADCASTSS logSqrtHalf<>(SB), Y4
	VCMPPS       $1, Y4, Y0, Y6     // m < sqrt(1/2): use 2m, f-1
	VANDPS       Y10, Y6, Y4
	VSUBPS       Y4, Y3, Y3
	VANDPS       Y0, Y6, Y4
	VSUBPS       Y10, Y0, Y0
	VADDPS       Y4, Y0, Y0         // x = m-1 or 2m-1
	VMULPS       Y0, Y0, Y6         // z = x²
	VBROADCASTSS logP0<>(SB), Y4
	VBROADCASTSS logP1<>(SB), Y2
	VFMADD213PS  Y2, Y0, Y4
	VBROADCASTSS logP2<>(SB), Y2
	VFMADD213PS  Y2, Y0, Y4
	VBROADCASTSS logP3<>(SB), Y2
	VFMADD213PS  Y2, Y0, Y4
	VBROADCASTSS logP4<>(SB), Y2
	VFMADD213PS  Y2, Y0, Y4
	VBROADCASTSS logP5<>(SB), Y2
	VFMADD213PS  Y2, Y0, Y4
	VBROADCASTSS logP6<>(SB), Y2
	VFMADD213PS  Y2, Y0, Y4
	VBROADCASTSS logP7<>(SB), Y2
	VFMADD213PS  Y2, Y0, Y4
	VBROADCASTSS logP8<>(SB), Y2
	VFMADD213PS  Y2, Y0, Y4
	VMULPS       Y0, Y4, Y4
	VMULPS       Y6, Y4, Y4         // y = p(x)·x·z
	VBROADCASTSS logQ1<>(SB), Y2
	VFMADD231PS  Y2, Y3, Y4         // y += f·q1
	VBROADCASTSS negHalf<>(SB), Y2
	VFMADD231PS  Y2, Y6, Y4         // y -= z/2
	VADDPS       Y4, Y0, Y0
	VBROADCASTSS logQ2<>(SB), Y2
	VFMADD231PS  Y2, Y3, Y0         // log(u) = x + y + f·q2

	// log1p(e) = log(u)·e/w, or e where w = 0
	VMULPS    Y1, Y0, Y0
	VDIVPS    Y8, Y0, Y0
	VXORPS    Y2, Y2, Y2
	VCMPPS    $0, Y2, Y8, Y3
	VBLENDVPS Y3, Y1, Y0, Y0
	VBLENDVPS Y7, Y5, Y0, Y0        // v where v > 20
	VMOVUPS   Y0, (DI)(BX*1)

	ADDQ $32, BX
	CMPQ BX, CX
	JLT  sploop

spdone:
	VZEROUPPER
	RET

// func siluMulF32AVX2(y, z *float32, n int)
//
// y[i] *= z[i] / (1 + exp(-z[i])). n is a multiple of 8.
TEXT ·siluMulF32AVX2(SB), NOSPLIT, $0-24
	MOVQ y+0(FP), DI
	MOVQ z+8(FP), SI
	MOVQ n+16(FP), CX
	SHLQ $2, CX
	LOADEXPCONST
	XORQ BX, BX
	TESTQ CX, CX
	JLE   sidone

siloop:
	VMOVUPS (SI)(BX*1), Y5
	VXORPS  Y0, Y0, Y0
	VSUBPS  Y5, Y0, Y0              // -z
	VCMPPS  $0x1e, Y11, Y0, Y6      // -z > 88: SiLU(z) ≈ z·e^z = 0
	EXPF(Y0, Y1, Y2, Y3, Y4)
	VADDPS  Y10, Y1, Y1
	VDIVPS  Y1, Y5, Y5              // z / (1 + exp(-z))
	VANDNPS Y5, Y6, Y5
	VMULPS  (DI)(BX*1), Y5, Y5
	VMOVUPS Y5, (DI)(BX*1)
	ADDQ    $32, BX
	CMPQ    BX, CX
	JLT     siloop

sidone:
	VZEROUPPER
	RET
