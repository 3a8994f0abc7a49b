package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestUint8InputModel converts vim_t_d2 with --input-format uint8-nhwc and
// checks that verify compares it with the reference on random pixels and
// on a photo (with the per-layer copy), that predict feeds it a photo's
// decoded pixels and gets the float32 model's logits for that photo (and
// the reference's on `preprocess`'s tensor of it), and that both refuse a
// float32 tensor file, naming the model's input type.
func TestUint8InputModel(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	photo := repo.Path("runtime", "preprocess", "testdata", "images", "photo_chelsea.png")
	u8, f32 := filepath.Join(dir, "u8.onnx"), filepath.Join(dir, "f32.onnx")
	for _, args := range [][]string{{"-o", u8, "--input-format", "uint8-nhwc"}, {"-o", f32}} {
		if code, _, e := runCLI(t, append([]string{"convert", ckpt}, args...)...); code != 0 {
			t.Fatalf("convert %v: exit %d: %s", args, code, e)
		}
	}
	for _, extra := range [][]string{nil, {"--input", photo, "--per-layer"}} {
		code, out, e := runCLI(t, append([]string{"verify", ckpt, u8}, extra...)...)
		if code != 0 || !strings.Contains(out, "PASS") || !strings.Contains(out, "uint8 NHWC") {
			t.Errorf("verify %v: exit %d\n%s\n%s", extra, code, out, e)
		}
	}
	logits := func(args ...string) []float32 {
		t.Helper()
		y := filepath.Join(dir, "y.npy")
		if code, _, e := runCLI(t, append(args, "--output", y)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, e)
		}
		a, err := npy.ReadFile(y)
		if err != nil {
			t.Fatal(err)
		}
		return a.F32
	}
	x := filepath.Join(dir, "x.npy")
	if code, _, e := runCLI(t, "preprocess", photo, "-o", x); code != 0 {
		t.Fatalf("preprocess: exit %d: %s", code, e)
	}
	yu8 := logits("predict", "--model", u8, "--input", photo)
	if d := maxAbs(yu8, logits("predict", "--model", f32, "--input", photo)); !(d <= 1e-6) {
		t.Errorf("photo: uint8 model vs float32 model: max |Δ| = %.3g, want ≤ 1e-6 (the same pixels, normalised in the graph or in Go)", d)
	}
	// An image is recognised by its content too: a photo named without an image
	// suffix is decoded, not read as a tensor file.
	data, err := os.ReadFile(photo)
	if err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(dir, "photo_without_suffix")
	if err := os.WriteFile(bare, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if d := maxAbs(yu8, logits("predict", "--model", u8, "--input", bare)); d != 0 {
		t.Errorf("photo without suffix: max |Δ| = %.3g from the same photo named .png, want 0", d)
	}
	if d := maxAbs(yu8, logits("predict", "--checkpoint", ckpt, "--input", x)); !(d <= 1e-4) {
		t.Errorf("photo: uint8 model vs reference on preprocess's tensor: max |Δ| = %.3g, want ≤ 1e-4", d)
	}
	for _, args := range [][]string{
		{"predict", "--model", u8, "--input", x, "--output", filepath.Join(dir, "bad.npy")},
		{"verify", ckpt, u8, "--input", x},
	} {
		code, _, e := runCLI(t, args...)
		if code != 1 || !strings.Contains(e, "uint8") || !strings.Contains(e, "input format uint8-nhwc") || !strings.Contains(e, "image file") {
			t.Errorf("%s of a float32 .npy on the uint8 model: exit %d, stderr %q (want the input type named and an image file asked for)", args[0], code, e)
		}
	}
}
