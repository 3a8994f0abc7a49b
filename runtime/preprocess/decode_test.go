package preprocess

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/testutil"
)

// TestBadFiles: every file PIL refuses is refused here too, with an error that names
// the file and the problem, and no image.
func TestBadFiles(t *testing.T) {
	m := readManifest(t)
	tests := []struct {
		file, want string
		is         error
		reason     string
	}{
		{"truncated.jpg", "truncated JPEG", nil, "scikit-image's truncated photo: data ends mid-scan"},
		{"truncated_half.jpg", "truncated JPEG", nil, "half of a real photo: libjpeg would pad it with grey"},
		{"truncated_half.png", "truncated file", nil, "half of a PNG: no IEND chunk"},
		{"text.jpg", "not a JPEG, PNG, GIF or BMP file", ErrUnsupported, "a text file with an image extension"},
		{"empty.png", "empty file", nil, "zero bytes"},
		{"bomb_60000x60000.png", "60000x60000 = 3600000000 pixels, over the limit", ErrTooLarge, "header claims 3.6 Gpixels: refused before allocating"},
		{"zero_0x0.png", "png header", nil, "0x0 image"},
		{"zero_width.png", "png header", nil, "0x10 image"},
		{"png_bad_text_crc.png", "invalid checksum", nil, "a damaged CRC before the image data: PIL refuses it too"},
		{"bmp_truncated.bmp", "truncated file", nil, "half of a 16-bit BMP"},
		{"bmp_2bit.bmp", "2-bit BMP", ErrUnsupported, "PIL has no 2-bit BMP mode"},
		{"bmp_rle8_early_end.bmp", "RLE data gives 4 of the 8 pixels", nil, "end-of-bitmap before the last row: PIL says not enough image data"},
		{"bmp_header52.bmp", "BMP header of 52 bytes", ErrUnsupported, "PIL reads 12, 40, 64, 108 and 124-byte headers only"},
		{"bmp_jpeg_compression.bmp", "BMP compression 4", ErrUnsupported, "JPEG inside a BMP"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			if _, ok := m.Bad[tc.file]; !ok {
				t.Fatalf("%s is not in manifest.json's bad files", tc.file)
			}
			path := filepath.Join("testdata/bad", tc.file)
			img, err := DecodeFile(path)
			if err == nil || img != nil {
				t.Fatalf("DecodeFile(%s) = %v, %v; want an error (%s; PIL: %s)", tc.file, img, err, tc.reason, m.Bad[tc.file])
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q should name %s and say %q (%s)", err, path, tc.want, tc.reason)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not wrap %v", err, tc.is)
			}
		})
	}
}

// TestPixelLimitBeforeDecoding: the limit applies to every format from its header.
func TestPixelLimitBeforeDecoding(t *testing.T) {
	for _, file := range []string{"photo_rocket.jpg", "png_rgba.png", "gif_palette.gif", "bmp_rgb24.bmp", "jpeg_progressive.jpg"} {
		data := testutil.ReadFile(t, filepath.Join("testdata/images", file))
		img, err := Decoder{MaxPixels: 1000}.DecodeBytes(data, file)
		if !errors.Is(err, ErrTooLarge) || img != nil || !strings.Contains(err.Error(), "over the limit of 1000") {
			t.Errorf("%s with MaxPixels 1000: %v, %v; want ErrTooLarge", file, img, err)
		}
		if _, err := (Decoder{MaxBytes: int64(len(data) - 1)}).Decode(bytes.NewReader(data), file); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s with MaxBytes one short: %v; want ErrTooLarge", file, err)
		}
	}
}

// TestUnsupportedVariants: inputs whose PIL pixels this package does not reproduce are
// refused, not approximated.
func TestUnsupportedVariants(t *testing.T) {
	gifData := testutil.ReadFile(t, "testdata/images/gif_palette.gif")
	tests := []struct {
		name   string
		data   []byte
		want   string
		reason string
	}{
		{"far_frame.gif", gifFirstFrameLeft(t, gifData, 65500), "first frame ends at 65740, past any canvas", "PIL would enlarge the canvas past GIF's 16-bit sides"},
		{"riff.webp", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), "a WebP file, which vimconvert does not decode", "WebP is not decoded"},
		{"scan.tif", []byte("II*\x00\x08\x00\x00\x00"), "a TIFF file, which vimconvert does not decode", "TIFF is not decoded"},
		{"random.jpg", []byte("\x00\x01\x02\x03"), "not a JPEG, PNG, GIF or BMP", "no known signature"},
		{"jpeg_header_only.jpg", []byte{0xFF, 0xD8, 0xFF, 0xD9}, "jpeg header", "SOI then EOI: no frame"},
	}
	for _, tc := range tests {
		img, err := Decoder{}.DecodeBytes(tc.data, tc.name)
		if err == nil || img != nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s (%s): %v, %v; want an error naming it and saying %q", tc.name, tc.reason, img, err, tc.want)
		}
	}
}

// gifFirstFrameLeft moves a GIF's first frame to column left (the canvas stays).
func gifFirstFrameLeft(t *testing.T, data []byte, left int) []byte {
	t.Helper()
	out := bytes.Clone(data)
	pos := 13
	if out[10]&0x80 != 0 {
		pos += 3 << ((out[10] & 7) + 1)
	}
	for out[pos] == 0x21 {
		pos += 2
		for out[pos] != 0 {
			pos += 1 + int(out[pos])
		}
		pos++
	}
	if out[pos] != 0x2C {
		t.Fatalf("no image descriptor at %d", pos)
	}
	// Image descriptor: 0x2C, left (2 bytes, little-endian), top, width, height.
	out[pos+1], out[pos+2] = byte(left), byte(left>>8)
	return out
}

// jpegWithSize returns a copy of a baseline JPEG whose frame header (SOF0) claims w x h.
func jpegWithSize(t *testing.T, file string, w, h int) []byte {
	t.Helper()
	data := testutil.ReadFile(t, file)
	i := bytes.Index(data, []byte{0xFF, 0xC0})
	if i < 0 || i+9 > len(data) {
		t.Fatalf("%s has no SOF0 marker", file)
	}
	out := bytes.Clone(data)
	// SOF0: marker, length (2), precision (1), height (2, big-endian), width (2).
	out[i+5], out[i+6], out[i+7], out[i+8] = byte(h>>8), byte(h), byte(w>>8), byte(w)
	return out
}

func TestJPEGHeaderClaims(t *testing.T) {
	const photo = "testdata/images/photo_rocket.jpg"
	tests := []struct {
		name   string
		data   []byte
		want   string
		is     error
		reason string
	}{
		{"bomb.jpg", jpegWithSize(t, photo, 60000, 60000), "60000x60000 = 3600000000 pixels", ErrTooLarge, "refused from the header"},
		{"short_scan.jpg", jpegWithSize(t, photo, 1280, 854), "corrupt JPEG", nil,
			"the scan's data ends at EOI after a quarter of the blocks; PIL would return grey for the rest"},
	}
	for _, tc := range tests {
		img, err := Decoder{}.DecodeBytes(tc.data, tc.name)
		if err == nil || img != nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s (%s): %v, %v; want an error naming it and saying %q", tc.name, tc.reason, img, err, tc.want)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: %v does not wrap %v", tc.name, err, tc.is)
		}
	}
}

// TestGray16WithTRNS: Go returns *image.NRGBA64 for a 16-bit gray PNG with tRNS, which
// PIL still opens as mode I; the golden test checks the pixels, this that the case is real.
func TestGray16WithTRNS(t *testing.T) {
	img, err := png.Decode(bytes.NewReader(testutil.ReadFile(t, "testdata/images/png_gray16_trns.png")))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.NRGBA64); !ok {
		t.Fatalf("Go decodes it as %T; the gray16 path of rgbFromGo is not exercised", img)
	}
}

// TestBombsRefusedBeforeAllocating: files whose headers claim gigapixels are refused
// having allocated (in Go) little more than the file itself.
func TestBombsRefusedBeforeAllocating(t *testing.T) {
	pngBomb := testutil.ReadFile(t, "testdata/bad/bomb_60000x60000.png")
	gifData := testutil.ReadFile(t, "testdata/images/gif_palette.gif")
	gifBomb := bytes.Clone(gifData)
	gifBomb[6], gifBomb[7], gifBomb[8], gifBomb[9] = 0xFF, 0xFF, 0xFF, 0xFF // screen 65535x65535
	bmpData := testutil.ReadFile(t, "testdata/images/bmp_rgb24.bmp")
	bmpBomb := bytes.Clone(bmpData)
	copy(bmpBomb[18:26], []byte{0x60, 0xEA, 0, 0, 0x60, 0xEA, 0, 0}) // 60000x60000, little-endian
	bombs := map[string][]byte{
		"png": pngBomb,
		"jpg": jpegWithSize(t, "testdata/images/photo_rocket.jpg", 60000, 60000),
		"gif": gifBomb,
		"bmp": bmpBomb,
	}
	for name, data := range bombs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		img, err := Decoder{}.DecodeBytes(data, name)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooLarge) || img != nil {
			t.Errorf("%s bomb: %v, %v; want ErrTooLarge", name, img, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(len(data))+1<<20 {
			t.Errorf("%s bomb: allocated %d bytes before refusing (file %d bytes)", name, grew, len(data))
		}
	}
}

// TestIsImageFile: an image is known by its signature whatever its name; a tensor file
// is not an image.
func TestIsImageFile(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		data []byte
		want bool
	}{
		"photo":    {testutil.ReadFile(t, "testdata/images/tiny_7x5.jpg"), true},
		"image.x":  {testutil.ReadFile(t, "testdata/images/bmp_rle4.bmp"), true},
		"pic.webp": {[]byte("RIFF\x00\x00\x00\x00WEBPVP8 "), true},
		"x.npy":    {[]byte("\x93NUMPY\x01\x00v\x00{'descr'"), false},
		"x.pth":    {[]byte("PK\x03\x04\x00\x00\x08\x08"), false},
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := IsImageFile(p); got != tc.want {
			t.Errorf("IsImageFile(%s) = %v, want %v", name, got, tc.want)
		}
	}
	if IsImageFile(filepath.Join(dir, "missing.jpg")) {
		t.Error("IsImageFile(missing file) = true")
	}
}
