package preprocess

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// BMP decoding with the rules of PIL 9.4's BmpImagePlugin, for every variant it
// opens: OS/2 v1 (12-byte) and Windows v3/v4/v5 (40, 64, 108, 124-byte) headers,
// 1/4/8-bit palettes, 16-bit 5-5-5 and 5-6-5, 24-bit, 32-bit (the fourth byte, or a
// bitfields alpha, dropped by convert("RGB")), bitfields in PIL's list of masks, RLE8
// and RLE4, bottom-up and top-down rows.

// bmpHeader is what PIL reads from a BMP's headers.
type bmpHeader struct {
	offset        int // start of the pixel data
	width, height int
	topDown       bool
	bits          int
	compression   uint32
	colors        int    // palette entries (1<<bits when the header says 0)
	palette       []byte // raw palette bytes, pad bytes per entry
	pad           int    // 3 (OS/2 v1) or 4 bytes per palette entry
	layout        string // PIL rawmode of the pixels: P;1, P;4, P, BGR;15, BGR;16, BGR, BGRX, XBGR, ABGR, RGBA, BGRA
}

const (
	bmpRaw       = 0
	bmpRLE8      = 1
	bmpRLE4      = 2
	bmpBitfields = 3
)

var errBMPTruncated = errors.New("truncated file (BMP data ends early)")

// bmpMaskLayouts is PIL's MASK_MODES: the bitfields layouts it reads, keyed by bit
// count and (r, g, b, a) masks (a is 0 for 16 and 24 bits).
var bmpMaskLayouts = map[[5]uint32]string{
	{32, 0xFF0000, 0xFF00, 0xFF, 0}:          "BGRX",
	{32, 0xFF000000, 0xFF0000, 0xFF00, 0}:    "XBGR",
	{32, 0xFF000000, 0xFF0000, 0xFF00, 0xFF}: "ABGR",
	{32, 0xFF, 0xFF00, 0xFF0000, 0xFF000000}: "RGBA",
	{32, 0xFF0000, 0xFF00, 0xFF, 0xFF000000}: "BGRA",
	{32, 0, 0, 0, 0}:                         "BGRA",
	{24, 0xFF0000, 0xFF00, 0xFF, 0}:          "BGR",
	{16, 0xF800, 0x7E0, 0x1F, 0}:             "BGR;16",
	{16, 0x7C00, 0x3E0, 0x1F, 0}:             "BGR;15",
}

// bmpRawLayouts is PIL's BIT2MODE rawmode for uncompressed pixels.
var bmpRawLayouts = map[int]string{1: "P;1", 4: "P;4", 8: "P", 16: "BGR;15", 24: "BGR", 32: "BGRX"}

// readBMPHeader parses the file header, the info header, the bitfields masks and
// the palette as PIL's BmpImageFile._bitmap does.
func readBMPHeader(data []byte) (*bmpHeader, error) {
	if len(data) < 18 {
		return nil, errBMPTruncated
	}
	h := &bmpHeader{offset: int(binary.LittleEndian.Uint32(data[10:]))}
	size := int(binary.LittleEndian.Uint32(data[14:]))
	if size != 12 && size != 40 && size != 64 && size != 108 && size != 124 {
		return nil, fmt.Errorf("%w: BMP header of %d bytes (PIL reads 12, 40, 64, 108 and 124)", ErrUnsupported, size)
	}
	if len(data) < 14+size {
		return nil, errBMPTruncated
	}
	hd := data[18 : 14+size]
	le := binary.LittleEndian
	pos := 14 + size // where the palette (or 40-byte header's masks) starts
	var masks [4]uint32
	if size == 12 {
		h.width, h.height, h.bits, h.pad = int(le.Uint16(hd)), int(le.Uint16(hd[2:])), int(le.Uint16(hd[6:])), 3
	} else {
		h.topDown = hd[7] == 0xFF
		h.width, h.height = int(le.Uint32(hd)), int(le.Uint32(hd[4:]))
		if h.topDown {
			h.height = 1<<32 - h.height
		}
		h.bits, h.compression, h.colors, h.pad = int(le.Uint16(hd[10:])), le.Uint32(hd[12:]), int(le.Uint32(hd[28:])), 4
		if h.compression == bmpBitfields && size >= 52 {
			for i := range masks {
				masks[i] = le.Uint32(hd[36+4*i:])
			}
		} else if h.compression == bmpBitfields {
			if len(data) < pos+12 {
				return nil, errBMPTruncated
			}
			for i := range 3 {
				masks[i] = le.Uint32(data[pos+4*i:])
			}
			pos += 12
		}
	}
	if h.colors == 0 {
		h.colors = 1 << min(h.bits, 32)
	}
	if h.offset == 14+size && h.bits <= 8 { // PIL: pixel data said to start at the palette
		h.offset += 4 * h.colors
	}
	if h.offset == 0 { // PIL (offset or fp.tell()): the pixels follow what it has read
		h.offset = pos
		if h.bits <= 8 {
			h.offset += h.pad * h.colors
		}
	}
	var ok bool
	if h.layout, ok = bmpRawLayouts[h.bits]; !ok {
		return nil, fmt.Errorf("%w: %d-bit BMP (PIL reads 1, 4, 8, 16, 24 and 32 bits)", ErrUnsupported, h.bits)
	}
	switch h.compression {
	case bmpRaw:
	case bmpRLE8, bmpRLE4:
		if h.bits > 8 {
			return nil, fmt.Errorf("%w: RLE-compressed %d-bit BMP (PIL reads RLE for palette images only)", ErrUnsupported, h.bits)
		}
	case bmpBitfields:
		key := [5]uint32{uint32(h.bits), masks[0], masks[1], masks[2], masks[3]}
		if h.bits != 32 {
			key[4] = 0
		}
		if h.layout, ok = bmpMaskLayouts[key]; !ok {
			return nil, fmt.Errorf("%w: BMP bitfields %d-bit masks r %#x g %#x b %#x a %#x (PIL reads only the usual ones)", ErrUnsupported, h.bits, masks[0], masks[1], masks[2], masks[3])
		}
	default:
		return nil, fmt.Errorf("%w: BMP compression %d (PIL reads none, RLE8, RLE4 and bitfields)", ErrUnsupported, h.compression)
	}
	if h.bits <= 8 {
		return h, h.readPalette(data, pos)
	}
	return h, nil
}

// readPalette reads the palette at pos and refuses what PIL would misread: PIL
// replaces a palette of grey ramp entries (i, i, i) by mode L (or 1 for two entries
// black and white) and then unpacks the pixels as 8-bit (1-bit) samples whatever
// their stored depth.
func (h *bmpHeader) readPalette(data []byte, pos int) error {
	if h.colors > 256 {
		return fmt.Errorf("%w: BMP palette of %d colours (PIL takes at most 256)", ErrUnsupported, h.colors)
	}
	if len(data) < pos+h.pad*h.colors {
		return errBMPTruncated
	}
	h.palette = data[pos : pos+h.pad*h.colors]
	grey := true
	for i := range h.colors {
		v := byte(i)
		if h.colors == 2 {
			v = byte(255 * i)
		}
		e := h.palette[h.pad*i:]
		grey = grey && e[0] == v && e[1] == v && e[2] == v
	}
	rle := h.compression == bmpRLE8 || h.compression == bmpRLE4
	if grey && h.colors == 2 && (h.bits != 1 || rle) || grey && h.colors != 2 && h.bits != 8 && !rle {
		return fmt.Errorf("%w: %d-bit BMP with a grey-ramp palette of %d entries (PIL reads its pixels as another depth)",
			ErrUnsupported, h.bits, h.colors)
	}
	return nil
}

// decodeBMP decodes a BMP to RGB as PIL opens it and convert("RGB") converts it.
func (d Decoder) decodeBMP(data []byte) (*RGB8, error) {
	h, err := readBMPHeader(data)
	if err != nil {
		return nil, fmt.Errorf("bmp header: %w", err)
	}
	if err := d.checkSize("bmp", h.width, h.height); err != nil {
		return nil, err
	}
	if h.offset > len(data) {
		return nil, fmt.Errorf("bmp data: %w", errBMPTruncated)
	}
	var rows []byte // bottom-up or top-down rows of stride bytes from the file
	stride := (h.width*h.bits + 31) >> 3 &^ 3
	if h.compression == bmpRLE8 || h.compression == bmpRLE4 {
		rows, err = bmpRLE(data, h.offset, h.width, h.height, h.compression == bmpRLE4)
		stride = h.width
		h.layout = "P"
	} else if len(data)-h.offset < stride*h.height {
		err = errBMPTruncated
	} else {
		rows = data[h.offset:]
	}
	if err != nil {
		return nil, fmt.Errorf("bmp data: %w", err)
	}
	out := newRGB8(h.width, h.height)
	for y := range h.height {
		src := y
		if !h.topDown {
			src = h.height - 1 - y
		}
		h.unpackRow(out.Pix[3*h.width*y:3*h.width*(y+1)], rows[src*stride:])
	}
	return out, nil
}

// unpackRow converts one row of stored pixels to RGB with PIL's unpacker for the
// header's layout (Unpack.c) followed by convert("RGB").
func (h *bmpHeader) unpackRow(o, in []byte) {
	for x := range h.width {
		q := o[3*x : 3*x+3 : 3*x+3]
		switch h.layout {
		case "P;1", "P;4", "P":
			var idx int
			switch h.layout {
			case "P;1":
				idx = int(in[x>>3]>>(7-x&7)) & 1
			case "P;4":
				idx = int(in[x>>1]>>(4-4*(x&1))) & 15
			default:
				idx = int(in[x])
			}
			if idx < h.colors {
				e := h.palette[h.pad*idx:]
				q[0], q[1], q[2] = e[2], e[1], e[0]
			} else { // PIL's palette starts as a grey ramp: entries past the file's stay grey
				q[0], q[1], q[2] = byte(idx), byte(idx), byte(idx)
			}
		case "BGR;15", "BGR;16":
			p := int(in[2*x]) | int(in[2*x+1])<<8
			if h.layout == "BGR;15" {
				q[0], q[1], q[2] = byte((p>>10&31)*255/31), byte((p>>5&31)*255/31), byte((p&31)*255/31)
			} else {
				q[0], q[1], q[2] = byte((p>>11&31)*255/31), byte((p>>5&63)*255/63), byte((p&31)*255/31)
			}
		case "BGR":
			q[0], q[1], q[2] = in[3*x+2], in[3*x+1], in[3*x]
		default: // 32 bits: the byte of each channel in the little-endian word
			p := in[4*x : 4*x+4]
			switch h.layout {
			case "BGRX", "BGRA":
				q[0], q[1], q[2] = p[2], p[1], p[0]
			case "XBGR", "ABGR":
				q[0], q[1], q[2] = p[3], p[2], p[1]
			case "RGBA":
				q[0], q[1], q[2] = p[0], p[1], p[2]
			}
		}
	}
}

// bmpRLE expands RLE8/RLE4 pixel data to one palette index per pixel, w x h, rows
// in file order, as PIL's BmpRleDecoder does: runs past a row's end are cut, an
// end-of-line pads the row with index 0, a delta skips with index 0, absolute runs
// are word-aligned in the file. PIL refuses data that ends (or says end-of-bitmap)
// before w*h pixels ("not enough image data"), and so does this.
func bmpRLE(data []byte, pos, w, h int, rle4 bool) ([]byte, error) {
	total := w * h
	out := make([]byte, 0, total)
	x := 0
	for len(out) < total && pos+1 < len(data) {
		n, b := int(data[pos]), data[pos+1]
		pos += 2
		switch {
		case n > 0: // encoded run
			n = max(0, min(n, w-x))
			for i := range n {
				if !rle4 {
					out = append(out, b)
				} else if i%2 == 0 {
					out = append(out, b>>4)
				} else {
					out = append(out, b&15)
				}
			}
			x += n
		case b == 0: // end of line
			for len(out)%w != 0 {
				out = append(out, 0)
			}
			x = 0
		case b == 1: // end of bitmap
			pos = len(data)
		case b == 2: // delta: right, up
			if pos+1 >= len(data) {
				pos = len(data)
				break
			}
			skip := int(data[pos]) + int(data[pos+1])*w
			pos += 2
			out = append(out, make([]byte, min(skip, total-len(out)))...)
			x = len(out) % w
		default: // absolute run of b pixels
			count := int(b)
			if rle4 {
				count /= 2
			}
			end := min(pos+count, len(data))
			for _, v := range data[pos:end] {
				if rle4 {
					out = append(out, v>>4, v&15)
				} else {
					out = append(out, v)
				}
			}
			if end-pos < count {
				pos = len(data)
				break
			}
			pos = end + end%2 // PIL aligns the file position to 16 bits
			x += int(b)
		}
	}
	if len(out) < total {
		return nil, fmt.Errorf("RLE data gives %d of the %d pixels (PIL: not enough image data)", len(out), total)
	}
	return out[:total], nil
}
