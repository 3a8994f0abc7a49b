package preprocess

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"testing"
)

// TestGIFIndexPastColourTable: a frame whose pixels index past its colour table (the
// LZW code size allows more values than a 2-entry table holds) reads PIL's palette
// there: PIL's palette starts as the grey ramp (i, i, i) and the file's table only
// overwrites its first entries, so index i past the table is grey i, where Go's
// decoder refuses the file ("invalid pixel value"). Both a global and a local table.
func TestGIFIndexPastColourTable(t *testing.T) {
	pal := color.Palette{color.RGBA{200, 10, 20, 255}, color.RGBA{5, 6, 250, 255}}
	m := image.NewPaletted(image.Rect(0, 0, 4, 1), pal)
	copy(m.Pix, []uint8{0, 1, 2, 3})
	want := []uint8{200, 10, 20, 5, 6, 250, 2, 2, 2, 3, 3, 3}
	var global, local bytes.Buffer
	if err := gif.Encode(&global, m, nil); err != nil {
		t.Fatal(err)
	}
	// a global table of other colours, the frame's own (local) table
	g := &gif.GIF{Image: []*image.Paletted{m}, Delay: []int{0},
		Config: image.Config{ColorModel: color.Palette{color.Black, color.White, color.Black, color.White}, Width: 4, Height: 1}}
	if err := gif.EncodeAll(&local, g); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"global table": global.Bytes(), "local table": local.Bytes()} {
		img, err := Decoder{}.DecodeBytes(data, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(img.Pix, want) {
			t.Errorf("%s: pixels %v, want %v (PIL: grey i past the table)", name, img.Pix, want)
		}
	}
}
