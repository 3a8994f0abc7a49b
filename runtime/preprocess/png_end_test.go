package preprocess

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
)

// TestPNGWithoutIEND: PIL 9.4 (Image.open(f).convert('RGB')) decodes a PNG that
// ends after its last chunk's data, without IEND, even with that chunk's CRC cut
// or a chunk after the image data, and refuses one that cuts a chunk's data
// ("image file is truncated" in IDAT, "Truncated File Read" after it); checked
// with Debian's python3-pil on files cut like these.
func TestPNGWithoutIEND(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 7, 5))
	for i := range src.Pix {
		src.Pix[i] = uint8(i*37 + 11)
	}
	for i := 3; i < len(src.Pix); i += 4 {
		src.Pix[i] = 255
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, src); err != nil {
		t.Fatal(err)
	}
	whole := buf.Bytes()
	body := whole[:len(whole)-len(pngEnd)] // every chunk before IEND
	text := []byte("Comment\x00" + strings.Repeat("x", 100))
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(text)))
	chunk = append(append(chunk, "tEXt"...), text...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	withText := append(bytes.Clone(body), chunk...)
	for _, tc := range []struct {
		reason string
		data   []byte
		ok     bool
	}{
		{"no IEND after whole chunks", body, true},
		{"the last IDAT's CRC cut", body[:len(body)-2], true},
		{"a text chunk after the image data, no IEND", withText, true},
		{"half a chunk header after the last chunk", append(bytes.Clone(body), 0, 0, 0), true},
		{"a text chunk's data cut", withText[:len(body)+30], false},
		{"the IDAT data cut", body[:len(body)-20], false},
	} {
		got, err := Decoder{}.DecodeBytes(tc.data, "cut.png")
		if !tc.ok {
			if err == nil || !strings.Contains(err.Error(), "truncated file") {
				t.Errorf("%s: err %v, want a truncated-file refusal", tc.reason, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.reason, err)
			continue
		}
		for y := 0; y < 5; y++ {
			for x := 0; x < 7; x++ {
				r, g, b, _ := src.At(x, y).RGBA()
				want := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}
				i := 3 * (y*got.Width + x)
				if c := (color.RGBA{got.Pix[i], got.Pix[i+1], got.Pix[i+2], 255}); c != want {
					t.Fatalf("%s: pixel (%d,%d) %v, want %v", tc.reason, x, y, c, want)
				}
			}
		}
	}
}
