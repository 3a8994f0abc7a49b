package npy

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// wantBase is the array written by testdata/make_npy.py: v[i] = i*0.25 - 3.
func wantBase() []float64 {
	v := make([]float64, 24)
	for i := range v {
		v[i] = float64(i)*0.25 - 3
	}
	return v
}

func TestReadNumPyFiles(t *testing.T) {
	tests := []struct {
		file   string
		dtype  string
		shape  []int
		reason string
	}{
		{"f32_2x3x4.npy", "float32", []int{2, 3, 4}, "np.save of float32, format 1.0"},
		{"f64_2x3x4.npy", "float64", []int{2, 3, 4}, "np.save of float64"},
		{"f32_v2_2x3x4.npy", "float32", []int{2, 3, 4}, "format 2.0 has a 4-byte header length"},
		{"f32_v3_2x3x4.npy", "float32", []int{2, 3, 4}, "format 3.0 (utf-8 header)"},
	}
	want := wantBase()
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			a, err := ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if a.DType != tc.dtype || !slices.Equal(a.Shape, tc.shape) {
				t.Fatalf("%s: got %s %v, want %s %v", tc.reason, a.DType, a.Shape, tc.dtype, tc.shape)
			}
			got := a.Float32()
			for i := range want {
				if got[i] != float32(want[i]) {
					t.Fatalf("%s: element %d = %v, want %v", tc.reason, i, got[i], want[i])
				}
			}
			if tc.dtype == "float64" && !slices.Equal(a.F64, want) {
				t.Fatalf("float64 data differs: %v", a.F64)
			}
		})
	}
}

// TestReadOtherLayouts: Fortran (column-major) order, big-endian bytes
// and float16, as np.save writes them (a transposed array is saved with
// fortran_order True), are read exactly into C order.
func TestReadOtherLayouts(t *testing.T) {
	base := wantBase() // [2, 3, 4] in C order
	at := func(i, j, k int) float64 { return base[i*12+j*4+k] }
	tests := []struct {
		file  string
		dtype string
		shape []int
		want  func(c []int) float64 // value at C-order index c
	}{
		{"f32_fortran_3x4.npy", "float32", []int{3, 4}, func(c []int) float64 { return at(0, c[0], c[1]) }},
		{"f64_fortran_2x3x4.npy", "float64", []int{2, 3, 4}, func(c []int) float64 { return at(c[0], c[1], c[2]) }},
		{"f32_transposed_4x3x2.npy", "float32", []int{4, 3, 2}, func(c []int) float64 { return at(c[2], c[1], c[0]) }},
		{"f32_bigendian_2x3x4.npy", "float32", []int{2, 3, 4}, func(c []int) float64 { return at(c[0], c[1], c[2]) }},
		{"f64_bigendian_fortran_2x3x4.npy", "float64", []int{2, 3, 4}, func(c []int) float64 { return at(c[0], c[1], c[2]) }},
		{"f16_2x3x4.npy", "float32", []int{2, 3, 4}, func(c []int) float64 { return at(c[0], c[1], c[2]) }},
	}
	for _, tc := range tests {
		a, err := ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if a.DType != tc.dtype || !slices.Equal(a.Shape, tc.shape) {
			t.Errorf("%s: %s %v, want %s %v", tc.file, a.DType, a.Shape, tc.dtype, tc.shape)
			continue
		}
		got := a.F64
		if got == nil {
			for _, v := range a.F32 {
				got = append(got, float64(v))
			}
		}
		c := make([]int, len(tc.shape))
		for i, v := range got {
			for k, r := len(c)-1, i; k >= 0; k-- {
				c[k], r = r%tc.shape[k], r/tc.shape[k]
			}
			if w := tc.want(c); v != w {
				t.Errorf("%s: element %v = %v, want %v", tc.file, c, v, w)
				break
			}
		}
	}
}

func TestReadScalarAndEmpty(t *testing.T) {
	a, err := ReadFile("testdata/f32_scalar.npy")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Shape) != 0 || a.NumElements() != 1 || a.F32[0] != 1.5 {
		t.Fatalf("0-d array: got shape %v data %v", a.Shape, a.F32)
	}
	e, err := ReadFile("testdata/f32_empty_0x3.npy")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Shape, []int{0, 3}) || len(e.F32) != 0 {
		t.Fatalf("empty array: got shape %v, %d values", e.Shape, len(e.F32))
	}
}

func TestReadRefusals(t *testing.T) {
	good, err := os.ReadFile("testdata/f32_2x3x4.npy")
	if err != nil {
		t.Fatal(err)
	}
	fromFile := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		data    []byte
		wantMsg string
		reason  string
	}{
		{"int32", fromFile("i32_2x3x4.npy"), "'<i4'", "integer images are not float32"},
		{"uint8", fromFile("u8_2x3x4.npy"), "'|u1'", "uint8 pixels are not normalized floats"},
		{"complex64", fromFile("c64_2x3x4.npy"), "'<c8'", "complex is no float dtype"},
		{"truncated", good[:len(good)-5], "truncated", "data shorter than the shape says"},
		{"trailing", append(slices.Clone(good), 0, 0, 0, 0), "trailing bytes", "data longer than the shape says"},
		{"magic", append([]byte("\x93NUMPZ"), good[6:]...), "bad magic", "not a .npy file"},
		{"version", append(append([]byte{}, good[:6]...), append([]byte{9, 0}, good[8:]...)...), "version 9.0", "unknown format version"},
		{"empty", nil, "magic", "empty file"},
		{"header cut", good[:40], "header", "file ends inside the header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.data))
			if err == nil {
				t.Fatalf("%s: no error", tc.reason)
			}
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("%s: error %q, want ErrFormat mentioning %q", tc.reason, err, tc.wantMsg)
			}
		})
	}
}

func TestParseHeaderErrors(t *testing.T) {
	tests := []struct {
		hdr    string
		reason string
	}{
		{"{'descr': '<f4', 'shape': (2,), }", "fortran_order missing"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", "bad dimension"},
		{"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured dtype"},
		{"['descr']", "not a dict"},
		{"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "bad bool"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), 'x': 1}", "unknown key"},
	}
	for _, tc := range tests {
		if _, _, _, err := parseHeader(tc.hdr); err == nil {
			t.Errorf("%s: header %q accepted", tc.reason, tc.hdr)
		}
	}
}

// TestWriteMatchesNumPy compares our bytes with the file np.save wrote.
func TestWriteMatchesNumPy(t *testing.T) {
	want, err := os.ReadFile("testdata/f32_2x3x4.npy")
	if err != nil {
		t.Fatal(err)
	}
	base := wantBase()
	data := make([]float32, len(base))
	for i, v := range base {
		data[i] = float32(v)
	}
	var buf bytes.Buffer
	if err := WriteFloat32(&buf, []int{2, 3, 4}, data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("WriteFloat32 output differs from np.save:\n got %q\nwant %q", buf.Bytes()[:128], want[:128])
	}
}

func TestWriteRoundTrip(t *testing.T) {
	tests := []struct {
		shape  []int
		reason string
	}{
		{[]int{2, 1000}, "logits"},
		{[]int{5}, "1-d shape needs a trailing comma in the tuple"},
		{[]int{}, "0-d array"},
		{[]int{0, 4}, "empty array"},
	}
	for _, tc := range tests {
		n := numElements(tc.shape)
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i)*1.5 - 7
		}
		path := filepath.Join(t.TempDir(), "a.npy")
		if err := WriteFileFloat32(path, tc.shape, data); err != nil {
			t.Fatalf("%s: %v", tc.reason, err)
		}
		raw, _ := os.ReadFile(path)
		if len(raw)%64 != (n*4)%64 {
			t.Errorf("%s: header not padded to 64 bytes (file %d bytes)", tc.reason, len(raw))
		}
		a, err := ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", tc.reason, err)
		}
		if !slices.Equal(a.Shape, tc.shape) || !slices.Equal(a.F32, data) {
			t.Fatalf("%s: round trip got %v %v", tc.reason, a.Shape, a.F32)
		}
	}
}

func TestWriteFileErrorsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.npy")
	if err := WriteFileFloat32(path, []int{2, 3}, make([]float32, 5)); err == nil {
		t.Fatal("shape/data mismatch accepted")
	}
	if err := WriteFileFloat32(filepath.Join(dir, "missing", "out.npy"), []int{1}, []float32{1}); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("failed writes left files behind: %v", entries)
	}
}

// TestNumPyReadsOurFile loads a file we wrote with NumPy, when NumPy is
// installed (it is not needed by the build).
func TestNumPyReadsOurFile(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skipf("skipping: %s with numpy not available: %v", py, err)
	}
	path := filepath.Join(t.TempDir(), "x.npy")
	data := []float32{1, -2.5, 3e-8, 4e20, 0, -0}
	if err := WriteFileFloat32(path, []int{2, 3}, data); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `import numpy as np, sys
a = np.load(sys.argv[1])
assert a.dtype == np.float32 and a.shape == (2, 3) and a.flags.c_contiguous, (a.dtype, a.shape)
sys.stdout.write(a.astype("<f4").tobytes().hex())`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy failed on our file: %v\n%s", err, out)
	}
	var raw bytes.Buffer
	if err := WriteFloat32(&raw, []int{6}, data); err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(raw.Bytes()[raw.Len()-4*len(data):])
	if strings.TrimSpace(string(out)) != want {
		t.Fatalf("numpy read %s, want %s", out, want)
	}
}

// FuzzRead: any byte string is either a valid array or an error, never a
// panic, and a valid array's data matches its shape.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"f32_2x3x4.npy", "f64_2x3x4.npy", "f32_v2_2x3x4.npy", "f32_scalar.npy", "f32_fortran_3x4.npy"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		if n := a.NumElements(); len(a.F32)+len(a.F64) != n {
			t.Fatalf("shape %v but %d+%d values", a.Shape, len(a.F32), len(a.F64))
		}
	})
}
