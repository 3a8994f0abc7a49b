package preprocess

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vimconvert/vimconvert/internal/testutil"
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

// TestPixelBudget: a request waits until the pixels held by others are given back, a
// request over the total takes all of it, and waiting requests are served in order.
func TestPixelBudget(t *testing.T) {
	b := newPixelBudget(100)
	if got := b.acquire(60); got != 60 {
		t.Fatalf("acquire(60) took %d", got)
	}
	done := make(chan uint64)
	go func() { done <- b.acquire(500) }() // more than the total: waits for all 100
	select {
	case n := <-done:
		t.Fatalf("acquire(500) returned %d while 60 of 100 pixels were held", n)
	case <-time.After(50 * time.Millisecond):
	}
	b.release(60)
	if got := <-done; got != 100 {
		t.Fatalf("acquire(500) took %d, want the total 100", got)
	}
	b.release(100)
	if b.free != 100 {
		t.Errorf("free = %d after every release, want 100", b.free)
	}
}

// TestHeaderPixels: every format's size comes from its header without decoding.
func TestHeaderPixels(t *testing.T) {
	for file, want := range map[string]uint64{
		"photo_rocket.jpg": 640 * 427, "png_rgba.png": 240 * 160, "gif_frame_beyond.gif": 34 * 23,
		"bmp_os2_8bit.bmp": 41 * 29, "bmp_24_topdown.bmp": 41 * 29,
	} {
		if got := headerPixels(testutil.ReadFile(t, filepath.Join("testdata/images", file))); got != want {
			t.Errorf("headerPixels(%s) = %d, want %d", file, got, want)
		}
	}
	if got := headerPixels([]byte("not an image")); got != 0 {
		t.Errorf("headerPixels(text) = %d, want 0", got)
	}
}
