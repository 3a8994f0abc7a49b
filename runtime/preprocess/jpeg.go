package preprocess

// #cgo LDFLAGS: -ljpeg
// #include <stdlib.h>
// #include "jpeg_turbo.h"
import "C"

import (
	"fmt"
	"unsafe"
)

// decodeJPEG decodes with the system libjpeg (libjpeg62-turbo on Debian, the library
// Debian's PIL links) and PIL's settings: islow DCT, fancy upsampling, no scaling; one
// component -> L, three -> RGB (libjpeg converts YCbCr), four -> CMYK read with Adobe
// polarity ("CMYK;I") then PIL's CMYK -> RGB. Sizes are checked from the header before
// any pixel buffer exists.
func (d Decoder) decodeJPEG(data []byte) (*RGB8, error) {
	// libjpeg reads from C memory: a Go pointer must not be kept by C across calls, and
	// copying keeps the rules simple. The copy is the size of the file, not the image.
	src := C.CBytes(data)
	defer C.free(src)
	size := C.size_t(len(data))
	var info C.vc_jpeg_info
	if C.vc_jpeg_header((*C.uchar)(src), size, &info) != 0 {
		return nil, fmt.Errorf("jpeg header: %s", C.GoString(&info.msg[0]))
	}
	w, h, comps := int(info.width), int(info.height), int(info.components)
	if info.precision != 8 {
		return nil, fmt.Errorf("%w: %d-bit JPEG (PIL reads 8-bit samples only)", ErrUnsupported, int(info.precision))
	}
	if comps != 1 && comps != 3 && comps != 4 {
		return nil, fmt.Errorf("%w: JPEG with %d components (PIL reads 1, 3 or 4)", ErrUnsupported, comps)
	}
	if err := d.checkSize("jpeg", w, h); err != nil {
		return nil, err
	}
	raw := make([]uint8, w*h*comps)
	if C.vc_jpeg_decode((*C.uchar)(src), size, (*C.uchar)(unsafe.Pointer(&raw[0])), C.size_t(len(raw)), maxJPEGScans, &info) != 0 {
		return nil, fmt.Errorf("jpeg data: %s", C.GoString(&info.msg[0]))
	}
	switch comps {
	case 3:
		return &RGB8{Width: w, Height: h, Pix: raw}, nil
	case 1:
		out := newRGB8(w, h)
		for i, v := range raw {
			out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = v, v, v
		}
		return out, nil
	default:
		out := newRGB8(w, h)
		cmykInvertedToRGB(out, raw)
		return out, nil
	}
}

// jpegHeaderSize is the width and height a JPEG's frame header gives (0, 0 if its
// headers cannot be read).
func jpegHeaderSize(data []byte) (int, int) {
	src := C.CBytes(data)
	defer C.free(src)
	var info C.vc_jpeg_info
	if C.vc_jpeg_header((*C.uchar)(src), C.size_t(len(data)), &info) != 0 {
		return 0, 0
	}
	return int(info.width), int(info.height)
}
