package verify

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/internal/repo"
)

func TestReadExpected(t *testing.T) {
	fx := repo.Fixture("vim_t_d2")
	dir := t.TempDir()
	y := filepath.Join(dir, "y.npy")
	if err := npy.WriteFileFloat32(y, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}); err != nil {
		t.Fatal(err)
	}
	x := filepath.Join(dir, "x.npy")
	if err := npy.WriteFileFloat32(x, []int{1, 3, 2, 2}, make([]float32, 12)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, key string
		output    string
		shape     string
		wantErr   string
		reason    string
	}{
		{filepath.Join(fx, "expected.pth"), "", "logits", "[2 1000]", "", "a .pth dict: logits by default"},
		{filepath.Join(fx, "expected.pth"), "features", "features", "[2 192]", "", "the features key is compared with the features output"},
		{filepath.Join(fx, "expected.pth"), "features_fp64", "features", "[2 192]", "", "any key naming features"},
		{filepath.Join(fx, "expected.pth"), "logits_model_ema", "logits", "[2 1000]", "", "another logits key"},
		{filepath.Join(fx, "expected.pth"), "embed_tokens", "", "", "want [batch, N]", "an intermediate is no output"},
		{filepath.Join(fx, "expected.pth"), "nope", "", "", `no tensor "nope"`, "a missing key"},
		{y, "", "", "[2 3]", "", "a .npy: the model's main output"},
		{y, "logits", "", "", "applies to a .npz or a torch .pth dict only", "a key on a .npy"},
		{x, "", "", "", "want [batch, N]", "an image batch is no output"},
		{filepath.Join(dir, "missing.npy"), "", "", "", "missing.npy", "a missing file is named"},
	} {
		e, err := ReadExpected(tc.path, tc.key)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want %q", tc.reason, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.reason, err)
		case e.Output != tc.output || fmtShape(e.Shape) != tc.shape:
			t.Errorf("%s: output %q shape %v, want %q %s", tc.reason, e.Output, e.Shape, tc.output, tc.shape)
		}
	}
	if _, shape, err := ReadInput(filepath.Join(fx, "input.pth")); err != nil || fmtShape(shape) != "[2 3 224 224]" {
		t.Errorf("ReadInput of the fixture's input.pth: %v %v", shape, err)
	}
	if _, _, err := ReadInput(y); err == nil || !strings.Contains(err.Error(), "want 4-D") {
		t.Errorf("ReadInput of a 2-D array: %v", err)
	}
}

func fmtShape(s []int) string { return fmt.Sprint(s) }

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		r      FileReport
		want   string
		reason string
	}{
		{FileReport{Pass: true, Tol: 1e-4}, "PASS against the Go reference (tol 0.0001)\n", "nothing assumed"},
		{FileReport{Pass: true, Tol: 1e-4, Assuming: []string{"cls middle"}}, "PASS against the Go reference (tol 0.0001), assuming:\n  - cls middle\n", "a pass that shares a guess says so"},
		{FileReport{Pass: false, Tol: 1e-4, Expected: "y.npy", Assuming: []string{"cls middle"}}, "FAIL against the Go reference and y.npy (tol 0.0001), converted assuming (which the expected outputs check too):\n  - cls middle\n", "with expected outputs the guess is checked"},
	} {
		if got := tc.r.Verdict(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.reason, got, tc.want)
		}
	}
}

// wantInput is the batch of testdata/make_inputs.py: v[i] = i*0.5 - 3,
// shape [2, 3, 4, 4] in C order.
func wantInput() []float32 {
	v := make([]float32, 96)
	for i := range v {
		v[i] = float32(i)*0.5 - 3
	}
	return v
}

// TestReadBareTensor: a file written by torch.save(tensor) (no dict) is
// read as its tensor, honouring the view's storage offset and strides, as
// --input and as --expected; a key on it is refused naming the file.
func TestReadBareTensor(t *testing.T) {
	x, shape, err := ReadInput("testdata/bare_x.pth")
	if err != nil {
		t.Fatalf("ReadInput of torch.save(tensor): %v", err)
	}
	if fmtShape(shape) != "[2 3 4 4]" || !slices.Equal(x, wantInput()) {
		t.Errorf("bare_x.pth read as %v %v, want [2 3 4 4] %v", shape, x[:4], wantInput()[:4])
	}
	e, err := ReadExpected("testdata/bare_logits.pth", "")
	if err != nil {
		t.Fatalf("ReadExpected of torch.save(tensor): %v", err)
	}
	want := make([]float32, 6) // x[:, :, 0, 0]: a strided view
	for i := range want {
		want[i] = float32(16*i)*0.5 - 3
	}
	if fmtShape(e.Shape) != "[2 3]" || !slices.Equal(e.Data, want) || e.Source != "testdata/bare_logits.pth" || e.Output != "" {
		t.Errorf("bare_logits.pth: %+v, want [2 3] %v", e, want)
	}
	if _, err := ReadExpected("testdata/bare_logits.pth", "logits"); err == nil ||
		!strings.Contains(err.Error(), "bare_logits.pth holds one bare tensor") {
		t.Errorf("--expected-key on a bare tensor: %v", err)
	}
}

// TestReadNPZ: a NumPy .npz archive (np.savez, np.savez_compressed) is
// read like a dict: x (logits) by default, its only array, or the key
// given; several arrays and none of the defaults is an error naming them.
func TestReadNPZ(t *testing.T) {
	for _, f := range []string{"x.npz", "xc.npz", "positional.npz", "golden.npz"} {
		x, shape, err := ReadInput("testdata/" + f)
		if err != nil || fmtShape(shape) != "[2 3 4 4]" || !slices.Equal(x, wantInput()) {
			t.Errorf("ReadInput(%s): shape %v err %v (values equal: %v)", f, shape, err, err == nil && slices.Equal(x, wantInput()))
		}
	}
	if _, _, err := ReadInput("testdata/two.npz"); err == nil || !strings.Contains(err.Error(), "two.npz") || !strings.Contains(err.Error(), "[a b]") {
		t.Errorf("ReadInput of an .npz holding a and b: %v (want an error naming the file and its keys)", err)
	}
	e, err := ReadExpected("testdata/golden.npz", "")
	if err != nil || e.Source != "testdata/golden.npz[logits]" || e.Output != "logits" || fmtShape(e.Shape) != "[2 3]" {
		t.Fatalf("ReadExpected(golden.npz): %+v, %v", e, err)
	}
	if e, err := ReadExpected("testdata/x.npz", "y"); err != nil || e.Data[1] != wantInput()[16] {
		t.Errorf("ReadExpected(x.npz, y): %+v, %v", e, err)
	}
	if _, err := ReadExpected("testdata/x.npz", "z"); err == nil || !strings.Contains(err.Error(), `no tensor "z" (keys: [x y])`) {
		t.Errorf("a missing key of an .npz: %v", err)
	}
	if _, _, err := ReadInput("testdata/bare_x.npz"); err == nil || !strings.Contains(err.Error(), "bare_x.npz") {
		t.Errorf("a missing .npz: %v", err)
	}
}

// TestReadInputNonFinite: an input batch holding NaN or Inf is refused
// when read, naming the file, the count and the first bad element, instead
// of running the model into NaN outputs.
func TestReadInputNonFinite(t *testing.T) {
	dir := t.TempDir()
	x := wantInput()
	x[1*48+2*16+3*4+1] = float32(math.Inf(-1))
	x[95] = float32(math.NaN())
	p := filepath.Join(dir, "bad.npy")
	if err := npy.WriteFileFloat32(p, []int{2, 3, 4, 4}, x); err != nil {
		t.Fatal(err)
	}
	_, _, err := ReadInput(p)
	if err == nil || !strings.Contains(err.Error(), "bad.npy holds 2 NaN/Inf values of 96 (the first, -Inf, at [b c h w] = [1 2 3 1])") {
		t.Errorf("ReadInput of a batch with -Inf and NaN: %v", err)
	}
}

// TestReadExpectedAmbiguous: a dict or .npz holding several arrays, none
// of them logits or features, is refused naming its keys and the flag that
// picks one.
func TestReadExpectedAmbiguous(t *testing.T) {
	_, err := ReadExpected("testdata/two.npz", "")
	if err == nil || !strings.Contains(err.Error(), `testdata/two.npz: no tensor "logits" or "features" (keys: [a b]); name the one to compare with --expected-key`) {
		t.Errorf("ReadExpected of an .npz holding a and b: %v", err)
	}
	if _, err := ReadExpected("testdata/two.npz", "b"); err == nil || !strings.Contains(err.Error(), "testdata/two.npz[b] have shape [2 3 4 4]") {
		t.Errorf("ReadExpected(two.npz, b) of a 4-D array: %v (want b read, then its shape refused)", err)
	}
}

// TestReadDictWithOtherEntries: a torch dict holding x beside entries
// that are no float tensors (int64 labels, a note, a seed) is read for x;
// only the entry chosen must be a float tensor.
func TestReadDictWithOtherEntries(t *testing.T) {
	x, shape, err := ReadInput("testdata/x_meta.pth")
	if err != nil || fmtShape(shape) != "[2 3 4 4]" || !slices.Equal(x, wantInput()) {
		t.Errorf("ReadInput(x_meta.pth): %v %v", shape, err)
	}
	if _, err := ReadExpected("testdata/x_meta.pth", "note"); err == nil || !strings.Contains(err.Error(), `x_meta.pth: entry "note" is a str, not a tensor`) {
		t.Errorf("--expected-key naming a string entry: %v", err)
	}
	if _, err := ReadExpected("testdata/x_meta.pth", "labels"); err == nil || !strings.Contains(err.Error(), "tensor labels has dtype int64") {
		t.Errorf("--expected-key naming an int64 tensor: %v", err)
	}
}
