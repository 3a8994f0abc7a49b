package graph_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/graph"
)

func TestCheckOutput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.npy")
	other := filepath.Join(dir, "other.npy")
	for _, p := range []string{in, other} {
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sym, hard := filepath.Join(dir, "sym.npy"), filepath.Join(dir, "hard.npy")
	if err := errors.Join(os.Symlink(in, sym), os.Link(in, hard)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		reason string
		out    string
		inputs []string
		want   string // "" = accepted
	}{
		{"a new file in an existing directory", filepath.Join(dir, "new.npy"), []string{in}, ""},
		{"an existing file that is no input is replaced", other, []string{in}, ""},
		{"a relative name in the working directory", "y.npy", []string{in}, ""},
		{"empty and missing inputs are skipped", filepath.Join(dir, "new.npy"), []string{"", filepath.Join(dir, "none")}, ""},
		{"the input itself", in, []string{in}, "is the input"},
		{"the input, second of several", in, []string{other + ".none", in}, "is the input"},
		{"a symbolic link to the input", sym, []string{in}, "is the input"},
		{"a hard link to the input", hard, []string{in}, "is the input"},
		{"a directory", dir, []string{in}, "is a directory; give a file name such as " + filepath.Join(dir, "y.npy")},
		{"in a missing directory", filepath.Join(dir, "no", "y.npy"), []string{in}, "output directory " + filepath.Join(dir, "no")},
		{"under a file", filepath.Join(other, "y.npy"), []string{in}, "is not a directory"},
		{"a .npy under a .pth name (read back as a torch file)", filepath.Join(dir, "y.pth"), []string{in}, "is a NumPy .npy array; name it *.npy"},
		{"a .npy under a .npz name", filepath.Join(dir, "y.npz"), []string{in}, "name it *.npy"},
		{"a .npy without extension (np.save would add one)", filepath.Join(dir, "logits"), []string{in}, "name it *.npy"},
		{"upper-case .NPY", filepath.Join(dir, "Y.NPY"), []string{in}, ""},
	}
	for _, tc := range tests {
		err := graph.CheckOutput(tc.out, "y.npy", tc.inputs...)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v, want no error", tc.reason, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.reason, err, tc.want)
		}
	}
}

// TestCheckOutputReadOnlyDir: a file in a directory the user cannot write
// is refused before any work (the write would fail only after it, on the
// temporary file). Root writes anywhere, so this runs as another user
// only (e.g. `go test -exec 'setpriv --reuid=65534 --regid=65534 --clear-groups'`).
func TestCheckOutputReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write into a read-only directory; run as another user")
	}
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if err := graph.CheckOutput(filepath.Join(dir, "y.npy"), "y.npy"); err == nil || !strings.Contains(err.Error(), "output directory "+dir+" is not writable") {
		t.Errorf("output in a read-only directory: %v", err)
	}
	if err := graph.CheckOutput(filepath.Join(filepath.Dir(dir), "y.npy"), "y.npy"); err != nil {
		t.Errorf("output in a writable directory: %v", err)
	}
}
