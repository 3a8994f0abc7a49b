package npy

import (
	"archive/zip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeNPZ writes an archive of raw members (name -> stored bytes); a
// member with a declared size (inflated > 0) is written raw as deflated
// data claiming that size.
func writeNPZ(t *testing.T, members map[string][]byte, inflated uint64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.npz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for name, b := range members {
		var w interface{ Write([]byte) (int, error) }
		if inflated > 0 {
			w, err = zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CompressedSize64: uint64(len(b)), UncompressedSize64: inflated})
		} else {
			w, err = zw.Create(name)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestArchive(t *testing.T) {
	good, err := os.ReadFile("testdata/f32_2x3x4.npy")
	if err != nil {
		t.Fatal(err)
	}
	p := writeNPZ(t, map[string][]byte{"x.npy": good, "arr_0.npy": good}, 0)
	a, err := OpenArchive(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !slices.Equal(a.Names(), []string{"arr_0", "x"}) {
		t.Errorf("names %v", a.Names())
	}
	if x, err := a.Read("x"); err != nil || !slices.Equal(x.Shape, []int{2, 3, 4}) || x.F32[23] != float32(wantBase()[23]) {
		t.Errorf("x: %v %v", x, err)
	}
	if _, err := a.Read("y"); err == nil || !strings.Contains(err.Error(), "no array \"y\"") {
		t.Errorf("missing member: %v", err)
	}
	// Refused archives, each naming the file.
	for _, tc := range []struct {
		name, want string
		path       string
	}{
		{"not a .npy member", "is not a .npy array", writeNPZ(t, map[string][]byte{"x.txt": good}, 0)},
		{"not a zip", "not a .npz (zip) archive", "testdata/f32_2x3x4.npy"},
	} {
		if _, err := OpenArchive(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestArchiveBomb: a member claiming far more bytes than its compressed
// data can plausibly inflate to is refused before it is decompressed.
func TestArchiveBomb(t *testing.T) {
	p := writeNPZ(t, map[string][]byte{"x.npy": make([]byte, 1000)}, 1<<34)
	a, err := OpenArchive(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Read("x"); err == nil || !strings.Contains(err.Error(), "inflates from 1000 to 17179869184 bytes") {
		t.Errorf("a 16 GiB member in 1000 bytes: %v", err)
	}
}
