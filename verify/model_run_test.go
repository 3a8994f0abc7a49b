package verify

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/runtime"
)

// TestAddOutput checks the one comparison of an ONNX output with the
// reference that CheckFile and verify/mambaout's CheckFile record: what is
// added to Outputs and which failures, with one line per problem.
func TestAddOutput(t *testing.T) {
	want := &Tensor{Shape: []int{2, 3}, Data: []float64{0, 1, 0, 2, 0, 0}}
	onnx := func(shape []int64, d ...float32) map[string]*runtime.Tensor {
		return map[string]*runtime.Tensor{"logits": {Shape: shape, Data: d}}
	}
	tests := []struct {
		reason   string
		got      map[string]*runtime.Tensor
		want     *Tensor
		top1     bool
		added    bool
		failures []string // substrings, one per expected failure
		top1Rows int
	}{
		{"equal logits", onnx([]int64{2, 3}, 0, 1, 0, 2, 0, 0), want, true, true, nil, 2},
		{"off by more than tol", onnx([]int64{2, 3}, 0, 1, 0, 2, 0, 0.5), want, true, true, []string{"logits max |Δ| 0.5 > tol 0.01"}, 2},
		{"top-1 flipped in one row", onnx([]int64{2, 3}, 0, 1, 0, 0, 0, 3), want, true, true,
			[]string{"logits max |Δ| 3 > tol", "top-1 differs in 1 of 2 rows"}, 2},
		{"without top-1: the flip is only a |Δ|", onnx([]int64{2, 3}, 0, 1, 0, 0, 0, 3), want, false, true, []string{"logits max |Δ| 3 > tol"}, 0},
		{"shapes differ: one line saying so", onnx([]int64{3, 2}, 0, 1, 0, 2, 0, 0), want, true, true, []string{"logits: reference shape [2 3], onnx shape [3 2]"}, 0},
		{"no such output", map[string]*runtime.Tensor{}, want, true, false, nil, 0},
		{"no reference", onnx([]int64{2, 3}, 0, 1, 0, 2, 0, 0), nil, true, false, nil, 0},
	}
	for _, tc := range tests {
		r := &FileReport{Tol: 0.01}
		if got := r.AddOutput(tc.got, "logits", tc.want, tc.top1); got != tc.added {
			t.Errorf("%s: AddOutput = %v, want %v", tc.reason, got, tc.added)
		}
		if n := len(r.Outputs); tc.added && (n != 1 || r.Outputs[0].Name != "logits" || r.Outputs[0].Report.Top1Rows != tc.top1Rows) || !tc.added && n != 0 {
			t.Errorf("%s: Outputs = %+v, want one logits entry with %d top-1 rows (added %v)", tc.reason, r.Outputs, tc.top1Rows, tc.added)
		}
		if len(r.Failures) != len(tc.failures) || !slices.EqualFunc(r.Failures, tc.failures, strings.Contains) {
			t.Errorf("%s: Failures = %q, want lines containing %q", tc.reason, r.Failures, tc.failures)
		}
	}
}

// TestNewFileReport checks the start shared by CheckFile and
// verify/mambaout's CheckFile: no Input function is refused, a nil Log
// becomes io.Discard and the report names what is checked, and how.
func TestNewFileReport(t *testing.T) {
	if _, err := NewFileReport("c.pth", "m.onnx", &FileOptions{}); err == nil || !strings.Contains(err.Error(), "no Input function") {
		t.Errorf("no Input: err = %v, want one naming the missing Input function", err)
	}
	opts := FileOptions{Tol: 1e-3, Precision: Float64, Weights: "model_ema",
		Input: func(convert.Config, int) ([]float32, [4]int, string, error) { return nil, [4]int{}, "", nil }}
	r, err := NewFileReport("c.pth", "m.onnx", &opts)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Log != io.Discard {
		t.Errorf("Log = %v, want io.Discard", opts.Log)
	}
	if r.Checkpoint != "c.pth" || r.Model != "m.onnx" || r.Tol != 1e-3 || r.Precision != "float64" || r.Weights != "model_ema" || r.Pass || len(r.Outputs) != 0 {
		t.Errorf("report = %+v", r)
	}
}
