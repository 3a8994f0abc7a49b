package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
)

// verifyModel converts the bundled vim_t_d2 checkpoint into a temp dir,
// skipping when ONNX Runtime is absent.
func verifyModel(t *testing.T) (ckpt, model string) {
	t.Helper()
	if _, err := os.Stat(runtime.DefaultLibraryPath()); err != nil {
		t.Skipf("ONNX Runtime absent (%s): run `make setup`", runtime.DefaultLibraryPath())
	}
	ckpt = repo.Fixture("vim_t_d2", "checkpoint.pth")
	model = filepath.Join(t.TempDir(), "d2.onnx")
	if code, _, stderr := runCLI(t, "convert", ckpt, "-o", model, "--features", "--tokens"); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, stderr)
	}
	return ckpt, model
}

func TestVerifyCommand(t *testing.T) {
	ckpt, model := verifyModel(t)
	// The NumPy-written first fixture image, flags after the positionals.
	code, stdout, stderr := runCLI(t, "verify", ckpt, model, "--input", "testdata/predict_vim_t_d2_x0.npy", "--json", "--precision", "float64")
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
	var res verify.FileReport
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("verify --json output: %v\n%s", err, stdout)
	}
	if !res.Pass || res.Precision != "float64" || len(res.Outputs) != 3 || res.Outputs[1].Name != "features" || res.Outputs[2].Name != "tokens" {
		t.Errorf("verify result: pass %v precision %s outputs %d", res.Pass, res.Precision, len(res.Outputs))
	}
	for _, o := range res.Outputs {
		if o.Report.N == 0 || o.Report.Mismatch != "" || o.Report.MaxAbs > 1e-4 {
			t.Errorf("%s: %s", o.Name, o.Report)
		}
	}
	if res.InputShape[0] != 1 || res.Input != "testdata/predict_vim_t_d2_x0.npy" {
		t.Errorf("input %s %v, want the .npy file with batch 1", res.Input, res.InputShape)
	}

	// A tolerance below the fp32 noise fails with exit 1 and says why.
	code, stdout, stderr = runCLI(t, "verify", ckpt, model, "--batch", "1", "--tol", "1e-12")
	if code != 1 || !strings.Contains(stderr, "FAIL: logits max |Δ|") || !strings.Contains(stdout, "FAIL against the Go reference (tol 1e-12)") {
		t.Errorf("verify --tol 1e-12: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestVerifyCommandErrors(t *testing.T) {
	ckpt, model := verifyModel(t)
	tests := []refusal{
		{"no args: both files are required", nil, 2, "want CKPT.pth and OUT.onnx"},
		{"swapped: an ONNX file given as the checkpoint must be refused, not crash", []string{model, ckpt}, 1, ""},
		{"batch: an empty batch", []string{ckpt, model, "--batch", "0"}, 2, "--batch 0"},
		{"precision: the reference runs in float32 or float64", []string{ckpt, model, "--precision", "fp16"}, 2, "fp16"},
		{"weights: only model and model_ema exist", []string{ckpt, model, "--weights", "ema"}, 2, "--weights"},
		{"input shape: a 2×2 image does not fit a 224 model", []string{ckpt, model, "--input", "testdata/predict_f64_1x3x2x2.npy"}, 1, "has shape [1 3 2 2]"},
		{"input missing: the missing input is named", []string{ckpt, model, "--input", "testdata/none.npy"}, 1, "none.npy"},
		{"model missing: the missing model is named", []string{ckpt, filepath.Join(t.TempDir(), "x.onnx")}, 1, "ONNX model not found"},
	}
	checkRefusals(t, "verify", tests)
}

// TestVerifyWrongCheckpoint checks that a model verified against a
// checkpoint it was not converted from fails (exit 1) with a message about
// the mismatch, never one about flags the user did not pass, and never
// passes. It needs no ONNX Runtime: the mismatch is found before any run.
func TestVerifyWrongCheckpoint(t *testing.T) {
	dir := t.TempDir()
	d2, s8 := repo.Fixture("vim_t_d2", "checkpoint.pth"), repo.Fixture("vim_t_stride8_d2", "checkpoint.pth")
	d2Model, s8Model, d2At256 := filepath.Join(dir, "d2.onnx"), filepath.Join(dir, "s8.onnx"), filepath.Join(dir, "d2_256.onnx")
	for _, c := range [][]string{{d2, d2Model}, {s8, s8Model}, {d2, d2At256, "--img-size", "256"}} {
		if code, _, stderr := runCLI(t, append([]string{"convert", c[0], "-o", c[1]}, c[2:]...)...); code != 0 {
			t.Fatalf("convert %s: exit %d\n%s", c[0], code, stderr)
		}
	}
	tests := []struct {
		reason      string
		ckpt, model string
		want        []string
	}{
		{"stride-8 model, stride-16 checkpoint: the grids differ", d2, s8Model,
			[]string{"the model was built for img 224, stride 8 (27×27 patches)", "differs from this checkpoint's (14×14 patches) resampled to that grid", "was the model converted from this checkpoint?"}},
		{"stride-16 model, stride-8 checkpoint: loading it at the model's geometry must not pass", s8, d2Model,
			[]string{"was the model converted from this checkpoint"}},
		{"a model resampled to 256 from another checkpoint: the stride-8 grid resampled to 16×16 is not the model's pos_embed", s8, d2At256,
			[]string{"the model was built for img 256, stride 16 (16×16 patches)", "27×27", "was the model converted from this checkpoint?"}},
	}
	for _, tc := range tests {
		code, stdout, stderr := runCLI(t, "verify", tc.ckpt, tc.model, "--batch", "1")
		if code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s%s", tc.reason, code, stdout, stderr)
		}
		if strings.Contains(stdout, "PASS") {
			t.Errorf("%s: verify passed:\n%s", tc.reason, stdout)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr %q does not say %q", tc.reason, stderr, w)
			}
		}
		if strings.Contains(stderr, "--img-size") || strings.Contains(stderr, "--stride") {
			t.Errorf("%s: stderr blames flags that were not passed: %q", tc.reason, stderr)
		}
	}
}

// TestVerifyResourceLimits checks the caps on --threads and --batch: usage
// errors (exit 2) before anything is loaded or run.
func TestVerifyResourceLimits(t *testing.T) {
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	model := filepath.Join(t.TempDir(), "never-read.onnx")
	tests := []struct {
		reason string
		args   []string
		want   string
	}{
		{"ORT makes one thread per --threads: 100000 would exhaust memory", []string{"--threads", "100000"}, "--threads 100000: want 0 to"},
		{"just above the cap", []string{"--threads", fmt.Sprint(runtime.MaxThreads() + 1)}, fmt.Sprintf("want 0 to %d", runtime.MaxThreads())},
		{"negative threads", []string{"--threads", "-1"}, "--threads -1"},
		{"batch above 1024", []string{"--batch", "1025"}, "--batch 1025: want 1 to 1024"},
	}
	for _, tc := range tests {
		code, _, stderr := runCLI(t, append([]string{"verify", ckpt, model}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d stderr %q, want exit 2 mentioning %q", tc.reason, code, stderr, tc.want)
		}
	}
}

// TestVerifyResizedModel: a model converted with --img-size from this very
// checkpoint holds the same resampled pos_embed that verify computes, so it
// passes (the geometry check must not refuse it).
func TestVerifyResizedModel(t *testing.T) {
	ckpt, _ := verifyModel(t)
	model := filepath.Join(t.TempDir(), "d2_256.onnx")
	if code, _, stderr := runCLI(t, "convert", ckpt, "-o", model, "--img-size", "256"); code != 0 {
		t.Fatalf("convert --img-size 256: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "verify", ckpt, model, "--batch", "1")
	if code != 0 || !strings.Contains(stdout, "PASS") || !strings.Contains(stdout, "[1 3 256 256]") {
		t.Errorf("verify of the resized model: exit %d\n%s%s", code, stdout, stderr)
	}
}
