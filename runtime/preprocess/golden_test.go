package preprocess

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/npy"
)

// manifest is testdata/manifest.json, written by scripts/make-preprocess-fixtures.py
// with python3-pil + python3-torchvision.
type manifest struct {
	Mean    [3]float32 `json:"mean"`
	Std     [3]float32 `json:"std"`
	Recipes map[string]struct {
		InputSize  int     `json:"input_size"`
		CropPct    float64 `json:"crop_pct"`
		ResizeSize int     `json:"resize_size"`
	} `json:"recipes"`
	Images []struct {
		File    string `json:"file"`
		PILMode string `json:"pil_mode"`
		Width   int    `json:"width"`
		Height  int    `json:"height"`
		Results map[string]struct {
			Crop         string `json:"crop"`
			CropSHA256   string `json:"crop_sha256"`
			TensorSHA256 string `json:"tensor_sha256"`
		} `json:"results"`
	} `json:"images"`
	Bad map[string]string `json:"bad"`
}

func readManifest(t testing.TB) manifest {
	t.Helper()
	data, err := os.ReadFile("testdata/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if len(m.Images) == 0 {
		t.Fatal("manifest.json lists no images")
	}
	return m
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func float32Bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// readCropPNG reads an expected crop PIL saved as an 8-bit RGB PNG (with Go's decoder
// directly, not the one under test).
func readCropPNG(t *testing.T, path string) []uint8 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	m, ok := img.(*image.RGBA)
	if !ok {
		t.Fatalf("%s: decoded as %T, want *image.RGBA (an opaque RGB PNG)", path, img)
	}
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	out := make([]uint8, 0, 3*w*h)
	for i := 0; i < w*h; i++ {
		out = append(out, m.Pix[4*i:4*i+3]...)
	}
	return out
}

// TestNormalizeMatchesTorchvision: ToTensor + Normalize of every byte value, per
// channel, bit for bit against torchvision (testdata/normalize.npy, [3, 256]).
func TestNormalizeMatchesTorchvision(t *testing.T) {
	a, err := npy.ReadFile("testdata/normalize.npy")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Shape) != 2 || a.Shape[0] != 3 || a.Shape[1] != 256 || a.DType != "float32" {
		t.Fatalf("normalize.npy is %v %s, want [3 256] float32", a.Shape, a.DType)
	}
	for c := 0; c < 3; c++ {
		for v := 0; v < 256; v++ {
			got, want := NormalizeValue(uint8(v), ImageNetMean[c], ImageNetStd[c]), a.F32[c*256+v]
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Errorf("channel %d byte %d: got %.9g, torchvision %.9g", c, v, got, want)
			}
		}
	}
}

// TestMatchesTorchvision decodes every committed image and compares the 8-bit crop and
// the float32 tensor with what PIL + torchvision made (sha256 of both; where the crop
// is committed, the largest difference in levels and after normalisation too). It logs
// the largest |Δ| per file format and PIL mode.
func TestMatchesTorchvision(t *testing.T) {
	m := readManifest(t)
	norm, err := npy.ReadFile("testdata/normalize.npy")
	if err != nil {
		t.Fatal(err)
	}
	worst := map[string]float64{} // "format PILmode" -> max |Δ| after normalisation
	for _, im := range m.Images {
		img, err := DecodeFile(filepath.Join("testdata/images", im.File))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if img.Width != im.Width || img.Height != im.Height {
			t.Errorf("%s: decoded %dx%d, PIL %dx%d", im.File, img.Width, img.Height, im.Width, im.Height)
			continue
		}
		key := fmt.Sprintf("%-4s %s", strings.TrimPrefix(filepath.Ext(im.File), "."), im.PILMode)
		for name, want := range im.Results {
			spec := m.Recipes[name]
			r, err := ImageNetRecipe(spec.InputSize, spec.CropPct)
			if err != nil || r.ResizeShort != spec.ResizeSize || r.Mean != m.Mean || r.Std != m.Std {
				t.Fatalf("recipe %s: %+v, %v; manifest says %+v mean %v std %v", name, r, err, spec, m.Mean, m.Std)
			}
			crop, err := r.ResizeCrop(img)
			if err != nil {
				t.Fatalf("%s %s: %v", im.File, name, err)
			}
			x := make([]float32, r.TensorLen())
			if err := r.Normalize(x, crop); err != nil {
				t.Fatal(err)
			}
			cropOK := sha256Hex(crop.Pix) == want.CropSHA256
			tensorOK := sha256Hex(float32Bytes(x)) == want.TensorSHA256
			if !cropOK || !tensorOK {
				t.Errorf("%s %s: crop matches PIL: %v, tensor matches torchvision: %v", im.File, name, cropOK, tensorOK)
			}
			delta := 0.0
			if !tensorOK {
				delta = math.Inf(1) // unknown size unless the crop is committed
			}
			if want.Crop != "" {
				delta = compareCrop(t, im.File+" "+name, crop.Pix, readCropPNG(t, filepath.Join("testdata/crops", want.Crop)), x, norm.F32)
			}
			worst[key] = math.Max(worst[key], delta)
		}
	}
	keys := make([]string, 0, len(worst))
	for k := range worst {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("max |Δ| after normalisation, %s: %g", k, worst[k])
	}
}

// compareCrop returns the largest |Δ| between our tensor x and torchvision's, rebuilt
// from PIL's crop through torchvision's normalisation table, and reports level diffs.
func compareCrop(t *testing.T, what string, got, want []uint8, x, table []float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: crop has %d bytes, PIL's %d", what, len(got), len(want))
		return math.Inf(1)
	}
	n := len(got) / 3
	maxLevels, delta := 0, 0.0
	for i := range got {
		d := int(got[i]) - int(want[i])
		maxLevels = max(maxLevels, d, -d)
		c, p := i%3, i/3
		delta = math.Max(delta, math.Abs(float64(x[c*n+p])-float64(table[c*256+int(want[i])])))
	}
	if maxLevels != 0 {
		t.Errorf("%s: crop differs from PIL's by up to %d levels", what, maxLevels)
	}
	return delta
}
