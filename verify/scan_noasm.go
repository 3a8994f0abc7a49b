//go:build !amd64

package verify

func scanStepF32AVX2(h, a, b, c, dt, dtu, y *float32, nch, n int) {
	panic("verify: scanStepF32AVX2 called without amd64 support")
}

func softplusF32AVX2(out, x, bias *float32, n int) {
	panic("verify: softplusF32AVX2 called without amd64 support")
}

func siluMulF32AVX2(y, z *float32, n int) {
	panic("verify: siluMulF32AVX2 called without amd64 support")
}
