package torchfile

import (
	"math"
	"slices"
	"testing"

	"github.com/vimconvert/vimconvert/convert/internal/torchsave"
)

// manifest is the part of fixtures/manifest.json the reader tests read.
type manifest struct {
	Files []struct {
		Path    string `json:"path"`
		Tensors map[string]struct {
			Shape []int  `json:"shape"`
			DType string `json:"dtype"`
		} `json:"tensors"`
	} `json:"files"`
	ScanCases map[string]struct {
		File     string `json:"file"`
		OutStats struct {
			Mean   float64 `json:"mean"`
			Std    float64 `json:"std"`
			MaxAbs float64 `json:"max_abs"`
		} `json:"out_stats"`
	} `json:"scan_cases"`
}

func loadManifest(t *testing.T) *manifest { return torchsave.Manifest[manifest](t) }

// fixturePath returns the bundled copy of a manifest path, else the shared
// copy, else "".
func fixturePath(rel string) string { return torchsave.FixturePath(rel) }

// TestReadTensorFileManifest loads every tensor file the manifest lists
// and checks names, shapes and dtypes, and the float64 side channel.
func TestReadTensorFileManifest(t *testing.T) {
	m := loadManifest(t)
	seen := 0
	for _, f := range m.Files {
		if f.Tensors == nil {
			continue
		}
		p := fixturePath(f.Path)
		if p == "" {
			t.Logf("skipping %s: not bundled and no ../shared/fixtures copy", f.Path)
			continue
		}
		seen++
		got, err := ReadTensorFile(p)
		if err != nil {
			t.Errorf("%s: %v", f.Path, err)
			continue
		}
		if len(got) != len(f.Tensors) {
			t.Errorf("%s: %d tensors, manifest lists %d", f.Path, len(got), len(f.Tensors))
		}
		for name, want := range f.Tensors {
			g, ok := got[name]
			if !ok {
				t.Errorf("%s: tensor %s missing", f.Path, name)
				continue
			}
			if g.Name != name || g.DType != want.DType || !slices.Equal(g.Shape, want.Shape) || len(g.Data) != g.NumElements() {
				t.Errorf("%s: %s = %q %v %s (%d values), want %v %s", f.Path, name, g.Name, g.Shape, g.DType, len(g.Data), want.Shape, want.DType)
			}
			if (want.DType == "float64") != (g.F64 != nil) {
				t.Errorf("%s: %s: F64 set = %v for dtype %s", f.Path, name, g.F64 != nil, want.DType)
			}
			for i, v := range g.F64 {
				if g.Data[i] != float32(v) {
					t.Fatalf("%s: %s: Data[%d] = %v, want float32(F64) = %v", f.Path, name, i, g.Data[i], float32(v))
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no tensor file of the manifest was found")
	}
}

// TestReadTensorFileValues checks decoded values against statistics the
// generator stored for each scan case's output.
func TestReadTensorFileValues(t *testing.T) {
	m := loadManifest(t)
	for name, c := range m.ScanCases {
		p := fixturePath(c.File)
		if p == "" {
			continue
		}
		got, err := ReadTensorFile(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := got["out"]
		if out == nil {
			t.Fatalf("%s: no out tensor", name)
		}
		var sum, maxAbs float64
		for _, v := range out.Data {
			sum += float64(v)
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		}
		mean := sum / float64(len(out.Data))
		var ss float64
		for _, v := range out.Data {
			ss += (float64(v) - mean) * (float64(v) - mean)
		}
		std := math.Sqrt(ss / float64(len(out.Data)-1))
		if len(out.Data) == 1 {
			std = c.OutStats.Std
		}
		if math.Abs(mean-c.OutStats.Mean) > 1e-6 || math.Abs(maxAbs-c.OutStats.MaxAbs) > 1e-7 || math.Abs(std-c.OutStats.Std) > 1e-5 {
			t.Errorf("%s: out mean/std/max|.| = %g/%g/%g, manifest %g/%g/%g", name, mean, std, maxAbs, c.OutStats.Mean, c.OutStats.Std, c.OutStats.MaxAbs)
		}
	}
}
