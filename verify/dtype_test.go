package verify_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/verify"
)

// TestCheckFile16Bit checks how CheckFile treats a float16 model: with
// TolByDType the 16-bit tolerance applies and the report says so; with a
// tolerance the caller chose, it is kept (and the float32 bound fails);
// per-layer comparison is refused.
func TestCheckFile16Bit(t *testing.T) {
	ckpt := "../fixtures/vim_t_d2/checkpoint.pth"
	model := filepath.Join(t.TempDir(), "vim_t_d2_f16.onnx")
	if _, err := graph.ConvertFile(ckpt, model, graph.ConvertOptions{Build: graph.Options{DType: graph.DTypeFloat16}}); err != nil {
		t.Fatal(err)
	}
	noise := verify.NoiseInput(2, 1, 2)
	tests := []struct {
		reason     string
		byDType    bool
		perLayer   bool
		wantTol    float64
		wantPass   bool
		wantErr    string
		wantInNote string
	}{
		{"default tolerance follows the model's dtype", true, false, 1e-2, true, "", "float16 model: tolerance 0.01"},
		{"a tolerance the caller chose is kept", false, false, 1e-4, false, "", ""},
		{"per-layer needs float32 initializers", true, true, 0, false, "per-layer comparison is implemented for float32 models only", ""},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			rep, err := verify.CheckFile(ckpt, model, verify.FileOptions{
				Weights: convert.WeightsModel, Input: noise, Tol: 1e-4, TolByDType: tc.byDType,
				PerLayer: tc.perLayer, Precision: verify.Float32,
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.DType != string(graph.DTypeFloat16) || rep.Tol != tc.wantTol || rep.Pass != tc.wantPass {
				t.Errorf("dtype %q tol %g pass %v, want float16 %g %v (%v)", rep.DType, rep.Tol, rep.Pass, tc.wantTol, tc.wantPass, rep.Failure())
			}
			if got := strings.Join(rep.Notes, "\n"); !strings.Contains(got, tc.wantInNote) || (tc.wantInNote == "" && strings.Contains(got, "tolerance")) {
				t.Errorf("notes %q, want one containing %q", got, tc.wantInNote)
			}
		})
	}
}
