package verify

import (
	"math"

	"github.com/vimconvert/vimconvert/verify/internal/linalg"
)

// Float is the element type of a reference computation: float32 mirrors
// the official fp32 run, float64 the official model.double() run.
type Float = linalg.Float

// expf returns e^x computed in float64 (fastExp) and rounded to T.
func expf[T Float](x T) T {
	return T(fastExp(float64(x)))
}

// silu returns x·sigmoid(x) = x / (1 + e^-x) (torch.nn.functional.silu).
func silu[T Float](x T) T {
	v := float64(x)
	return T(v / (1 + fastExp(-v)))
}

// softplus returns log(1 + e^x), or x itself above the threshold 20, as
// torch.nn.functional.softplus(x, beta=1, threshold=20) (SSI 109-112).
func softplus[T Float](x T) T {
	if x > 20 {
		return x
	}
	return T(math.Log1p(fastExp(float64(x))))
}

// negExpF32 returns A = -exp(A_log) evaluated in float32, as the official
// Mamba.forward does even for a float64 model (MS 192, 214:
// -torch.exp(self.A_log.float())), with torch's own float32 exp (see
// torchExpF32) so that A matches the official A bit for bit.
func negExpF32(aLog float32) float32 {
	return -torchExpF32(aLog)
}

// torchExpF32 is the float32 exp of PyTorch's CPU kernels on x86-64
// (Vectorized<float>::exp = SLEEF expf_u10 with FMA, the AVX2 and AVX-512
// builds alike). It is not correctly rounded: about one A in ten differs by
// one ulp from the correctly rounded exp, enough to move float64 logits by
// ~1e-9. The algorithm (public SLEEF): q = rint(x/ln2), s = x - q·ln2 in
// two FMA steps, e^s by a degree-6 polynomial in FMA form, then ·2^q.
func torchExpF32(d float32) float32 {
	const (
		rLn2 = float32(1.442695040888963407359924681001892137426645954152985934135449406931)
		l2u  = float32(0.693145751953125)
		l2l  = float32(1.428606765330187045e-06)
	)
	if d != d {
		return d
	}
	q := int32(math.RoundToEven(float64(float32(d * rLn2))))
	qf := float32(q)
	s := fmaF32(qf, -l2u, d)
	s = fmaF32(qf, -l2l, s)
	u := float32(0.000198527617612853646278381)
	u = fmaF32(u, s, 0.00139304355252534151077271)
	u = fmaF32(u, s, 0.00833336077630519866943359)
	u = fmaF32(u, s, 0.0416664853692054748535156)
	u = fmaF32(u, s, 0.166666671633720397949219)
	u = fmaF32(u, s, 0.5)
	u = 1 + fmaF32(float32(s*s), u, s)
	// u·2^q as u·2^(q>>1)·2^(q-(q>>1)), each factor a normal float32.
	u = u * pow2F32(q>>1) * pow2F32(q-(q>>1))
	if d < -104 {
		return 0
	}
	if d > 100 {
		return float32(math.Inf(1))
	}
	return u
}

// fmaF32 is a·b + c rounded once to float32 (a·b is exact in float64, so
// only a float64 → float32 double rounding could differ, at ties).
func fmaF32(a, b, c float32) float32 {
	return float32(math.FMA(float64(a), float64(b), float64(c)))
}

// pow2F32 returns 2^q for q in the normal float32 exponent range.
func pow2F32(q int32) float32 {
	return math.Float32frombits(uint32(q+127) << 23)
}
