package preprocess

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
)

// decodeGIF decodes a GIF's first frame keeping the colour stored under its
// transparent index. Go's image/gif replaces that palette entry with transparent
// black, while PIL keeps the stored RGB (and convert("RGB") ignores transparency), so
// the transparency flag of the first frame's graphic control extension is cleared in
// a copy before Go decodes it. Nothing else changes: pixels are palette indices.
func decodeGIF(data []byte) (image.Image, error) {
	fixed, err := gifWithoutFirstTransparency(data)
	if err != nil {
		return nil, err
	}
	return gif.Decode(bytes.NewReader(fixed))
}

// gifWithoutFirstTransparency walks the GIF block structure (header, logical screen
// descriptor, global colour table, extensions) up to the first image descriptor and
// returns a copy whose graphic control extensions before it have no transparency flag.
func gifWithoutFirstTransparency(data []byte) ([]byte, error) {
	out := bytes.Clone(data)
	const headerLen = 6 + 7 // "GIF89a" + logical screen descriptor
	if len(out) < headerLen {
		return nil, fmt.Errorf("truncated file (GIF header)")
	}
	pos := headerLen
	if flags := out[10]; flags&0x80 != 0 { // global colour table of 2^(n+1) RGB entries
		pos += 3 << ((flags & 7) + 1)
	}
	for pos < len(out) {
		switch out[pos] {
		case 0x2C: // image descriptor: the first frame starts here
			return out, nil
		case 0x21: // extension: label, then sub-blocks [len, bytes...] ending with 0
			if pos+1 >= len(out) {
				return nil, fmt.Errorf("truncated file (GIF extension)")
			}
			label := out[pos+1]
			pos += 2
			// Graphic control extension: block size 4, packed flags (bit 0: transparency).
			if label == 0xF9 && pos+1 < len(out) && out[pos] == 4 {
				out[pos+1] &^= 1
			}
			for {
				if pos >= len(out) {
					return nil, fmt.Errorf("truncated file (GIF extension)")
				}
				n := int(out[pos])
				pos += 1 + n
				if n == 0 {
					break
				}
			}
		default:
			return nil, fmt.Errorf("GIF block 0x%02x before the first image", out[pos])
		}
	}
	return nil, fmt.Errorf("truncated file (GIF has no image)")
}
