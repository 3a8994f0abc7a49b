package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
)

// noHeadInput writes a [2, 3, 8, 8] float32 batch for the synthetic
// checkpoints (img 8).
func noHeadInput(t *testing.T, dir string) string {
	t.Helper()
	x := make([]float32, 2*3*8*8)
	for i := range x {
		x[i] = float32(i%17)/8 - 1
	}
	p := filepath.Join(dir, "x.npy")
	if err := npy.WriteFileFloat32(p, []int{2, 3, 8, 8}, x); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPredictOutputCheckedFirst: a bad --output is refused before the
// input is read or anything runs, and an input is never overwritten. The
// ONNX hook fails the test if it is reached.
func TestPredictOutputCheckedFirst(t *testing.T) {
	saved := predictONNX
	predictONNX = func(string, *runtime.Tensor, bool, int, io.Writer) ([]float32, []int, string, error) {
		t.Error("inference ran although the output is bad")
		return nil, nil, "", os.ErrInvalid
	}
	t.Cleanup(func() { predictONNX = saved })
	dir := t.TempDir()
	x := noHeadInput(t, dir)
	xData, _ := os.ReadFile(x)
	ckptCopy := filepath.Join(dir, "ck.pth")
	data, err := os.ReadFile(repo.Path("fixtures", "synthetic", "num_classes0.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ckptCopy, data, 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m.onnx")
	if err := os.WriteFile(model, []byte("model bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.npy")
	if err := os.Symlink(x, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		reason string
		args   []string
		want   string
	}{
		{"--output is --input (ONNX)", []string{"--model", model, "--input", x, "--output", x}, "is the input " + x},
		{"--output is --input (checkpoint)", []string{"--checkpoint", ckptCopy, "--input", x, "--output", x}, "is the input " + x},
		{"--output links to --input", []string{"--model", model, "--input", x, "--output", link}, "is the input " + x},
		{"--output is the model", []string{"--model", model, "--input", x, "--output", model}, "is the input " + model},
		{"--output is the checkpoint", []string{"--checkpoint", ckptCopy, "--input", x, "--output", ckptCopy}, "is the input " + ckptCopy},
		{"--output is a directory", []string{"--model", model, "--input", x, "--output", dir}, "is a directory"},
		{"--output in a missing directory", []string{"--model", model, "--input", x, "--output", filepath.Join(dir, "no", "y.npy")}, "output directory"},
	}
	for _, tc := range tests {
		code, stdout, stderr := runCLI(t, append([]string{"predict"}, tc.args...)...)
		if code != 1 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 mentioning %q", tc.reason, code, stdout, stderr, tc.want)
		}
	}
	if got, _ := os.ReadFile(x); !bytes.Equal(got, xData) {
		t.Error("the input .npy was modified")
	}
	if got, _ := os.ReadFile(ckptCopy); !bytes.Equal(got, data) {
		t.Error("the checkpoint was modified")
	}
	if got, _ := os.ReadFile(model); string(got) != "model bytes" {
		t.Error("the model was modified")
	}
}

// TestPredictCheckpointNoHead: a checkpoint without a head (num_classes 0,
// head = Identity) outputs its features; predict writes them with a note,
// the same as with --features.
func TestPredictCheckpointNoHead(t *testing.T) {
	dir := t.TempDir()
	x := noHeadInput(t, dir)
	ckpt := repo.Path("fixtures", "synthetic", "num_classes0.pth")
	plain, feats := filepath.Join(dir, "plain.npy"), filepath.Join(dir, "feats.npy")
	code, stdout, stderr := runCLI(t, "predict", "--checkpoint", ckpt, "--input", x, "--output", plain)
	if code != 0 || !strings.Contains(stderr, "no classification head (num_classes 0): writing its features") ||
		!strings.Contains(stdout, "features [2 16]") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "predict", "--checkpoint", ckpt, "--input", x, "--output", feats, "--features"); code != 0 ||
		strings.Contains(stderr, "note:") {
		t.Fatalf("--features: exit %d, stderr %q (no note expected when asked)", code, stderr)
	}
	a, b := readNpy(t, plain), readNpy(t, feats)
	if !slices.Equal(a.Shape, []int{2, 16}) || !slices.Equal(a.F32, b.F32) {
		t.Fatalf("without --features: %v, with: %v; want the same [2 16] features", a.Shape, b.Shape)
	}
}

// TestNoHeadModel converts the num_classes-0 checkpoint (an ONNX model
// whose only output is features) and checks that predict --model writes
// the reference's features and that verify compares them.
func TestNoHeadModel(t *testing.T) {
	if _, err := os.Stat(runtime.DefaultLibraryPath()); err != nil {
		t.Skipf("ONNX Runtime absent (%s): run `make setup`", runtime.DefaultLibraryPath())
	}
	dir := t.TempDir()
	x := noHeadInput(t, dir)
	ckpt := repo.Path("fixtures", "synthetic", "num_classes0.pth")
	model := filepath.Join(dir, "m.onnx")
	if code, _, stderr := runCLI(t, "convert", ckpt, "-o", model); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, stderr)
	}
	ref, got := filepath.Join(dir, "ref.npy"), filepath.Join(dir, "got.npy")
	if code, _, stderr := runCLI(t, "predict", "--checkpoint", ckpt, "--input", x, "--output", ref, "--features"); code != 0 {
		t.Fatalf("predict --checkpoint: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "predict", "--model", model, "--input", x, "--output", got)
	if code != 0 || !strings.Contains(stderr, "no classification head (num_classes 0): writing its features") ||
		!strings.Contains(stdout, "features [2 16]") {
		t.Fatalf("predict --model: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	a, b := readNpy(t, ref), readNpy(t, got)
	if !slices.Equal(b.Shape, []int{2, 16}) {
		t.Fatalf("predict --model wrote %v, want [2 16]", b.Shape)
	}
	if d := maxAbs(a.F32, b.F32); d > 1e-4 {
		t.Fatalf("predict --model features differ from the reference by %.3g", d)
	}

	code, stdout, stderr = runCLI(t, "verify", ckpt, model, "--json")
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
	var res verify.FileReport
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, stdout)
	}
	if !res.Pass || len(res.Outputs) != 1 || res.Outputs[0].Name != "features" || len(res.Notes) != 1 ||
		!strings.Contains(res.Notes[0], "num_classes 0") {
		t.Fatalf("verify: pass %v outputs %+v notes %q; want features compared, with a note", res.Pass, res.Outputs, res.Notes)
	}
	if r := res.Outputs[0].Report; r.N != 32 || r.MaxAbs > 1e-4 || r.Top1Rows != 0 {
		t.Fatalf("features report: %s", r)
	}
	// The features are what --tol applies to: a tolerance below the fp32
	// noise fails (the compare is real, not skipped).
	code, stdout, stderr = runCLI(t, "verify", ckpt, model, "--tol", "0")
	if res.Outputs[0].Report.MaxAbs > 0 {
		if code != 1 || !strings.Contains(stderr, "FAIL: features max |Δ|") {
			t.Fatalf("verify --tol 0: exit %d\n%s%s", code, stdout, stderr)
		}
	}
	if !strings.Contains(stdout, "note       the checkpoint has no classification head") {
		t.Errorf("verify text output lacks the note:\n%s", stdout)
	}
}

// TestBenchKeepProtectsTheModel: with --keep DIR, a generated model whose
// name is the benchmarked model's is refused, not written over it. The model
// has the LinearAttention lowering, so bench must build its own plugin
// variant (img8_plugin.onnx) rather than time the given file.
func TestBenchKeepProtectsTheModel(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "img8_plugin.onnx")
	if code, _, stderr := runCLI(t, "convert", repo.Path("fixtures", "synthetic", "num_classes0.pth"), "--scan", "linear-attention", "-o", model); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, stderr)
	}
	before, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "bench", "--keep", dir, model, "--runs", "1", "--rounds", "1", "--warmup", "0")
	if code != 1 || !strings.Contains(stderr, "is the input "+model) {
		t.Fatalf("exit %d, stderr %q; want exit 1 refusing to overwrite the model", code, stderr)
	}
	if after, _ := os.ReadFile(model); !bytes.Equal(after, before) {
		t.Fatal("bench --keep overwrote the benchmarked model")
	}
}

// readNpy reads the .npy file at path; an error fails the test.
func readNpy(t *testing.T, path string) *npy.Array {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
