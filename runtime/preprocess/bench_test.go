package preprocess

import (
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/internal/testutil"
)

// loopCPU runs body b.N times and reports the process CPU time per op beside the wall
// time: on a shared machine ns/op includes waiting for a core, cpu-ns/op does not.
func loopCPU(b *testing.B, body func()) {
	start := testutil.ProcessCPU(b)
	n := 0
	for b.Loop() {
		body()
		n++
	}
	b.ReportMetric(float64(testutil.ProcessCPU(b)-start)/float64(max(n, 1)), "cpu-ns/op")
}

// BenchmarkPhoto measures, per real photo, decoding alone and decoding + the Vim 224
// recipe (resize 256, crop 224, normalise): the per-image cost classify adds to a run.
func BenchmarkPhoto(b *testing.B) {
	recipe, err := ImageNetRecipe(224, VimEvalCropPct)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"photo_rocket.jpg", "jpeg_420_q90.jpg", "photo_hubble_deep_field.jpg", "photo_retina.jpg", "jpeg_progressive.jpg", "photo_chelsea.png"} {
		data := testutil.ReadFile(b, filepath.Join("testdata/images", name))
		b.Run(name+"/decode", func(b *testing.B) {
			loopCPU(b, func() {
				if _, err := (Decoder{}).DecodeBytes(data, name); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(name+"/decode+tensor", func(b *testing.B) {
			dst := make([]float32, recipe.TensorLen())
			loopCPU(b, func() {
				img, err := Decoder{}.DecodeBytes(data, name)
				if err != nil {
					b.Fatal(err)
				}
				if err := recipe.TensorInto(dst, img); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkResizeCrop measures the resize + crop alone (Vim 224 recipe) on decoded photos.
func BenchmarkResizeCrop(b *testing.B) {
	recipe, err := ImageNetRecipe(224, VimEvalCropPct)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"photo_rocket.jpg", "photo_retina.jpg"} {
		img, err := DecodeFile(filepath.Join("testdata/images", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			loopCPU(b, func() {
				if _, err := recipe.ResizeCrop(img); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
