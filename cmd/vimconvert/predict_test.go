package main

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/modeltest"
	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// predictInput is fixtures/vim_t_d2/input.pth's first image, written by
// NumPy (testdata/make_predict_input.py).
const predictInput = "testdata/predict_vim_t_d2_x0.npy"

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func maxAbs(a []float32, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// TestPredictCheckpointRoundTrip runs predict on a NumPy-written image and
// compares the written .npy with the official outputs for that image.
func TestPredictCheckpointRoundTrip(t *testing.T) {
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	exp, err := convert.ReadTensorFile(repo.Fixture("vim_t_d2", "expected.pth"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		key    string
		tol    float64
		reason string
	}{
		{nil, "logits", 1e-4, "float32 reference vs official fp32 logits"},
		{[]string{"--precision", "float64"}, "logits_fp64", 1e-6, "float64 reference, rounded to float32 on output"},
		{[]string{"--features"}, "features", 1e-4, "pre-head features"},
	}
	for _, tc := range tests {
		out := filepath.Join(t.TempDir(), "y.npy")
		args := append([]string{"predict", "--checkpoint", ckpt, "--input", predictInput, "--output", out}, tc.args...)
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.reason, code, stderr)
		}
		if !strings.Contains(stdout, "wrote "+out) {
			t.Errorf("%s: stdout %q", tc.reason, stdout)
		}
		a, err := npy.ReadFile(out)
		if err != nil {
			t.Fatalf("%s: %v", tc.reason, err)
		}
		w := exp[tc.key]
		want := w.Data[:w.NumElements()/w.Shape[0]] // row 0
		wantShape := []int{1, w.Shape[1]}
		if a.DType != "float32" || !slices.Equal(a.Shape, wantShape) {
			t.Fatalf("%s: wrote %s %v, want float32 %v", tc.reason, a.DType, a.Shape, wantShape)
		}
		if d := maxAbs(a.F32, want); d > tc.tol {
			t.Errorf("%s: max|Δ| = %.3g > %g", tc.reason, d, tc.tol)
		}
	}
}

// TestPredictOutputReadableByNumPy checks the written file with np.load,
// when a NumPy interpreter is installed.
func TestPredictOutputReadableByNumPy(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skipf("skipping: %s with numpy not available: %v", py, err)
	}
	out := filepath.Join(t.TempDir(), "y.npy")
	if code, _, stderr := runCLI(t, "predict", "--checkpoint", repo.Fixture("vim_t_d2", "checkpoint.pth"),
		"--input", predictInput, "--output", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	a, err := npy.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	top := 0
	for i, v := range a.F32 {
		if v > a.F32[top] {
			top = i
		}
	}
	res, err := exec.Command(py, "-c", `import numpy as np, sys
y = np.load(sys.argv[1])
assert y.dtype == np.float32 and y.shape == (1, 1000), (y.dtype, y.shape)
print(int(y.argmax()), repr(float(y.sum())))`, out).CombinedOutput()
	if err != nil {
		t.Fatalf("np.load failed: %v\n%s", err, res)
	}
	var sum float64
	for _, v := range a.F32 {
		sum += float64(v)
	}
	fields := strings.Fields(string(res))
	if len(fields) != 2 || fields[0] != strconv.Itoa(top) {
		t.Fatalf("numpy argmax/sum %q, Go argmax %d", res, top)
	}
	if npSum, err := strconv.ParseFloat(fields[1], 64); err != nil || math.Abs(npSum-sum) > 1e-3 {
		t.Fatalf("numpy sum %q, Go sum %v", fields[1], sum)
	}
}

func TestPredictErrors(t *testing.T) {
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	dir := t.TempDir()
	small := filepath.Join(dir, "small.npy")
	if err := npy.WriteFileFloat32(small, []int{1, 3, 16, 16}, make([]float32, 3*16*16)); err != nil {
		t.Fatal(err)
	}
	rank3 := filepath.Join(dir, "rank3.npy")
	if err := npy.WriteFileFloat32(rank3, []int{3, 224, 224}, make([]float32, 3*224*224)); err != nil {
		t.Fatal(err)
	}
	chans := filepath.Join(dir, "chans.npy")
	if err := npy.WriteFileFloat32(chans, []int{1, 1, 224, 224}, make([]float32, 224*224)); err != nil {
		t.Fatal(err)
	}
	nhwc := filepath.Join(dir, "nhwc.npy")
	if err := npy.WriteFileFloat32(nhwc, []int{1, 224, 224, 3}, make([]float32, 3*224*224)); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.npy")
	os.WriteFile(junk, []byte("not a numpy file"), 0o644)
	out := filepath.Join(dir, "out.npy")
	tests := []struct {
		args     []string
		wantCode int
		wantMsg  string
		reason   string
	}{
		{[]string{"--checkpoint", ckpt, "--input", small, "--output", out}, 1, "the model takes [B, 3, 224, 224]: its pos_embed is for img_size 224 (loading the checkpoint at another img_size resamples it) (--img-size sets the size", "image size differs from the model's"},
		{[]string{"--checkpoint", ckpt, "--img-size", "448", "--input", predictInput, "--output", out}, 1, "input shape [1 3 224 224], the model takes [B, 3, 448, 448]: its pos_embed is for img_size 448 (loading the checkpoint at another img_size resamples it)", "--img-size resamples pos_embed: the input must have that size (the message must not say pos_embed is not interpolated)"},
		{[]string{"--checkpoint", ckpt, "--threads", "1", "--input", predictInput, "--output", out}, 2, "--threads applies to --model", "--threads sets ONNX Runtime's threads; the reference has none"},
		{[]string{"--model", "m.onnx", "--threads", "-1", "--input", predictInput, "--output", out}, 2, "--threads -1: want 0 to", "negative thread count"},
		{[]string{"--model", "m.onnx", "--threads", "100000", "--input", predictInput, "--output", out}, 2, "--threads 100000: want 0 to", "thread count above runtime.MaxThreads"},
		{[]string{"--checkpoint", ckpt, "--input", chans, "--output", out}, 1, "[B, 3, 224, 224]", "one channel"},
		{[]string{"--checkpoint", ckpt, "--input", rank3, "--output", out}, 1, "want 4-D", "missing batch axis"},
		{[]string{"--checkpoint", ckpt, "--input", nhwc, "--output", out}, 1, "looks channels-last (NHWC [B, H, W, 3]): the model takes NCHW, np.transpose(x, (0, 3, 1, 2))", "NHWC: not blamed on pos_embed"},
		{[]string{"--checkpoint", ckpt, "--input", "testdata/predict_f64_1x3x2x2.npy", "--output", out}, 1, "input shape [1 3 2 2], the model takes [B, 3, 224, 224]", "float64 is read (rounded to float32) as verify --input reads it; this tiny image is then refused for its size"},
		{[]string{"--checkpoint", ckpt, "--input", junk, "--output", out}, 1, "bad magic", "not a .npy"},
		{[]string{"--checkpoint", ckpt, "--input", repo.Path("runtime/preprocess/testdata/images/photo_rocket.jpg"), "--output", out}, 1, "vimconvert preprocess", "an image for the reference: say how to make a tensor of it"},
		{[]string{"--checkpoint", ckpt, "--input", filepath.Join(dir, "missing.npy"), "--output", out}, 1, "no such file", "missing input"},
		{[]string{"--checkpoint", filepath.Join(dir, "none.pth"), "--input", predictInput, "--output", out}, 1, "no such file", "missing checkpoint"},
		{[]string{"--input", predictInput, "--output", out}, 2, "exactly one of --checkpoint and --model", "no model given"},
		{[]string{"--checkpoint", ckpt, "--model", "m.onnx", "--input", predictInput, "--output", out}, 2, "exactly one", "both given"},
		{[]string{"--checkpoint", ckpt, "--output", out}, 2, "--input and --output are required", "no input"},
		{[]string{"--checkpoint", ckpt, "--input", predictInput, "--output", out, "--precision", "float16"}, 2, "float16", "bad precision"},
		{[]string{"--model", "m.onnx", "--input", predictInput, "--output", out, "--precision", "float64"}, 2, "--checkpoint only", "precision with an ONNX model"},
		{[]string{"--checkpoint", ckpt, "--input", predictInput, "--output", out, "extra"}, 2, "unexpected arguments", "stray positional argument"},
		{[]string{"--checkpoint", ckpt, "--input", predictInput, "--output", out, "--weights", "ema"}, 1, "weight set", "unknown weight set"},
		{[]string{"--checkpoint", ckpt, "--input", predictInput, "--output", filepath.Join(dir, "nodir", "y.npy")}, 1, "nodir", "output directory missing"},
	}
	for _, tc := range tests {
		code, _, stderr := runCLI(t, append([]string{"predict"}, tc.args...)...)
		if code != tc.wantCode || !strings.Contains(stderr, tc.wantMsg) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d mentioning %q", tc.reason, code, stderr, tc.wantCode, tc.wantMsg)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: a failed run left %s", tc.reason, out)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// TestPredictModelWithoutRuntime: --model needs the ONNX Runtime hook; a
// build without it (predictONNX nil) says so.
func TestPredictModelWithoutRuntime(t *testing.T) {
	saved := predictONNX
	predictONNX = nil
	t.Cleanup(func() { predictONNX = saved })
	out := filepath.Join(t.TempDir(), "y.npy")
	code, _, stderr := runCLI(t, "predict", "--model", "m.onnx", "--input", predictInput, "--output", out)
	if code != 1 || !strings.Contains(stderr, "no ONNX Runtime support") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestPredictCheckpointWarns: predict --checkpoint runs the reference with
// the guesses convert warns about, so it prints the same warning lines: a
// {'model': sd} checkpoint without args has its cls placement guessed.
func TestPredictCheckpointWarns(t *testing.T) {
	dir := repo.Fixture("vim_t_stride8_d2")
	out := filepath.Join(t.TempDir(), "y.npy")
	args := []string{"predict", "--checkpoint", filepath.Join(dir, "checkpoint.pth"), "--input", filepath.Join(dir, "input.pth"), "--output", out}
	code, _, stderr := runCLI(t, args...)
	if code != 0 || !strings.Contains(stderr, "warning: "+convert.ClsGuessWarning+"\n") {
		t.Errorf("predict on a checkpoint without args: exit %d, stderr %q; want the cls guess warning", code, stderr)
	}
	code, _, stderr = runCLI(t, append(args, "--cls-token", "middle")...)
	if code != 0 || strings.Contains(stderr, "warning:") {
		t.Errorf("predict --cls-token middle: exit %d, stderr %q; want no warning", code, stderr)
	}
}

// kwargsCases are the official-code checkpoints of fixtures/kwargs, each
// built with a VisionMamba argument the weights cannot show, and the
// --kwargs that states it.
var kwargsCases = []struct{ name, kwargs string }{
	{"pool_none", "final_pool_type=none"},
	{"pool_max", "final_pool_type=max"},
	{"no_divide_out", "if_divide_out=False"},
	{"eps_1e-2", "norm_epsilon=1e-2"},
}

// TestPredictKwargs: predict --checkpoint with --kwargs reproduces the
// official logits of each fixtures/kwargs checkpoint, and without it
// (the registry defaults) it does not: the fixtures can tell.
func TestPredictKwargs(t *testing.T) {
	for _, tc := range kwargsCases {
		ckpt, io := repo.Fixture("kwargs", tc.name+".pth"), repo.Fixture("kwargs", tc.name+"_io.pth")
		exp, err := convert.ReadTensorFile(io)
		if err != nil {
			t.Fatal(err)
		}
		for _, kw := range [][]string{nil, {"--kwargs", tc.kwargs}} {
			out := filepath.Join(t.TempDir(), "y.npy")
			code, _, stderr := runCLI(t, append([]string{"predict", "--checkpoint", ckpt, "--input", io, "--output", out}, kw...)...)
			if code != 0 {
				t.Fatalf("%s %v: exit %d\n%s", tc.name, kw, code, stderr)
			}
			got, err := npy.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			d := maxAbs(got.Float32(), exp["logits"].Data)
			if ok := d <= 1e-4; ok != (kw != nil) {
				t.Errorf("%s %v: max |Δ| %.3g from the official logits; want ≤ 1e-4 exactly with --kwargs %s", tc.name, kw, d, tc.kwargs)
			}
			if strings.HasPrefix(tc.name, "pool_") && strings.Contains(stderr, "warning: readout assumed") != (kw == nil) {
				t.Errorf("%s %v: stderr %q: a readout warning exactly without --kwargs", tc.name, kw, stderr)
			}
		}
	}
}

// TestPredictChannelsLast: a channels-last (NHWC) batch is named as such,
// with the transpose that fixes it, by predict --model (a fixed-size and a
// dynamic-size Vim model) and verify --input, not reported as a bare
// dimension or image-size mismatch.
func TestPredictChannelsLast(t *testing.T) {
	needORT(t)
	m, fixed := tinyONNX(t)
	dynamic := modeltest.File(t, m, graph.Options{DynamicSize: true})
	dir := t.TempDir()
	nhwc := filepath.Join(dir, "nhwc.npy")
	if err := npy.WriteFileFloat32(nhwc, []int{2, 16, 16, 3}, make([]float32, 2*16*16*3)); err != nil {
		t.Fatal(err)
	}
	const want = "looks channels-last (NHWC [B, H, W, 3]): the model takes NCHW, np.transpose(x, (0, 3, 1, 2))"
	for _, model := range []string{fixed, dynamic} {
		code, _, stderr := runCLI(t, "predict", "--model", model, "--input", nhwc, "--output", filepath.Join(dir, "y.npy"))
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("predict --model %s on NHWC: exit %d, stderr %q", filepath.Base(model), code, stderr)
		}
	}
}
