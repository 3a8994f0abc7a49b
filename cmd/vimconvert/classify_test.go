package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestClassifyPreprocessErrors checks the refusals of classify and
// preprocess: usage errors exit 2, unusable inputs exit 1 naming the
// problem, and preprocess leaves no output behind.
func TestClassifyPreprocessErrors(t *testing.T) {
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	photo := repo.Path("runtime/preprocess/testdata/images/photo_rocket.jpg")
	dir := t.TempDir()
	out := filepath.Join(dir, "x.npy")
	labels3 := filepath.Join(dir, "three.txt")
	if err := os.WriteFile(labels3, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, onnxModel := tinyONNX(t)
	tests := []struct {
		args     []string
		wantCode int
		wantMsg  string
		reason   string
	}{
		{[]string{"classify", ckpt}, 2, "at least one IMAGE", "no image"},
		{[]string{"classify", ckpt, photo, "--top", "0"}, 2, "--top", "no classes asked for"},
		{[]string{"classify", ckpt, photo, "--batch", "0"}, 2, "--batch", "empty batches"},
		{[]string{"classify", ckpt, photo, "--crop-pct", "1.5"}, 1, "crop pct 1.5", "a crop larger than the image"},
		{[]string{"classify", ckpt, photo, "--labels", labels3}, 1, "three.txt", "labels for another head"},
		{[]string{"classify", ckpt, photo, "--img-size", "450"}, 1, "450", "a size that does not fit the stride"},
		{[]string{"classify", filepath.Join(dir, "none.onnx"), photo}, 1, "none.onnx", "missing model"},
		{[]string{"classify", ckpt, dir}, 1, "holds no image files", "a directory without images"},
		{[]string{"classify", repo.Fixture("mambaout_synthetic", "training.pth"), photo, "--weights", "model_ema"}, 1, "model_ema", "a training checkpoint without EMA weights"},
		{[]string{"classify", onnxModel, photo, "--weights", "model_ema"}, 1, "checkpoint options", "a weight set for an exported model"},
		{[]string{"preprocess", photo}, 2, "-o X.npy", "no output"},
		{[]string{"preprocess", photo, "-o", out, "--crop-pct", "0"}, 2, "crop", "zero crop fraction"},
		{[]string{"preprocess", filepath.Join(dir, "none.jpg"), "-o", out}, 1, "none.jpg", "missing image"},
		{[]string{"preprocess", repo.Path("runtime/preprocess/testdata/bad/zero_0x0.png"), "-o", out}, 1, "zero_0x0.png", "a 0x0 image"},
		{[]string{"preprocess", photo, "-o", filepath.Join(dir, "nodir", "x.npy")}, 1, "nodir", "output directory missing"},
	}
	for _, tc := range tests {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.wantCode || !strings.Contains(stderr, tc.wantMsg) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d mentioning %q", tc.reason, code, stderr, tc.wantCode, tc.wantMsg)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: a failed run left %s", tc.reason, out)
		}
	}
	ema := repo.Fixture("mambaout_synthetic", "training_ema.pth")
	code, model, _ := runCLI(t, "classify", ema, photo, "--json", "--top", "3")
	codeEMA, emaOut, stderr := runCLI(t, "classify", ema, photo, "--json", "--top", "3", "--weights", "model_ema")
	if code != 0 || codeEMA != 0 || model == emaOut {
		t.Errorf("classify --weights model_ema on a MambaOut training checkpoint: exit %d/%d (%s), same output for both weight sets: %v", code, codeEMA, stderr, model == emaOut)
	}
}

// TestClassifyCheckpointSettlesGuesses: classify with a checkpoint warns
// about the loader's guesses and takes the flags their warnings name
// (--cls-token, --kwargs), which silence them; a model refuses both.
func TestClassifyCheckpointSettlesGuesses(t *testing.T) {
	img := filepath.Join(repo.Root(), "runtime", "preprocess", "testdata", "images", "photo_chelsea.png")
	for _, tc := range []struct {
		ckpt, warning string
		settle        []string
	}{
		{repo.Fixture("kwargs", "pool_none.pth"), "warning: readout assumed", []string{"--kwargs", "final_pool_type=none"}},
		{repo.Fixture("vim_t_stride8_d2", "checkpoint.pth"), "warning: cls token assumed", []string{"--cls-token", "middle"}},
	} {
		for _, settle := range [][]string{nil, tc.settle} {
			code, _, stderr := runCLI(t, append([]string{"classify", tc.ckpt, img, "--top", "1"}, settle...)...)
			if code != 0 || strings.Contains(stderr, tc.warning) != (settle == nil) {
				t.Errorf("classify %s %v: exit %d, stderr %q; want %q exactly without %v", tc.ckpt, settle, code, stderr, tc.warning, tc.settle)
			}
		}
	}
	code, _, stderr := runCLI(t, "classify", repo.Fixture("vim_t_d2", "missing.onnx"), img, "--kwargs", "if_divide_out=False")
	if code != 1 || !strings.Contains(stderr, "checkpoint options") {
		t.Errorf("classify MODEL.onnx --kwargs: exit %d, stderr %q; want the checkpoint-only refusal", code, stderr)
	}
}
