package preprocess

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"slices"
)

// decodeGIF decodes a GIF's first frame on its canvas as PIL 9.4 does (GifImageFile
// frame 0, then convert("RGB")):
//   - the colour stored under the transparent index is kept: Go's image/gif replaces
//     that palette entry with transparent black, while PIL keeps the stored RGB and
//     convert("RGB") ignores transparency, so the first frame's transparency flag is
//     cleared in a copy before Go decodes it;
//   - canvas pixels the first frame does not cover hold the transparent index when the
//     frame has one, else index 0, in the frame's palette;
//   - a frame reaching past the logical screen enlarges the canvas to hold it (the
//     copy's logical screen is enlarged the same way, which Go requires).
//
// The canvas size is checked against the limits before anything is decoded.
func (d Decoder) decodeGIF(data []byte) (*RGB8, error) {
	fixed, trns, err := gifForGo(data)
	if err != nil {
		return nil, fmt.Errorf("gif header: %w", err)
	}
	cfg, err := gif.DecodeConfig(bytes.NewReader(fixed))
	if err != nil {
		return nil, fmt.Errorf("gif header: %w", describe(err))
	}
	if err := d.checkSize("gif", cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	img, err := gif.Decode(bytes.NewReader(fixed))
	if err != nil {
		return nil, fmt.Errorf("gif data: %w", describe(err))
	}
	frame, ok := img.(*image.Paletted)
	if !ok {
		return nil, fmt.Errorf("gif: first frame decoded as %T", img)
	}
	canvas := frame
	if frame.Rect != image.Rect(0, 0, cfg.Width, cfg.Height) {
		fill := max(trns, 0)
		if fill >= len(frame.Palette) {
			return nil, fmt.Errorf("%w: gif canvas fill colour %d is outside the %d-colour palette", ErrUnsupported, fill, len(frame.Palette))
		}
		canvas = image.NewPaletted(image.Rect(0, 0, cfg.Width, cfg.Height), frame.Palette)
		for i := range canvas.Pix {
			canvas.Pix[i] = uint8(fill)
		}
		draw.Draw(canvas, frame.Rect, frame, frame.Rect.Min, draw.Src)
	}
	return rgbFromGo(canvas, false)
}

// gifForGo walks the GIF block structure (header, logical screen descriptor, global
// colour table, extensions) up to the first image descriptor and returns a copy that
// Go decodes to PIL's first frame: no transparency flag in the graphic control
// extensions before it, and a logical screen enlarged to hold the frame. trns is the
// first frame's transparent index (PIL: the last flagged extension's), -1 if none.
func gifForGo(data []byte) (out []byte, trns int, err error) {
	out, trns = bytes.Clone(data), -1
	const headerLen = 6 + 7 // "GIF89a" + logical screen descriptor
	if len(out) < headerLen {
		return nil, 0, fmt.Errorf("truncated file (GIF header)")
	}
	pos := headerLen
	if flags := out[10]; flags&0x80 != 0 { // global colour table of 2^(n+1) RGB entries
		pos += 3 << ((flags & 7) + 1)
	}
	for pos < len(out) {
		switch out[pos] {
		case 0x2C: // image descriptor: the first frame starts here
			if err := gifEnlargeScreen(out, pos); err != nil {
				return nil, 0, err
			}
			return gifFullTable(out, pos), trns, nil
		case 0x21: // extension: label, then sub-blocks [len, bytes...] ending with 0
			if pos+1 >= len(out) {
				return nil, 0, fmt.Errorf("truncated file (GIF extension)")
			}
			label := out[pos+1]
			pos += 2
			// Graphic control extension: block size 4, packed flags (bit 0: transparency),
			// delay (2 bytes), transparent index.
			if label == 0xF9 && pos+4 < len(out) && out[pos] == 4 && out[pos+1]&1 != 0 {
				out[pos+1] &^= 1
				trns = int(out[pos+4])
			}
			for {
				if pos >= len(out) {
					return nil, 0, fmt.Errorf("truncated file (GIF extension)")
				}
				n := int(out[pos])
				pos += 1 + n
				if n == 0 {
					break
				}
			}
		default:
			return nil, 0, fmt.Errorf("GIF block 0x%02x before the first image", out[pos])
		}
	}
	return nil, 0, fmt.Errorf("truncated file (GIF has no image)")
}

// gifEnlargeScreen grows the logical screen of out (bytes 6-9, little-endian) to hold
// the frame whose image descriptor starts at pos (left, top, width, height follow).
func gifEnlargeScreen(out []byte, pos int) error {
	if pos+9 > len(out) {
		return fmt.Errorf("truncated file (GIF image descriptor)")
	}
	le := binary.LittleEndian
	for i := range 2 { // 0: x (width), 1: y (height)
		end := int(le.Uint16(out[pos+1+2*i:])) + int(le.Uint16(out[pos+5+2*i:]))
		if end > 0xFFFF {
			return fmt.Errorf("%w: GIF first frame ends at %d, past any canvas", ErrUnsupported, end)
		}
		if end > int(le.Uint16(out[6+2*i:])) {
			le.PutUint16(out[6+2*i:], uint16(end))
		}
	}
	return nil
}

// gifFullTable gives the colour table the first frame (image descriptor at pos) reads,
// its local one or else the global one, PIL's 256 entries: PIL's palette starts as the
// grey ramp (i, i, i) and the file's table overwrites only its first entries, so an
// index past a short table reads grey i (and a frame with no table at all is read in
// mode L, each index its own grey level), where Go refuses "invalid pixel value" or
// "no color table". The table's size field becomes 256 and the ramp entries past the
// stored ones are inserted after them.
func gifFullTable(out []byte, pos int) []byte {
	if pos+9 >= len(out) { // a truncated descriptor, which Go reports
		return out
	}
	flags, start := 10, 13 // global table: flags in the logical screen descriptor
	if out[pos+9]&0x80 != 0 {
		flags, start = pos+9, pos+10 // the frame's local table
	}
	n := 0 // entries stored
	if out[flags]&0x80 != 0 {
		n = 1 << (out[flags]&7 + 1)
	}
	if n == 256 {
		return out
	}
	ramp := make([]byte, 0, 3*(256-n))
	for i := n; i < 256; i++ {
		ramp = append(ramp, byte(i), byte(i), byte(i))
	}
	out[flags] |= 0x80 | 7
	at := min(start+3*n, len(out)) // a table cut short stays short: Go reports it
	return slices.Concat(out[:at], ramp, out[at:])
}
