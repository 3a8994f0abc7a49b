package verify

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vimconvert/vimconvert/verify/internal/linalg"
)

// naiveScan is an independent float64 transcription of the official
// selective_scan_ref formula on the [b, d, l] layout (no strides, no
// blocking, explicit flips for the reverse direction).
func naiveScan(in ScanInput[float64]) (out, last []float64) {
	bt, d, n, l := in.Batch, in.Dim, in.DState, in.Len
	out = make([]float64, bt*d*l)
	last = make([]float64, bt*d*n)
	for b := 0; b < bt; b++ {
		for c := 0; c < d; c++ {
			h := make([]float64, n)
			for step := 0; step < l; step++ {
				t := step
				if in.Reverse {
					t = l - 1 - step
				}
				dt := in.Delta[(b*d+c)*l+t]
				if in.DeltaBias != nil {
					dt += in.DeltaBias[c]
				}
				if dt <= 20 {
					dt = math.Log(1 + math.Exp(dt))
				}
				u := in.U[(b*d+c)*l+t]
				y := 0.0
				for j := 0; j < n; j++ {
					h[j] = math.Exp(dt*in.A[c*n+j])*h[j] + dt*in.B[(b*n+j)*l+t]*u
					y += h[j] * in.C[(b*n+j)*l+t]
				}
				if in.D != nil {
					y += in.D[c] * u
				}
				if in.Z != nil {
					z := in.Z[(b*d+c)*l+t]
					y *= z / (1 + math.Exp(-z))
				}
				out[(b*d+c)*l+t] = y
			}
			copy(last[(b*d+c)*n:], h)
		}
	}
	return out, last
}

func randScanInput(seed uint64, bt, d, n, l int) ScanInput[float64] {
	rng := rand.New(rand.NewPCG(seed, 7))
	v := func(k int, mean, std float64) []float64 {
		s := make([]float64, k)
		for i := range s {
			s[i] = mean + rng.NormFloat64()*std
		}
		return s
	}
	a := v(d*n, 0, 0)
	for i := range a {
		a[i] = -math.Exp(math.Log(float64(i%n+1)) + rng.NormFloat64()*0.25)
	}
	return ScanInput[float64]{
		Batch: bt, Dim: d, DState: n, Len: l,
		U: v(bt*d*l, 0, 1), Delta: v(bt*d*l, 0, 0.5), Z: v(bt*d*l, 0, 1),
		A: a, B: v(bt*n*l, 0, 1), C: v(bt*n*l, 0, 1),
		D: v(d, 1, 0.25), DeltaBias: v(d, -3, 1),
	}
}

// scanInputFloat32 rounds every array of in to float32 (nil stays nil).
func scanInputFloat32(in ScanInput[float64]) ScanInput[float32] {
	f := func(s []float64) []float32 {
		if s == nil {
			return nil
		}
		o := make([]float32, len(s))
		for i, v := range s {
			o[i] = float32(v)
		}
		return o
	}
	return ScanInput[float32]{Batch: in.Batch, Dim: in.Dim, DState: in.DState, Len: in.Len, Reverse: in.Reverse,
		U: f(in.U), Delta: f(in.Delta), Z: f(in.Z), A: f(in.A), B: f(in.B), C: f(in.C), D: f(in.D), DeltaBias: f(in.DeltaBias)}
}

// checkScanResult fails t (naming what) when a scan's out or last_state
// is farther than outTol / lastTol (max |Δ|) from wantOut / wantLast.
func checkScanResult[A, B Float](t *testing.T, what string, out, last []A, wantOut, wantLast []B, outTol, lastTol float64) {
	t.Helper()
	if d := maxAbsDiff(out, wantOut); d > outTol {
		t.Errorf("%s: out max|Δ| = %.3g > %.3g", what, d, outTol)
	}
	if d := maxAbsDiff(last, wantLast); d > lastTol {
		t.Errorf("%s: last_state max|Δ| = %.3g > %.3g", what, d, lastTol)
	}
}

func maxAbsDiff[A, B Float](a []A, b []B) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > m || math.IsNaN(d) {
			m = d
		}
	}
	return m
}

func TestSelectiveScanMatchesNaive(t *testing.T) {
	tests := []struct {
		bt, d, n, l int
		reverse     bool
		dropOpt     bool
		reason      string
	}{
		{1, 8, 16, 1, false, false, "L=1: h = dt·B·u only"},
		{3, 20, 16, 7, false, false, "channels not a multiple of the 16-channel block"},
		{2, 33, 4, 50, true, false, "reverse recurrence"},
		{2, 5, 3, 9, false, true, "no D, no z, no delta_bias"},
	}
	for _, tc := range tests {
		in := randScanInput(uint64(tc.l*100+tc.d), tc.bt, tc.d, tc.n, tc.l)
		in.Reverse = tc.reverse
		if tc.dropOpt {
			in.D, in.Z, in.DeltaBias = nil, nil, nil
		}
		got, last, err := SelectiveScan(in)
		if err != nil {
			t.Fatalf("%s: %v", tc.reason, err)
		}
		want, wantLast := naiveScan(in)
		checkScanResult(t, tc.reason, got, last, want, wantLast, 1e-12, 1e-12)
	}
}

// flipTime reverses the last axis of a [rows, l] array.
func flipTime(s []float64, l int) []float64 {
	out := make([]float64, len(s))
	for r := 0; r < len(s)/l; r++ {
		for t := 0; t < l; t++ {
			out[r*l+t] = s[r*l+l-1-t]
		}
	}
	return out
}

// TestReverseScanIsFlippedScan checks the identity the backward direction
// relies on: scanning in reverse equals flip → scan → flip (MS 229, 243).
func TestReverseScanIsFlippedScan(t *testing.T) {
	in := randScanInput(42, 2, 24, 16, 13)
	rev := in
	rev.Reverse = true
	gotRev, _, err := SelectiveScan(rev)
	if err != nil {
		t.Fatal(err)
	}
	fl := in
	fl.U, fl.Delta, fl.Z = flipTime(in.U, in.Len), flipTime(in.Delta, in.Len), flipTime(in.Z, in.Len)
	fl.B, fl.C = flipTime(in.B, in.Len), flipTime(in.C, in.Len)
	outFl, _, err := SelectiveScan(fl)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(gotRev, flipTime(outFl, in.Len)); d != 0 {
		t.Fatalf("reverse scan differs from flipped scan by %g", d)
	}
	fwd, _, _ := SelectiveScan(in)
	if d := maxAbsDiff(fwd, gotRev); d < 1e-3 {
		t.Fatalf("forward and reverse scans agree (%g): direction ignored", d)
	}
}

func TestSelectiveScanFloat32(t *testing.T) {
	in := randScanInput(9, 2, 40, 16, 197)
	want, wantLast := naiveScan(in)
	in32 := scanInputFloat32(in)
	got, last, err := SelectiveScan(in32)
	if err != nil {
		t.Fatal(err)
	}
	checkScanResult(t, "float32 vs float64", got, last, want, wantLast, 1e-4, 1e-4)
}

func TestSelectiveScanErrors(t *testing.T) {
	good := randScanInput(1, 1, 4, 2, 3)
	tests := []struct {
		mut    func(*ScanInput[float64])
		reason string
	}{
		{func(s *ScanInput[float64]) { s.U = s.U[:5] }, "u too short"},
		{func(s *ScanInput[float64]) { s.B = append(slices.Clone(s.B), 0) }, "B too long"},
		{func(s *ScanInput[float64]) { s.A = nil }, "A missing"},
		{func(s *ScanInput[float64]) { s.D = s.D[:1] }, "D wrong length"},
		{func(s *ScanInput[float64]) { s.Len = 0 }, "empty sequence"},
	}
	for _, tc := range tests {
		in := good
		tc.mut(&in)
		if _, _, err := SelectiveScan(in); err == nil {
			t.Errorf("%s: no error", tc.reason)
		}
	}
}

// TestScanAVX2MatchesGo compares the float32 vector kernel with the Go
// loop on the same inputs, including steps where exp(dt·A) underflows.
func TestScanAVX2MatchesGo(t *testing.T) {
	if !linalg.UseAVX2 {
		t.Skip("skipping: no AVX2/FMA on this CPU (the Go loop is the only float32 path)")
	}
	for _, tc := range []struct {
		bt, d, n, l int
		bigDt       bool
		reason      string
	}{
		{2, 40, 16, 33, false, "Vim d_state 16, channels not a multiple of the block"},
		{1, 16, 8, 5, false, "d_state 8: one vector per channel"},
		{1, 20, 24, 9, true, "dt up to ~60: exp(dt·A) underflows to 0"},
	} {
		in := randScanInput(uint64(tc.d+tc.n), tc.bt, tc.d, tc.n, tc.l)
		if tc.bigDt {
			for i := range in.DeltaBias {
				in.DeltaBias[i] = 30 + float64(i)
			}
		}
		in32 := scanInputFloat32(in)
		for _, rev := range []bool{false, true} {
			in32.Reverse = rev
			vec, vecLast, err := SelectiveScan(in32)
			if err != nil {
				t.Fatal(err)
			}
			linalg.UseAVX2 = false
			ref, refLast, err := SelectiveScan(in32)
			linalg.UseAVX2 = true
			if err != nil {
				t.Fatal(err)
			}
			scale := 0.0
			for _, v := range ref {
				scale = max(scale, math.Abs(float64(v)))
			}
			if d := maxAbsDiff(vec, ref); d > 1e-6*max(1, scale) || math.IsNaN(d) {
				t.Errorf("%s (reverse %v): out max|Δ| = %g (scale %g)", tc.reason, rev, d, scale)
			}
			if d := maxAbsDiff(vecLast, refLast); d > 1e-5 {
				t.Errorf("%s (reverse %v): last_state max|Δ| = %g", tc.reason, rev, d)
			}
		}
	}
}

// TestVectorSoftplusSiLU compares the AVX2 softplus and SiLU gate with the
// Go functions over the whole float32 range that matters (and beyond).
func TestVectorSoftplusSiLU(t *testing.T) {
	if !linalg.UseAVX2 {
		t.Skip("skipping: no AVX2/FMA on this CPU")
	}
	var xs []float32
	for x := float32(-120); x <= 120; x += 0.01 {
		xs = append(xs, x)
	}
	xs = append(xs, 0, -0, 19.999, 20, 20.001, 1e-30, -1e-30, 88.7, -88.7, -87.3, 87.3, 1e30, -1e30)
	for len(xs)%8 != 0 {
		xs = append(xs, 1)
	}
	n := len(xs)
	bias := make([]float32, n)
	for i := range bias {
		bias[i] = float32(i%5) - 2
	}
	sp := make([]float32, n)
	softplusF32AVX2(&sp[0], &xs[0], &bias[0], n)
	ys := make([]float32, n)
	for i := range ys {
		ys[i] = float32(i%7) - 3.5
	}
	gated := slices.Clone(ys)
	siluMulF32AVX2(&gated[0], &xs[0], n)
	relErr := func(got, want float32) float64 {
		if got == want {
			return 0
		}
		return math.Abs(float64(got-want)) / max(math.Abs(float64(want)), 1e-30)
	}
	worstSp, worstSi := 0.0, 0.0
	for i, x := range xs {
		wantSp := softplus(x + bias[i])
		if e := relErr(sp[i], wantSp); e > worstSp {
			worstSp = e
			if e > 5e-7 {
				t.Fatalf("softplus(%v) = %v, want %v", x+bias[i], sp[i], wantSp)
			}
		}
		wantSi := ys[i] * silu(x)
		if math.Abs(float64(wantSi)) < 1e-30 {
			// z < -88: the exp is clamped, the product stays ≈ 0
			if math.Abs(float64(gated[i])) > 1e-30 {
				t.Fatalf("%v·silu(%v) = %v, want ≈ 0", ys[i], x, gated[i])
			}
			continue
		}
		if e := relErr(gated[i], wantSi); e > worstSi {
			worstSi = e
			if e > 5e-7 {
				t.Fatalf("%v·silu(%v) = %v, want %v", ys[i], x, gated[i], wantSi)
			}
		}
	}
	t.Logf("max relative error: softplus %.3g, silu gate %.3g", worstSp, worstSi)
}
