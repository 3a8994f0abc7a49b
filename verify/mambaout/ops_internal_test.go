package mambaout

import (
	"math"
	"testing"
)

// TestGELUIsExact checks that gelu is the erf GELU of nn.GELU(), not the
// tanh approximation (which is 1.5e-4 off at x = 1 and would move MambaOut
// logits by 3.8e-5).
func TestGELUIsExact(t *testing.T) {
	tests := []struct {
		reason string
		x      float64
		want   float64 // x/2 (1 + erf(x/√2)), from the definition
	}{
		{"one", 1, 0.8413447460685429},
		{"negative", -2, -0.04550026389635842},
		{"zero", 0, 0},
		{"large: identity", 10, 10},
	}
	for _, tc := range tests {
		if got := gelu(tc.x); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("%s: gelu(%g) = %.17g, want %.17g", tc.reason, tc.x, got, tc.want)
		}
		if got := gelu(float32(tc.x)); math.Abs(float64(got)-tc.want) > 1e-7*math.Max(1, math.Abs(tc.want)) {
			t.Errorf("%s: float32 gelu(%g) = %g, want %g", tc.reason, tc.x, got, tc.want)
		}
	}
}
