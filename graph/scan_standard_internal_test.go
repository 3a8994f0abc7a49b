package graph

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/internal/benchgraph"
	"github.com/vimconvert/vimconvert/runtime"
)

// withLowering registers lower under a temporary name for the duration of
// the test and returns the name.
func withLowering(t testing.TB, lower lowerFunc) ScanLowering {
	const name = "test-only-standard-form"
	scanLowerings[name] = lower
	t.Cleanup(func() { delete(scanLowerings, name) })
	return name
}

// TestStandardFormsAgree runs every standard-op formulation of one
// bidirectional scan in ONNX Runtime (no plugin) on the same random inputs
// and compares it with formStepBody, the form that the exported test checks
// against the float64 reference scan. Segment counts that do not divide L
// (padding) and exceed it (segments of padding only) are included.
func TestStandardFormsAgree(t *testing.T) {
	cases := []struct {
		reason           string
		form             standardForm
		segments         int64
		batch, L, din, n int
	}{
		{"precomputed dA and dBu", formPrecomputed, 0, 2, 37, 24, 16},
		{"segmented, K divides L", formSegmented, 4, 2, 36, 24, 16},
		{"segmented, padded last segment", formSegmented, 8, 2, 37, 24, 16},
		{"segmented, more segments than tokens", formSegmented, 8, 1, 3, 8, 16},
		{"segmented, Vim-T shapes", formSegmented, 16, 1, 197, 384, 16},
		{"unrolled 1 token per iteration", formUnrolled, 1, 2, 37, 24, 16},
		{"unrolled 4, padded last group", formUnrolled, 4, 2, 37, 24, 16},
		{"unrolled 4, Vim-T shapes", formUnrolled, 4, 1, 197, 384, 16},
	}
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			in := randomScanInputs(c.batch, c.L, c.din, c.n, uint64(c.L))
			run := func(form standardForm, k int64) []float32 {
				name := withLowering(t, func(b *builder, a scanArgs) (string, error) { return b.standardScanForm(a, form, k) })
				mp, err := benchgraph.ScanOnly(c.L, c.din, c.n, string(name))
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(t.TempDir(), "scan.onnx")
				if err := WriteFile(mp, p); err != nil {
					t.Fatal(err)
				}
				s, err := runtime.NewSession(p, runtime.Options{NoPlugin: true})
				if err != nil {
					t.Skipf("ONNX Runtime: %v", err)
				}
				defer s.Destroy()
				out, err := s.Run(in)
				if err != nil {
					t.Fatal(err)
				}
				return out[benchgraph.OutputName].Data
			}
			want, got := run(formStepBody, 0), run(c.form, c.segments)
			var d float64
			for i := range want {
				e := math.Abs(float64(got[i]) - float64(want[i]))
				if math.IsNaN(e) {
					e = math.Inf(1)
				}
				d = max(d, e)
			}
			t.Logf("max|d| vs step-body form = %.3g", d)
			if d > 1e-5 {
				t.Errorf("max|d| = %.3g > 1e-5", d)
			}
		})
	}
}
