package verify

import (
	"fmt"
	"path/filepath"
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
		{y, "logits", "", "", "applies to a torch .pth dict only", "a key on a .npy"},
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
