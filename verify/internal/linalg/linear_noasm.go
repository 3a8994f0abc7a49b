//go:build !amd64

package linalg

// UseAVX2 is false without the amd64 kernels.
var UseAVX2 = false

func dot4x3F32AVX2(a *float32, lda int, w *float32, ldw int, k int, out *float32, ldo int) {
	panic("linalg: dot4x3F32AVX2 called without amd64 support")
}

func dotF32AVX2(a, b *float32, k int) float32 {
	panic("linalg: dotF32AVX2 called without amd64 support")
}
