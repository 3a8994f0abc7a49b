//go:build !amd64

package verify

func dot4x3F32AVX2(a *float32, lda int, w *float32, ldw int, k int, out *float32, ldo int) {
	panic("verify: dot4x3F32AVX2 called without amd64 support")
}

func dotF32AVX2(a, b *float32, k int) float32 {
	panic("verify: dotF32AVX2 called without amd64 support")
}
