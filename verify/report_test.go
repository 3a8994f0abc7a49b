package verify

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vimconvert/vimconvert/internal/testutil"
)

func TestReportNumbers(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name           string
		expected       []float64
		actual         []float64
		shape          []int
		maxAbs, maxRel float64
		worst          []int
		top1           [2]int // agree, rows
		nonFinite      int
		pass1e4        bool
		reason         string
	}{
		{
			name: "identical", expected: []float64{1, 2, 3, 4}, actual: []float64{1, 2, 3, 4}, shape: []int{2, 2},
			maxAbs: 0, maxRel: 0, worst: []int{0, 0}, top1: [2]int{2, 2}, pass1e4: true,
			reason: "equal tensors have zero error; the worst element defaults to the first",
		},
		{
			name: "one element off", expected: []float64{1, 2, 3, 4}, actual: []float64{1, 2, 3.5, 4}, shape: []int{2, 2},
			maxAbs: 0.5, maxRel: 0.5 / (3 + RelEps), worst: []int{1, 0}, top1: [2]int{2, 2}, pass1e4: false,
			reason: "flat index 2 is row 1, column 0; its argmax stays at column 1",
		},
		{
			name: "top1 flips", expected: []float64{0.1, 0.2, 0.3, 0.29}, actual: []float64{0.1, 0.2, 0.29, 0.3}, shape: []int{1, 4},
			maxAbs: 0.01, maxRel: 0.01 / (0.29 + RelEps), worst: []int{0, 2}, top1: [2]int{0, 1}, pass1e4: false,
			reason: "swapping the two largest logits changes the top-1; the relative error peaks where |e| is smaller",
		},
		{
			name: "within tol", expected: []float64{10, -10, 0}, actual: []float64{10.00005, -10, 0}, shape: []int{3},
			maxAbs: 5e-5, maxRel: 5e-6, worst: []int{0}, top1: [2]int{1, 1}, pass1e4: true,
			reason: "5e-5 is under the 1e-4 parity tolerance",
		},
		{
			name: "relative uses expected", expected: []float64{0, 1}, actual: []float64{1e-7, 1}, shape: nil,
			maxAbs: 1e-7, maxRel: 1, worst: []int{0}, top1: [2]int{1, 1}, pass1e4: true,
			reason: "|e|=0 gives |e-a|/(0+1e-7) = 1, the guard keeps it finite",
		},
		{
			name: "NaN in actual", expected: []float64{1, 2}, actual: []float64{1, nan}, shape: []int{2},
			maxAbs: inf, maxRel: inf, worst: []int{1}, top1: [2]int{0, 1}, nonFinite: 1, pass1e4: false,
			reason: "a NaN output must fail, never compare as 'not greater than tol'",
		},
		{
			name: "matching NaN and Inf", expected: []float64{nan, inf, 1}, actual: []float64{nan, inf, 1}, shape: []int{3},
			maxAbs: 0, maxRel: 0, worst: []int{0}, top1: [2]int{1, 1}, pass1e4: true,
			reason: "the same non-finite value on both sides is a match",
		},
		{
			name: "opposite infinities", expected: []float64{inf, 0}, actual: []float64{-inf, 0}, shape: []int{2},
			maxAbs: inf, maxRel: inf, worst: []int{0}, top1: [2]int{0, 1}, nonFinite: 1, pass1e4: false,
			reason: "+Inf vs -Inf is an infinite error",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Compare(tc.expected, tc.actual, tc.shape)
			if r.Mismatch != "" {
				t.Fatalf("unexpected mismatch %q (%s)", r.Mismatch, tc.reason)
			}
			if !reportClose(r.MaxAbs, tc.maxAbs) || !reportClose(r.MaxRel, tc.maxRel) {
				t.Errorf("max abs %g rel %g, want %g %g (%s)", r.MaxAbs, r.MaxRel, tc.maxAbs, tc.maxRel, tc.reason)
			}
			if d := cmp.Diff(tc.worst, r.WorstCoord); d != "" {
				t.Errorf("worst coord (-want +got):\n%s(%s)", d, tc.reason)
			}
			if r.Top1Agree != tc.top1[0] || r.Top1Rows != tc.top1[1] {
				t.Errorf("top-1 %d/%d, want %d/%d (%s)", r.Top1Agree, r.Top1Rows, tc.top1[0], tc.top1[1], tc.reason)
			}
			if r.NonFinite != tc.nonFinite {
				t.Errorf("non-finite %d, want %d (%s)", r.NonFinite, tc.nonFinite, tc.reason)
			}
			if got := r.Pass(1e-4); got != tc.pass1e4 {
				t.Errorf("Pass(1e-4) = %v, want %v (%s)", got, tc.pass1e4, tc.reason)
			}
			sum := 0
			for _, h := range r.Hist {
				sum += h.Count
			}
			if sum+r.NonFinite != len(tc.expected) {
				t.Errorf("histogram holds %d + %d non-finite, want %d elements", sum, r.NonFinite, len(tc.expected))
			}
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("json.Marshal: %v (%s)", err, tc.reason)
			}
		})
	}
}

func reportClose(a, b float64) bool {
	if math.IsInf(b, 0) {
		return a == b
	}
	return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b))
}

func TestReportMismatch(t *testing.T) {
	tests := []struct {
		name     string
		expected []float32
		actual   []float32
		shape    []int
		want     string
		reason   string
	}{
		{"length", []float32{1, 2}, []float32{1}, []int{2}, "expected has 2 values, actual has 1", "a truncated output"},
		{"shape", []float32{1, 2, 3}, []float32{1, 2, 3}, []int{2, 2}, "shape [2 2] holds 4 values, got 3", "the shape does not describe the data"},
		{"negative", []float32{1}, []float32{1}, []int{-1}, "negative dimension", "a symbolic dim leaked into the shape"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Compare(tc.expected, tc.actual, tc.shape)
			if !strings.Contains(r.Mismatch, tc.want) {
				t.Errorf("Mismatch = %q, want %q (%s)", r.Mismatch, tc.want, tc.reason)
			}
			if r.Pass(math.Inf(1)) || r.Top1OK() {
				t.Errorf("a mismatched report passes (%s)", tc.reason)
			}
			if !strings.Contains(r.String(), "cannot compare") {
				t.Errorf("String() = %q, want it to say the sides cannot be compared", r.String())
			}
		})
	}
}

func TestReportMixedTypesAndCosine(t *testing.T) {
	exp := []float64{1, 0, 0, 0, 1, 0}
	act := []float32{0, 1, 0, 0, 1, 0}
	r := Compare(exp, act, []int{2, 3})
	// Rows 0 differ (argmax 0 vs 1), row 1 agrees; vectors (1,0,0,0,1,0)
	// and (0,1,0,0,1,0) have cosine 1/2.
	if r.Top1Agree != 1 || r.FirstTop1Diff != 0 || r.Top1OK() {
		t.Errorf("top-1 %d/%d first diff %d", r.Top1Agree, r.Top1Rows, r.FirstTop1Diff)
	}
	if !reportClose(r.Cosine, 0.5) {
		t.Errorf("cosine %g, want 0.5", r.Cosine)
	}
	if r := Compare([]float32{0, 0}, []float32{0, 0}, nil); r.Cosine != 1 {
		t.Errorf("cosine of two zero vectors = %g, want 1", r.Cosine)
	}
	if r := Compare([]float32{0, 0}, []float32{0, 1}, nil); r.Cosine != 0 {
		t.Errorf("cosine of zero vs non-zero = %g, want 0", r.Cosine)
	}
	if r := Compare([]float32{1, 2}, []float32{-1, -2}, nil); !reportClose(r.Cosine, -1) {
		t.Errorf("cosine of opposite vectors = %g, want -1", r.Cosine)
	}
}

func TestReportHistogram(t *testing.T) {
	exp := make([]float64, 6)
	act := []float64{0, 5e-10, 3e-7, 2e-7, 0.5, 12}
	r := Compare(exp, act, nil)
	got := map[string]int{}
	for _, h := range r.Hist {
		if h.Count > 0 {
			got[binLabel(h)] = h.Count
		}
	}
	want := map[string]int{"0": 1, "(0, 1e-09)": 1, "[1e-07, 1e-06)": 2, "[1e-01, 1e+00)": 1, "[1e+01, inf)": 1}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("histogram (-want +got):\n%s", d)
	}
	s := r.String()
	for _, line := range []string{"max |e-a|   12 at [5]", "[1e-07, 1e-06)", "top-1       0/1 rows agree"} {
		if !strings.Contains(s, line) {
			t.Errorf("String() lacks %q:\n%s", line, s)
		}
	}
}

func TestReportJSON(t *testing.T) {
	r := Compare([]float32{1, 2}, []float32{1, float32(math.NaN())}, []int{2})
	b, m := testutil.JSONObject(t, r)
	if m["max_abs"] != "+Inf" || m["worst_actual"] != "NaN" || m["non_finite"] != 1.0 {
		t.Errorf("JSON fields max_abs=%v worst_actual=%v non_finite=%v", m["max_abs"], m["worst_actual"], m["non_finite"])
	}
	if m["top1_rows"] != 1.0 || m["first_top1_diff"] != 0.0 {
		t.Errorf("JSON top-1 fields: %v %v", m["top1_rows"], m["first_top1_diff"])
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("Unmarshal of Marshal output: %v", err)
	}
	// NaN != NaN: compare the text forms, which print every field.
	if back.String() != r.String() || !math.IsInf(back.MaxAbs, 1) || !math.IsNaN(back.WorstActual) || len(back.Hist) != len(r.Hist) {
		t.Errorf("JSON round trip changed the report:\n%s\nvs\n%s", back, r)
	}
	if err := json.Unmarshal([]byte(`{"max_abs":"lots"}`), &back); err == nil {
		t.Error("Unmarshal accepted the string \"lots\" as a number")
	}
}

// TestReportTop1Within: a top-1 flip is excused only when the expected row
// prefers its class to the actual pick by at most the tolerance, and
// WithoutTop1 leaves no top-1 figure behind (features, tokens).
func TestReportTop1Within(t *testing.T) {
	for _, tc := range []struct {
		reason           string
		expected, actual []float32
		tol              float64
		margin           float64
		within           bool
	}{
		{"rows agree: nothing to excuse", []float32{0, 1, 5, 3}, []float32{0, 1, 5, 3}, 0, 0, true},
		{"the expected row leads the actual pick by 0.004, inside tol 1e-2: a near-tie",
			[]float32{1.004, 1, 0, 2}, []float32{1, 1.004, 0, 2}, 1e-2, 0.004, true},
		{"the same flip with tol 1e-3: a wrong class",
			[]float32{1.004, 1, 0, 2}, []float32{1, 1.004, 0, 2}, 1e-3, 0.004, false},
		{"the largest margin over the disagreeing rows decides: row 1 leads by 1",
			[]float32{1.004, 1, 3, 2}, []float32{1, 1.004, 2, 3}, 1e-2, 1, false},
		{"a NaN row has no margin: never excused",
			[]float32{1, 0}, []float32{float32(math.NaN()), 0}, 1e9, math.Inf(1), false},
	} {
		r := Compare(tc.expected, tc.actual, []int{len(tc.expected) / 2, 2})
		if math.Abs(r.Top1DiffMargin-tc.margin) > 1e-6 && r.Top1DiffMargin != tc.margin {
			t.Errorf("%s: margin %g, want %g", tc.reason, r.Top1DiffMargin, tc.margin)
		}
		if got := r.Top1Within(tc.tol); got != tc.within {
			t.Errorf("%s: Top1Within(%g) = %v, want %v", tc.reason, tc.tol, got, tc.within)
		}
	}
	r := Compare([]float32{1.004, 1}, []float32{1, 1.004}, []int{1, 2}).WithoutTop1()
	if r.Top1Rows != 0 || r.Top1DiffMargin != 0 || r.FirstTop1Diff != -1 || !r.Top1OK() {
		t.Errorf("WithoutTop1 kept top-1 figures: %+v", r)
	}
}
