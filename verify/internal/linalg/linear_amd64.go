package linalg

import "golang.org/x/sys/cpu"

// UseAVX2 selects the AVX2/FMA kernels of the float32 paths: Linear (k a
// multiple of 8, or small) here, and the scan kernels of package verify.
// Tests switch it off to compare with the Go loops and gonum.
var UseAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dot4x3F32AVX2 computes a 4×3 block of a·wᵀ (see linear_amd64.s); k must
// be a positive multiple of 8, strides are in elements.
//
//go:noescape
func dot4x3F32AVX2(a *float32, lda int, w *float32, ldw int, k int, out *float32, ldo int)

// dotF32AVX2 returns Σ a[p]·b[p] over k elements, k a positive multiple
// of 8.
//
//go:noescape
func dotF32AVX2(a, b *float32, k int) float32
