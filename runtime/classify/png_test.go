package classify

import (
	"image"
	"image/color"
	"image/png"
	"io"
)

// encodeSolidPNG writes a w x h RGB PNG whose pixels are (red, 0, 0).
func encodeSolidPNG(out io.Writer, w, h int, red uint8) error {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: red, A: 255})
		}
	}
	return png.Encode(out, img)
}
