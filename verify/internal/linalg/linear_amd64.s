#include "textflag.h"

// HSUM stores the sum of the 8 lanes of Y at (DST).
#define HSUM(Y, X, DST) \
	VEXTRACTF128 $1, Y, X15; \
	VADDPS       X15, X, X; \
	VHADDPS      X, X, X; \
	VHADDPS      X, X, X; \
	VMOVSS       X, DST

// func dot4x3F32AVX2(a *float32, lda int, w *float32, ldw int, k int, out *float32, ldo int)
//
// out[r·ldo + c] = Σ_{p<k} a[r·lda + p] · w[c·ldw + p] for r < 4, c < 3:
// a 4×3 block of a·wᵀ with 8-lane FMA accumulators. k is a positive
// multiple of 8; strides are in floats.
TEXT ·dot4x3F32AVX2(SB), NOSPLIT, $0-56
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R8
	SHLQ $2, R8
	MOVQ w+16(FP), DI
	MOVQ ldw+24(FP), R9
	SHLQ $2, R9
	MOVQ k+32(FP), CX
	SHLQ $2, CX
	MOVQ out+40(FP), DX
	MOVQ ldo+48(FP), R10
	SHLQ $2, R10

	LEAQ (SI)(R8*1), R11 // a1
	LEAQ (R11)(R8*1), R12 // a2
	LEAQ (R12)(R8*1), R13 // a3
	LEAQ (DI)(R9*1), AX // w1
	LEAQ (AX)(R9*1), R9 // w2

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ   BX, BX

loop:
	VMOVUPS     (DI)(BX*1), Y12
	VMOVUPS     (AX)(BX*1), Y13
	VMOVUPS     (R9)(BX*1), Y14
	VMOVUPS     (SI)(BX*1), Y15
	VFMADD231PS Y12, Y15, Y0
	VFMADD231PS Y13, Y15, Y1
	VFMADD231PS Y14, Y15, Y2
	VMOVUPS     (R11)(BX*1), Y15
	VFMADD231PS Y12, Y15, Y3
	VFMADD231PS Y13, Y15, Y4
	VFMADD231PS Y14, Y15, Y5
	VMOVUPS     (R12)(BX*1), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	VFMADD231PS Y14, Y15, Y8
	VMOVUPS     (R13)(BX*1), Y15
	VFMADD231PS Y12, Y15, Y9
	VFMADD231PS Y13, Y15, Y10
	VFMADD231PS Y14, Y15, Y11
	ADDQ        $32, BX
	CMPQ        BX, CX
	JLT         loop

	HSUM(Y0, X0, 0(DX))
	HSUM(Y1, X1, 4(DX))
	HSUM(Y2, X2, 8(DX))
	ADDQ R10, DX
	HSUM(Y3, X3, 0(DX))
	HSUM(Y4, X4, 4(DX))
	HSUM(Y5, X5, 8(DX))
	ADDQ R10, DX
	HSUM(Y6, X6, 0(DX))
	HSUM(Y7, X7, 4(DX))
	HSUM(Y8, X8, 8(DX))
	ADDQ R10, DX
	HSUM(Y9, X9, 0(DX))
	HSUM(Y10, X10, 4(DX))
	HSUM(Y11, X11, 8(DX))
	VZEROUPPER
	RET

// func dotF32AVX2(a, b *float32, k int) float32
//
// Σ_{p<k} a[p]·b[p] for k a positive multiple of 8.
TEXT ·dotF32AVX2(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   k+16(FP), CX
	SHLQ   $2, CX
	VXORPS Y0, Y0, Y0
	XORQ   BX, BX

dloop:
	VMOVUPS     (SI)(BX*1), Y1
	VFMADD231PS (DI)(BX*1), Y1, Y0
	ADDQ        $32, BX
	CMPQ        BX, CX
	JLT         dloop

	HSUM(Y0, X0, ret+24(FP))
	VZEROUPPER
	RET
