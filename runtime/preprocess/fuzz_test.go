package preprocess

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"testing"

	"github.com/vimconvert/vimconvert/internal/testutil"
	"golang.org/x/image/bmp"
)

// fuzzSeeds are small files of every format (7x5 and smaller, so that each run is fast).
func fuzzSeeds(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	for _, name := range []string{"testdata/images/tiny_7x5.png", "testdata/images/tiny_7x5.jpg", "testdata/images/one_pixel.png", "testdata/bad/truncated.jpg",
		"testdata/images/bmp_rle4.bmp", "testdata/images/bmp_rle8.bmp", "testdata/images/bmp_16_565_bitfields.bmp", "testdata/images/bmp_os2_8bit.bmp"} {
		data := testutil.ReadFile(f, name)
		seeds = append(seeds, data)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 5, 3), color.Palette{color.RGBA{1, 2, 3, 255}, color.RGBA{200, 100, 50, 255}})
	pal.Pix[4] = 1
	var g, b, p bytes.Buffer
	if err := gif.Encode(&g, pal, nil); err != nil {
		f.Fatal(err)
	}
	if err := bmp.Encode(&b, pal); err != nil {
		f.Fatal(err)
	}
	if err := png.Encode(&p, image.NewGray16(image.Rect(0, 0, 3, 2))); err != nil {
		f.Fatal(err)
	}
	return append(seeds, g.Bytes(), b.Bytes(), p.Bytes())
}

// FuzzDecode: any input either decodes to a consistent RGB8 that the resize and crop
// accept, or fails with an error; never a panic, never an image with an error.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	recipe, err := ImageNetRecipe(8, 0.875) // resize to 9, crop 8: cheap for any image size
	if err != nil {
		f.Fatal(err)
	}
	dec := Decoder{MaxPixels: 1 << 16, MaxBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := dec.DecodeBytes(data, "fuzz")
		if err != nil {
			if img != nil {
				t.Fatalf("image and error %v", err)
			}
			return
		}
		if img.Width <= 0 || img.Height <= 0 || int64(img.Width)*int64(img.Height) > dec.MaxPixels || len(img.Pix) != 3*img.Width*img.Height {
			t.Fatalf("inconsistent image %dx%d with %d bytes", img.Width, img.Height, len(img.Pix))
		}
		x, err := recipe.Tensor(img)
		if err != nil || len(x) != recipe.TensorLen() {
			t.Fatalf("Tensor of a decoded %dx%d image: %d values, %v", img.Width, img.Height, len(x), err)
		}
	})
}
