package verify

// scanStepF32AVX2 advances nch channels of a float32 scan by one time step
// (see scan_amd64.s): with e = exp(dt[ch]·a[ch·n+j]) evaluated by a
// Cephes-style vector expf (≤ 2 float32 ulp),
//
//	h[ch·n+j] = e·h[ch·n+j] + dtu[ch]·b[j];  y[ch] = Σ_j h[ch·n+j]·c[j]
//
// n must be a positive multiple of 8.
//
//go:noescape
func scanStepF32AVX2(h, a, b, c, dt, dtu, y *float32, nch, n int)

// softplusF32AVX2 sets out[i] = softplus(x[i] + bias[i]) (threshold 20)
// with vector expf/logf (a few float32 ulp). n must be a multiple of 8.
//
//go:noescape
func softplusF32AVX2(out, x, bias *float32, n int)

// siluMulF32AVX2 multiplies y[i] by SiLU(z[i]). n must be a multiple of 8.
//
//go:noescape
func siluMulF32AVX2(y, z *float32, n int)
