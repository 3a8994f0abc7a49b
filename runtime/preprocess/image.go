package preprocess

import (
	"fmt"
	"image"
	"image/color"
)

// RGB8 is an 8-bit RGB image as PIL's convert("RGB") holds it: Pix is row-major,
// 3 bytes (R, G, B) per pixel, len(Pix) == 3*Width*Height.
type RGB8 struct {
	Width, Height int
	Pix           []uint8
}

// newRGB8 allocates a w x h image; callers have checked the size against the limits.
func newRGB8(w, h int) *RGB8 {
	return &RGB8{Width: w, Height: h, Pix: make([]uint8, 3*w*h)}
}

// rgbFromGo converts what Go's PNG, GIF and BMP decoders return to RGB with the rule PIL
// applies to the mode PIL would have opened the same file in. It reads the stored
// (non-premultiplied) samples, never color.Color.RGBA(), which premultiplies by alpha.
//
//	PIL mode (file)                 Go type                 RGB
//	L, 1 (gray PNG, 1-8 bit)        *image.Gray             (v, v, v)
//	I (16-bit gray PNG)             *image.Gray16           (min(v, 255),)*3 (PIL i2rgb clips)
//	LA, RGBA, RGB+tRNS, L+tRNS      *image.NRGBA            drop alpha (no compositing)
//	RGB, RGBA (16-bit RGB/RGBA/LA)  *image.RGBA64/NRGBA64   high byte, alpha dropped
//	RGB (8-bit PNG, 24-bit BMP)     *image.RGBA             drop alpha (always 255)
//	P (palette PNG/GIF/BMP)         *image.Paletted         palette entry, alpha dropped
//
// gray16 says the file was a 16-bit grayscale PNG: PIL opens it as mode I whatever its
// tRNS chunk says, while Go returns *image.NRGBA64 for it when tRNS is present.
func rgbFromGo(img image.Image, gray16 bool) (*RGB8, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := newRGB8(w, h)
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := out.Pix[3*w*y:]
			for x, v := range row {
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
	case *image.Gray16:
		clipGray16(out, m.Pix, m.Stride, 2)
	case *image.NRGBA:
		copyDropAlpha(out, m.Pix, m.Stride, 4, 1)
	case *image.RGBA:
		copyDropAlpha(out, m.Pix, m.Stride, 4, 1)
	case *image.NRGBA64:
		if gray16 {
			clipGray16(out, m.Pix, m.Stride, 8)
			break
		}
		copyDropAlpha(out, m.Pix, m.Stride, 8, 2)
	case *image.RGBA64:
		copyDropAlpha(out, m.Pix, m.Stride, 8, 2)
	case *image.Paletted:
		return rgbFromPaletted(out, m)
	default:
		return nil, fmt.Errorf("decoded pixel type %T has no PIL equivalent here", img)
	}
	return out, nil
}

// clipGray16 is PIL's I -> RGB (Convert.c i2rgb: values clipped to [0, 255], not
// scaled) for 16-bit big-endian gray samples px bytes apart.
func clipGray16(out *RGB8, pix []uint8, stride, px int) {
	w := out.Width
	for y := 0; y < out.Height; y++ {
		row := pix[y*stride:]
		o := out.Pix[3*w*y:]
		for x := 0; x < w; x++ {
			v := uint16(row[px*x])<<8 | uint16(row[px*x+1])
			c := uint8(min(v, 255))
			o[3*x], o[3*x+1], o[3*x+2] = c, c, c
		}
	}
}

// rgbFromGo's cases for RGBA-like layouts: pixel bytes px per pixel, each sample spread
// over sample bytes, big-endian (its first byte is the 8-bit value PIL keeps).
func copyDropAlpha(out *RGB8, pix []uint8, stride, px, sample int) {
	w := out.Width
	for y := 0; y < out.Height; y++ {
		row := pix[y*stride:]
		o := out.Pix[3*w*y:]
		for x := 0; x < w; x++ {
			p := row[px*x:]
			o[3*x], o[3*x+1], o[3*x+2] = p[0], p[sample], p[2*sample]
		}
	}
}

// paletteRGB is a palette's stored colours: PNG gives color.RGBA (opaque entries) or
// color.NRGBA (tRNS), GIF and BMP color.RGBA with alpha 255.
func paletteRGB(p color.Palette) ([][3]uint8, error) {
	rgb := make([][3]uint8, len(p))
	for i, c := range p {
		switch v := c.(type) {
		case color.NRGBA:
			rgb[i] = [3]uint8{v.R, v.G, v.B}
		case color.RGBA:
			if v.A != 255 {
				return nil, fmt.Errorf("palette entry %d is premultiplied (alpha %d)", i, v.A)
			}
			rgb[i] = [3]uint8{v.R, v.G, v.B}
		default:
			return nil, fmt.Errorf("palette entry %d has colour type %T", i, c)
		}
	}
	return rgb, nil
}

func rgbFromPaletted(out *RGB8, m *image.Paletted) (*RGB8, error) {
	pal, err := paletteRGB(m.Palette)
	if err != nil {
		return nil, err
	}
	w := out.Width
	for y := 0; y < out.Height; y++ {
		row := m.Pix[y*m.Stride : y*m.Stride+w]
		o := out.Pix[3*w*y:]
		for x, idx := range row {
			if int(idx) >= len(pal) {
				return nil, fmt.Errorf("pixel (%d, %d) uses colour %d of a %d-colour palette", x, y, idx, len(pal))
			}
			c := pal[idx]
			o[3*x], o[3*x+1], o[3*x+2] = c[0], c[1], c[2]
		}
	}
	return out, nil
}

// cmykInvertedToRGB applies PIL's JPEG CMYK path: rawmode "CMYK;I" (Adobe polarity, the
// stored bytes inverted) followed by Convert.c cmyk2rgb:
// out = clip(nk - nk*c/255) with nk = 255 - k and PIL's rounded MULDIV255.
func cmykInvertedToRGB(out *RGB8, cmyk []uint8) {
	n := out.Width * out.Height
	for i := 0; i < n; i++ {
		p := cmyk[4*i : 4*i+4]
		nk := 255 - int(255-p[3])
		for c := 0; c < 3; c++ {
			out.Pix[3*i+c] = clip8(nk - mulDiv255(int(255-p[c]), nk))
		}
	}
}

// mulDiv255 is PIL's MULDIV255: a*b/255 rounded, in integers.
func mulDiv255(a, b int) int {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

func clip8(v int) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}
