package preprocess

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// MaxImagePixels is PIL's Image.MAX_IMAGE_PIXELS (int(1024*1024*1024 // 4 // 3)): the
// default refusal limit. PIL only warns between it and twice it; this package refuses,
// which keeps a decoded image, its conversion and the resize under 1 GB.
const MaxImagePixels = 89478485

// MaxFileBytes is the default limit on the size of an encoded image file.
const MaxFileBytes = 256 << 20

// maxJPEGScans bounds the scans of a progressive JPEG (libjpeg-turbo's TurboJPEG API
// uses the same limit against files built to make decoding quadratic).
const maxJPEGScans = 500

// ErrUnsupported is wrapped by the errors for valid files this package cannot turn into
// PIL's exact pixels (unknown formats, 12-bit JPEG, BMP variants PIL cannot open).
var ErrUnsupported = errors.New("unsupported image")

// ErrTooLarge is wrapped by the errors for files or images over a Decoder's limits.
var ErrTooLarge = errors.New("image too large")

// Decoder decodes image files to RGB8 as Image.open(f).convert("RGB") does in PIL 9.4.
// Its zero value uses MaxImagePixels and MaxFileBytes. It holds no state: one Decoder
// may decode from several goroutines at once.
type Decoder struct {
	// MaxPixels refuses images with more pixels (width*height) than this, before any
	// pixel buffer is allocated. 0 means MaxImagePixels.
	MaxPixels int64
	// MaxBytes refuses encoded files longer than this. 0 means MaxFileBytes.
	MaxBytes int64
}

// DecodeFile decodes the image file at path with the default limits.
func DecodeFile(path string) (*RGB8, error) { return Decoder{}.DecodeFile(path) }

// DecodeFile reads and decodes the image file at path; errors name the path.
func (d Decoder) DecodeFile(path string) (*RGB8, error) {
	data, err := d.readFile(path)
	if err != nil {
		return nil, err
	}
	return d.DecodeBytes(data, path)
}

// Decode reads an encoded image from r; name (a path, or any label for the input)
// starts every error message.
func (d Decoder) Decode(r io.Reader, name string) (*RGB8, error) {
	data, err := d.readAll(r, name)
	if err != nil {
		return nil, err
	}
	return d.DecodeBytes(data, name)
}

// readFile reads the file at path within d.MaxBytes.
func (d Decoder) readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	defer f.Close()
	return d.readAll(f, path)
}

// readAll reads r within d.MaxBytes; name starts every error message.
func (d Decoder) readAll(r io.Reader, name string) ([]byte, error) {
	maxBytes := d.MaxBytes
	if maxBytes <= 0 {
		maxBytes = MaxFileBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("preprocess: %s: reading: %w", name, err)
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("preprocess: %s: %w: file is larger than %d bytes", name, ErrTooLarge, maxBytes)
	}
	return data, nil
}

// DecodeBytes decodes an encoded image held in memory; name starts every error message.
// The format is recognised by its signature (JPEG, PNG, GIF, BMP), not by the name.
func (d Decoder) DecodeBytes(data []byte, name string) (*RGB8, error) {
	img, err := d.decode(data)
	if err != nil {
		return nil, fmt.Errorf("preprocess: %s: %w", name, err)
	}
	return img, nil
}

func (d Decoder) decode(data []byte) (*RGB8, error) {
	format := sniff(data)
	switch format {
	case "":
		if len(data) == 0 {
			return nil, fmt.Errorf("empty file")
		}
		if other := otherFormat(data); other != "" {
			return nil, fmt.Errorf("%w: a %s file, which vimconvert does not decode (JPEG, PNG, GIF and BMP only; convert it to PNG)", ErrUnsupported, other)
		}
		return nil, fmt.Errorf("%w: not a JPEG, PNG, GIF or BMP file (starts with %q)", ErrUnsupported, data[:min(len(data), 8)])
	case "jpeg":
		return d.decodeJPEG(data)
	case "bmp":
		return d.decodeBMP(data)
	case "gif":
		return d.decodeGIF(data)
	}
	return d.decodePNG(data)
}

// decodePNG decodes a PNG with Go's decoder after checking its header's size.
func (d Decoder) decodePNG(data []byte) (*RGB8, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("png header: %w", describe(err))
	}
	if err := d.checkSize("png", cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	img, err := png.Decode(bytes.NewReader(pngWithoutLateCRCErrors(data)))
	if err != nil && !bytes.HasSuffix(data, pngEnd) {
		if ended, ok := pngEnded(data); ok { // PIL reads a file cut after its last chunk's data
			img, err = png.Decode(bytes.NewReader(pngWithoutLateCRCErrors(ended)))
		}
		if err != nil {
			return nil, fmt.Errorf("png data: truncated file (no IEND chunk at the end): %w", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("png data: %w", describe(err))
	}
	if m, ok := img.(*image.Paletted); ok {
		greyPastPLTE(m.Palette, pngPLTELen(data))
	}
	rgb, err := rgbFromGo(img, pngGray16(data))
	if err != nil {
		return nil, fmt.Errorf("png: %w", err)
	}
	return rgb, nil
}

// describe names a truncated file as such (Go's decoders say "unexpected EOF").
func describe(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("truncated file (%w)", err)
	}
	return err
}

// sniff names the format from the file signature, as PIL's Image.open does ("" if none).
func sniff(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return "jpeg"
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return "gif"
	case bytes.HasPrefix(data, []byte("BM")):
		return "bmp"
	}
	return ""
}

// otherFormat names image formats PIL opens but this package does not decode, from
// their signatures, for the error message ("" if none matches).
func otherFormat(data []byte) string {
	switch {
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return "WebP"
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return "TIFF"
	case len(data) >= 12 && string(data[4:8]) == "ftyp" && (string(data[8:12]) == "avif" || string(data[8:11]) == "hei" || string(data[8:12]) == "mif1"):
		return "HEIF/AVIF"
	case len(data) >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6':
		return "PNM (PBM/PGM/PPM)"
	case bytes.HasPrefix(data, []byte("\x00\x00\x00\x0cjP  ")), bytes.HasPrefix(data, []byte("\xff\x4f\xff\x51")):
		return "JPEG 2000"
	}
	return ""
}

// IsImageFile reports whether the file at path starts with the signature of an image
// format, whatever its name says: one Decode reads, or one its error names as not
// decoded (WebP, TIFF, ...). False if the file cannot be read.
func IsImageFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 12)
	n, _ := io.ReadFull(f, head)
	return sniff(head[:n]) != "" || otherFormat(head[:n]) != ""
}

// pngChunks calls fn with the offset, data length and type of each chunk of a PNG
// whose header fits in data, in order, until fn returns false.
func pngChunks(data []byte, fn func(pos, n int, typ string) bool) {
	for pos := 8; pos+8 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[pos:]))
		if n > len(data) || !fn(pos, n, string(data[pos+4:pos+8])) {
			return
		}
		pos += 12 + n // length, type, data, CRC
	}
}

// pngPLTELen is the number of entries of a PNG's PLTE chunk (0 if it has none before
// its image data).
func pngPLTELen(data []byte) (entries int) {
	pngChunks(data, func(_, n int, typ string) bool {
		if typ == "PLTE" {
			entries = n / 3
		}
		return typ != "PLTE" && typ != "IDAT"
	})
	return entries
}

// pngWithoutLateCRCErrors returns data, or a copy with the CRCs of the first IDAT
// chunk and every chunk after it recomputed when one of them is wrong. PIL checks the
// CRCs of the chunks before the image data only (a bad one there is refused by both)
// and reads past a damaged IDAT CRC, where Go's decoder refuses the file.
func pngWithoutLateCRCErrors(data []byte) []byte {
	out, late, copied := data, false, false
	pngChunks(data, func(pos, n int, typ string) bool {
		late = late || typ == "IDAT"
		end := pos + 8 + n
		if late && end+4 <= len(data) {
			if crc := crc32.ChecksumIEEE(data[pos+4 : end]); binary.BigEndian.Uint32(data[end:]) != crc {
				if !copied {
					out, copied = bytes.Clone(data), true
				}
				binary.BigEndian.PutUint32(out[end:], crc)
			}
		}
		return true
	})
	return out
}

// pngEnded returns a copy of a PNG file without IEND as PIL reads it: PIL stops at the
// end of the file after a chunk whose data is whole, even where the chunk's CRC or the
// next chunk's header is cut, and refuses a file that cuts a chunk's data. The copy
// ends after the last whole chunk (its CRC completed) with an IEND chunk; ok is false
// for a cut chunk or a file that has its IEND (nothing to mend).
func pngEnded(data []byte) (ended []byte, ok bool) {
	end, last, hasEnd := 8, 8, false
	pngChunks(data, func(pos, n int, typ string) bool {
		if hasEnd = typ == "IEND"; hasEnd || pos+8+n > len(data) {
			return false
		}
		last, end = pos, pos+12+n // length, type, data, CRC
		return true
	})
	switch {
	case hasEnd || len(data) < 8:
		return nil, false
	case end > len(data): // the last chunk's CRC is cut
		out := binary.BigEndian.AppendUint32(bytes.Clone(data[:end-4]), crc32.ChecksumIEEE(data[last+4:end-4]))
		return append(out, pngEnd...), true
	case len(data)-end >= 8: // a whole chunk header whose data is cut
		return nil, false
	}
	return append(bytes.Clone(data[:end]), pngEnd...), true
}

// greyPastPLTE sets the palette entries from n on to PIL's: a pixel index past the
// file's PLTE reads an entry of the grey ramp (i, i, i) that PIL's palette starts as,
// where Go's decoder gives opaque black.
func greyPastPLTE(p color.Palette, n int) {
	for i := n; i < len(p); i++ {
		p[i] = color.RGBA{uint8(i), uint8(i), uint8(i), 255}
	}
}

// pngEnd is the IEND chunk that ends every complete PNG file (length 0, type, CRC).
var pngEnd = []byte("\x00\x00\x00\x00IEND\xaeB`\x82")

// pngGray16 reports whether a PNG's IHDR says 16-bit grayscale (colour type 0): PIL's
// mode I. IHDR is the first chunk: width, height, bit depth (byte 24), colour type (25).
func pngGray16(data []byte) bool {
	return len(data) >= 26 && string(data[12:16]) == "IHDR" && data[24] == 16 && data[25] == 0
}

// headerPixels is the width*height an encoded image's header claims, read without
// decoding any pixel (saturating; 0 when there is no readable header, which decoding
// then reports).
func headerPixels(data []byte) uint64 {
	var w, h int
	switch sniff(data) {
	case "jpeg":
		w, h = jpegHeaderSize(data)
	case "png":
		if c, err := png.DecodeConfig(bytes.NewReader(data)); err == nil {
			w, h = c.Width, c.Height
		}
	case "gif":
		if fixed, _, err := gifForGo(data); err == nil {
			if c, err := gif.DecodeConfig(bytes.NewReader(fixed)); err == nil {
				w, h = c.Width, c.Height
			}
		}
	case "bmp":
		if hd, err := readBMPHeader(data); err == nil {
			w, h = hd.width, hd.height
		}
	}
	if w <= 0 || h <= 0 {
		return 0
	}
	return uint64(w) * uint64(h) // < 2^64: every format's sides fit in 32 bits
}

// maxPixels is d.MaxPixels or its default.
func (d Decoder) maxPixels() int64 {
	if d.MaxPixels <= 0 {
		return MaxImagePixels
	}
	return d.MaxPixels
}

// checkSize refuses empty images and images over the pixel limit from header sizes.
func (d Decoder) checkSize(format string, w, h int) error {
	maxPixels := d.maxPixels()
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%s header gives an empty image (%dx%d)", format, w, h)
	}
	// Either side over the limit first: a product of two 32-bit sides (BMP) can overflow.
	if px := uint64(w) * uint64(h); int64(w) > maxPixels || int64(h) > maxPixels || px > uint64(maxPixels) {
		return fmt.Errorf("%w: %s header claims %dx%d = %d pixels, over the limit of %d (a decompression bomb?)",
			ErrTooLarge, format, w, h, px, maxPixels)
	}
	return nil
}

// ImageExtensions are the file name suffixes (compared in lower case) of
// the formats Decode reads (PIL's for JPEG, PNG, GIF and BMP).
var ImageExtensions = []string{".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib"}

// UndecodedExtensions are the suffixes that torchvision's ImageFolder takes as
// images (IMG_EXTENSIONS) but Decode does not read: a folder's files with them are
// to be reported as unsupported, not skipped.
var UndecodedExtensions = []string{".ppm", ".pgm", ".tif", ".tiff", ".webp"}

// IsImageName reports whether name ends in one of ImageExtensions.
func IsImageName(name string) bool {
	return slices.Contains(ImageExtensions, strings.ToLower(filepath.Ext(name)))
}
