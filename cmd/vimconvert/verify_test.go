package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
)

// verifyRun calls the CLI in-process.
func verifyRun(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// verifyModel converts the bundled vim_t_d2 checkpoint into a temp dir,
// skipping when ONNX Runtime is absent.
func verifyModel(t *testing.T) (ckpt, model string) {
	t.Helper()
	if _, err := os.Stat(runtime.DefaultLibraryPath()); err != nil {
		t.Skipf("ONNX Runtime absent (%s): run `make setup`", runtime.DefaultLibraryPath())
	}
	ckpt = repo.Fixture("vim_t_d2", "checkpoint.pth")
	model = filepath.Join(t.TempDir(), "d2.onnx")
	if code, _, stderr := verifyRun("convert", ckpt, "-o", model, "--features", "--tokens"); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, stderr)
	}
	return ckpt, model
}

func TestVerifyCommand(t *testing.T) {
	ckpt, model := verifyModel(t)
	// The NumPy-written first fixture image, flags after the positionals.
	code, stdout, stderr := verifyRun("verify", ckpt, model, "--input", "testdata/predict_vim_t_d2_x0.npy", "--json", "--precision", "float64")
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
	var res verifyResult
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
	code, stdout, stderr = verifyRun("verify", ckpt, model, "--batch", "1", "--tol", "1e-12")
	if code != 1 || !strings.Contains(stderr, "FAIL: logits max |Δ|") || !strings.Contains(stdout, "FAIL (tol 1e-12)") {
		t.Errorf("verify --tol 1e-12: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestVerifyCommandErrors(t *testing.T) {
	ckpt, model := verifyModel(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
		reason string
	}{
		{"no args", nil, 2, "want CKPT.pth and OUT.onnx", "both files are required"},
		{"swapped", []string{model, ckpt}, 1, "", "an ONNX file given as the checkpoint must be refused, not crash"},
		{"batch", []string{ckpt, model, "--batch", "0"}, 2, "--batch 0", "an empty batch"},
		{"precision", []string{ckpt, model, "--precision", "fp16"}, 2, "fp16", "the reference runs in float32 or float64"},
		{"weights", []string{ckpt, model, "--weights", "ema"}, 2, "--weights", "only model and model_ema exist"},
		{"input shape", []string{ckpt, model, "--input", "testdata/predict_f64_1x3x2x2.npy"}, 1, "has shape [1 3 2 2]", "a 2×2 image does not fit a 224 model"},
		{"input missing", []string{ckpt, model, "--input", "testdata/none.npy"}, 1, "none.npy", "the missing input is named"},
		{"model missing", []string{ckpt, filepath.Join(t.TempDir(), "x.onnx")}, 1, "ONNX model not found", "the missing model is named"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := verifyRun(append([]string{"verify"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d stderr %q, want exit %d mentioning %q (%s)", code, stderr, tc.code, tc.stderr, tc.reason)
			}
		})
	}
}
