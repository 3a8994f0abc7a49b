package preprocess

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadBatch(t *testing.T) {
	r, err := ImageNetRecipe(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range []string{"photo_rocket.jpg", "png_palette.png", "tiny_7x5.jpg", "gif_palette_trns.gif", "jpeg_cmyk.jpg"} {
		paths = append(paths, filepath.Join("testdata/images", f))
	}
	b, err := LoadBatch(r, paths, 3)
	if err != nil {
		t.Fatal(err)
	}
	x, err := b.NCHW()
	if err != nil {
		t.Fatal(err)
	}
	u, err := b.NHWC()
	if err != nil {
		t.Fatal(err)
	}
	per := r.TensorLen()
	if len(x) != len(paths)*per || len(u) != len(paths)*per {
		t.Fatalf("NCHW %d, NHWC %d values; want %d each", len(x), len(u), len(paths)*per)
	}
	// Each slot is what the single-image path gives, in path order.
	for i, p := range paths {
		want, err := r.FileTensor(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(x[i*per:(i+1)*per], want) {
			t.Errorf("batch slot %d (%s) differs from FileTensor", i, p)
		}
		img, _ := DecodeFile(p)
		crop, _ := r.ResizeCrop(img)
		if !slices.Equal(u[i*per:(i+1)*per], crop.Pix) {
			t.Errorf("NHWC slot %d (%s) differs from ResizeCrop", i, p)
		}
	}
	bad := append(slices.Clone(paths), "testdata/bad/truncated_half.jpg", "testdata/bad/empty.png")
	if b, err := LoadBatch(r, bad, 2); err == nil || b != nil || !strings.Contains(err.Error(), "truncated_half.jpg") {
		t.Errorf("batch with bad files: %v, %v; want the first bad file's error", b, err)
	}
	if _, err := LoadBatch(r, nil, 1); err == nil {
		t.Error("empty batch accepted")
	}
	b.Crops[1] = &RGB8{Width: 2, Height: 2, Pix: make([]uint8, 12)}
	if _, err := b.NCHW(); err == nil || !strings.Contains(err.Error(), "batch item 1") {
		t.Errorf("NCHW with a wrong-size crop: %v", err)
	}
	if _, err := b.NHWC(); err == nil || !strings.Contains(err.Error(), "batch item 1") {
		t.Errorf("NHWC with a wrong-size crop: %v", err)
	}
}
