package verify

import "math"

// expTableBits sets the size of the 2^(j/64) table of fastExp.
const expTableBits = 6

const (
	expTableSize = 1 << expTableBits
	// invLn2N = 64/ln 2; ln 2/64 = ln2NHi + ln2NLo, where ln2NHi (fdlibm's
	// ln2_hi/64) has 21 trailing zero bits, so k·ln2NHi is exact for the
	// |k| < 2^17 used here.
	invLn2N = expTableSize / math.Ln2
	ln2NHi  = 6.93147180369123816490e-01 / expTableSize
	ln2NLo  = 1.90821492927058770002e-10 / expTableSize
	// roundShift: adding 1.5·2^52 rounds a float64 of magnitude < 2^51 to
	// an integer held in the low mantissa bits.
	roundShift = 0x1.8p52
)

// expTable[j] = 2^(j/64), correctly rounded.
var expTable = func() (t [expTableSize]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / expTableSize)
	}
	return t
}()

// fastExp returns e^x within 6e-16 relative of math.Exp (a few float64
// ulps; the float32 rounding of it is the correctly rounded float32 exp in
// all but astronomically rare ties). It is the hot spot of the scan, which
// needs L·DInner·DState exponentials per direction and block, and is about
// three times faster than math.Exp:
//
//	x = (64·k' + j)·ln2/64 + r, |r| ≤ ln2/128
//	e^x = 2^k' · 2^(j/64) · e^r, e^r by its degree-5 Taylor polynomial
//	(truncation r^6/720 < 4e-17).
//
// Arguments outside [-708, 709] and NaN go to math.Exp.
func fastExp(x float64) float64 {
	if !(x > -708 && x < 709) {
		return math.Exp(x)
	}
	kf := x*invLn2N + roundShift
	k := int64(math.Float64bits(kf)) // low bits hold round(x·64/ln2)
	kf -= roundShift
	r := x - kf*ln2NHi - kf*ln2NLo
	r2 := r * r
	// 1 + r + r²/2 + r³/6 + r⁴/24 + r⁵/120 (Estrin-style pairing)
	p := (1 + r) + r2*((0.5+r*(1.0/6))+r2*((1.0/24)+r*(1.0/120)))
	j := k & (expTableSize - 1)
	// The exponent of 2^k' goes into the bits of the table entry; k' is
	// bounded by |x|·64/ln2 < 2^16, so k>>6 fits the exponent range.
	e := int64(int32(int32(k) >> expTableBits))
	scale := math.Float64frombits(uint64(e+1023) << 52)
	return expTable[j] * scale * p
}
