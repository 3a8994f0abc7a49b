// Package npy reads and writes NumPy .npy files (format versions 1.0, 2.0
// and 3.0) holding float16, float32 or float64 arrays, and reads .npz
// archives of them.
//
// It is the image and logits exchange format of `vimconvert predict`: NumPy
// writes the input with np.save and reads the result with np.load. Either
// byte order and Fortran (column-major) order are read exactly, into C
// order; float16 is widened to float32. Anything else (integer or complex
// dtypes, object or structured arrays, truncated or oversized files) is
// rejected with an error naming the problem. Files are written as
// little-endian float32 in C order.
package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/x448/float16"

	"github.com/vimconvert/vimconvert/internal/cleanup"
)

// magic is the 6-byte prefix of every .npy file.
const magic = "\x93NUMPY"

// maxHeaderLen bounds the header dict we are willing to parse.
const maxHeaderLen = 1 << 20

// ErrFormat is wrapped by every error about a malformed or unsupported file.
var ErrFormat = errors.New("npy: unsupported or malformed file")

// Array is a dense array read from a .npy file. Exactly one of F32 and F64
// is set, according to DType.
type Array struct {
	Shape []int     // C-order dimensions; empty for a 0-d array
	DType string    // "float32" (also for float16 files) or "float64"
	F32   []float32 // data when DType is "float32"
	F64   []float64 // data when DType is "float64"
}

// NumElements returns the product of Shape (1 for a 0-d array).
func (a *Array) NumElements() int {
	return numElements(a.Shape)
}

// Float32 returns the data as float32, converting (and rounding) float64
// data to a new slice. Float32 data is returned without copying.
func (a *Array) Float32() []float32 {
	if a.F32 != nil || a.DType == "float32" {
		return a.F32
	}
	out := make([]float32, len(a.F64))
	for i, v := range a.F64 {
		out[i] = float32(v)
	}
	return out
}

func numElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// ReadFile reads a .npy file; see Read.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := Read(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// Read parses one .npy array from r. It accepts format versions 1.0, 2.0
// and 3.0 with a float dtype of either byte order ('<f2', '<f4', '<f8',
// '>f4', ...) and either fortran_order; the Array is in C order, float16
// widened to float32. Every other dtype is an error. The stream must end
// right after the data.
func Read(r io.Reader) (*Array, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%w: reading magic: %v", ErrFormat, err)
	}
	if string(pre[:6]) != magic {
		return nil, fmt.Errorf("%w: not a .npy file (bad magic %q)", ErrFormat, pre[:6])
	}
	major, minor := pre[6], pre[7]
	var hlen int
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: reading header length: %v", ErrFormat, err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: reading header length: %v", ErrFormat, err)
		}
		n := binary.LittleEndian.Uint32(b[:])
		if n > maxHeaderLen {
			return nil, fmt.Errorf("%w: header length %d too large", ErrFormat, n)
		}
		hlen = int(n)
	default:
		return nil, fmt.Errorf("%w: format version %d.%d (want 1.0, 2.0 or 3.0)", ErrFormat, major, minor)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%w: reading %d-byte header: %v", ErrFormat, hlen, err)
	}
	descr, fortran, shape, err := parseHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	size, order, dtype, err := parseDescr(descr)
	if err != nil {
		return nil, err
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("%w: negative dimension in shape %v", ErrFormat, shape)
		}
		if d != 0 && n > math.MaxInt32/d {
			return nil, fmt.Errorf("%w: shape %v too large", ErrFormat, shape)
		}
		n *= d
	}
	// Read in chunks so a lying header cannot make us allocate gigabytes
	// before the data turns out to be missing.
	raw, err := readExactly(r, n*size)
	if err != nil {
		return nil, fmt.Errorf("%w: data of shape %v %s: %v", ErrFormat, shape, descr, err)
	}
	var extra [1]byte
	if k, _ := r.Read(extra[:]); k > 0 {
		return nil, fmt.Errorf("%w: trailing bytes after %d elements of shape %v", ErrFormat, n, shape)
	}
	a := &Array{Shape: shape, DType: dtype}
	next := -1
	src := func() int { next++; return next } // C order: the i-th element is stored i-th
	if fortran {
		src = fortranPositions(shape)
	}
	switch size {
	case 2:
		a.F32 = make([]float32, n)
		for i := range a.F32 {
			a.F32[i] = float16.Frombits(order.Uint16(raw[2*src():])).Float32()
		}
	case 4:
		a.F32 = make([]float32, n)
		for i := range a.F32 {
			a.F32[i] = math.Float32frombits(order.Uint32(raw[4*src():]))
		}
	default:
		a.F64 = make([]float64, n)
		for i := range a.F64 {
			a.F64[i] = math.Float64frombits(order.Uint64(raw[8*src():]))
		}
	}
	return a, nil
}

// parseDescr reads a float dtype string ('<f4', '>f8', '=f2', ...): its
// element size, byte order, and the Array.DType it is read as (float16 is
// widened to float32, exactly). Any other dtype is an error.
func parseDescr(descr string) (size int, order binary.ByteOrder, dtype string, err error) {
	if len(descr) == 3 && descr[1] == 'f' {
		switch descr[0] {
		case '<', '=':
			order = binary.LittleEndian // '=' is the writer's native order; NumPy writes '<' on little-endian machines
		case '>':
			order = binary.BigEndian
		}
		switch descr[2] {
		case '2':
			size, dtype = 2, "float32"
		case '4':
			size, dtype = 4, "float32"
		case '8':
			size, dtype = 8, "float64"
		}
	}
	if order == nil || size == 0 {
		return 0, nil, "", fmt.Errorf("%w: dtype '%s' (want float16, float32 or float64: '<f2', '<f4', '<f8', or big-endian '>f4' ...)", ErrFormat, descr)
	}
	return size, order, dtype, nil
}

// fortranPositions returns a function that, called once per element in C
// order, gives the element's position in column-major (fortran_order)
// data of shape: an odometer over the C-order digits, axis k having the
// column-major stride prod(shape[:k]).
func fortranPositions(shape []int) func() int {
	stride := make([]int, len(shape))
	digit := make([]int, len(shape))
	s := 1
	for k, d := range shape {
		stride[k], s = s, s*d
	}
	pos, started := 0, false
	return func() int {
		if !started {
			started = true
			return 0
		}
		for k := len(shape) - 1; k >= 0; k-- {
			digit[k]++
			pos += stride[k]
			if digit[k] < shape[k] {
				break
			}
			pos -= stride[k] * shape[k]
			digit[k] = 0
		}
		return pos
	}
}

// readExactly reads n bytes, growing its buffer as data actually arrives.
func readExactly(r io.Reader, n int) ([]byte, error) {
	const chunk = 16 << 20
	buf := make([]byte, 0, min(n, chunk))
	for len(buf) < n {
		k := min(n-len(buf), chunk)
		start := len(buf)
		buf = append(buf, make([]byte, k)...)
		got, err := io.ReadFull(r, buf[start:])
		if err != nil {
			return nil, fmt.Errorf("truncated: got %d of %d bytes", start+got, n)
		}
	}
	return buf, nil
}

// parseHeader reads the Python dict literal of a .npy header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
func parseHeader(h string) (descr string, fortran bool, shape []int, err error) {
	h = strings.TrimRight(h, " \n\x00")
	if !strings.HasPrefix(h, "{") || !strings.HasSuffix(h, "}") {
		return "", false, nil, fmt.Errorf("%w: header is not a dict: %q", ErrFormat, h)
	}
	body := h[1 : len(h)-1]
	seen := map[string]bool{}
	for {
		body = strings.TrimLeft(body, " ")
		if body == "" {
			break
		}
		key, rest, ok := parsePyString(body)
		if !ok {
			return "", false, nil, fmt.Errorf("%w: bad header key in %q", ErrFormat, h)
		}
		rest = strings.TrimLeft(rest, " ")
		if !strings.HasPrefix(rest, ":") {
			return "", false, nil, fmt.Errorf("%w: missing ':' after %q in header", ErrFormat, key)
		}
		rest = strings.TrimLeft(rest[1:], " ")
		switch key {
		case "descr":
			descr, rest, ok = parsePyString(rest)
			if !ok {
				return "", false, nil, fmt.Errorf("%w: descr is not a simple dtype string (structured arrays are not supported): %q", ErrFormat, h)
			}
		case "fortran_order":
			switch {
			case strings.HasPrefix(rest, "False"):
				fortran, rest = false, rest[len("False"):]
			case strings.HasPrefix(rest, "True"):
				fortran, rest = true, rest[len("True"):]
			default:
				return "", false, nil, fmt.Errorf("%w: bad fortran_order in %q", ErrFormat, h)
			}
		case "shape":
			end := strings.IndexByte(rest, ')')
			if !strings.HasPrefix(rest, "(") || end < 0 {
				return "", false, nil, fmt.Errorf("%w: bad shape in %q", ErrFormat, h)
			}
			shape = []int{}
			for _, f := range strings.Split(rest[1:end], ",") {
				f = strings.TrimSpace(f)
				if f == "" {
					continue
				}
				f = strings.TrimSuffix(f, "L") // Python 2 longs
				d, perr := strconv.Atoi(f)
				if perr != nil {
					return "", false, nil, fmt.Errorf("%w: bad dimension %q in shape", ErrFormat, f)
				}
				shape = append(shape, d)
			}
			rest = rest[end+1:]
		default:
			return "", false, nil, fmt.Errorf("%w: unexpected header key %q", ErrFormat, key)
		}
		seen[key] = true
		rest = strings.TrimLeft(rest, " ")
		if strings.HasPrefix(rest, ",") {
			rest = rest[1:]
		} else if strings.TrimSpace(rest) != "" {
			return "", false, nil, fmt.Errorf("%w: expected ',' in header %q", ErrFormat, h)
		}
		body = rest
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return "", false, nil, fmt.Errorf("%w: header lacks %q: %q", ErrFormat, k, h)
		}
	}
	return descr, fortran, shape, nil
}

// parsePyString reads a single- or double-quoted Python string without
// escapes at the start of s.
func parsePyString(s string) (val, rest string, ok bool) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return "", s, false
	}
	q := s[0]
	end := strings.IndexByte(s[1:], q)
	if end < 0 {
		return "", s, false
	}
	return s[1 : 1+end], s[2+end:], true
}

// WriteFloat32 writes data as a version 1.0 (2.0 when the header needs it)
// .npy array of dtype '<f4' and the given C-order shape.
func WriteFloat32(w io.Writer, shape []int, data []float32) error {
	if n := numElements(shape); n != len(data) {
		return fmt.Errorf("npy: shape %v holds %d elements, got %d values", shape, n, len(data))
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		if d < 0 {
			return fmt.Errorf("npy: negative dimension in shape %v", shape)
		}
		dims[i] = strconv.Itoa(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", tuple)
	// The header (prefix + dict + padding + '\n') is padded to a multiple
	// of 64 bytes, as NumPy does.
	version, lenBytes := byte(1), 2
	if len(dict)+1+10 > math.MaxUint16 {
		version, lenBytes = 2, 4
	}
	prefix := 6 + 2 + lenBytes
	total := prefix + len(dict) + 1
	pad := (64 - total%64) % 64
	hdr := dict + strings.Repeat(" ", pad) + "\n"
	var buf bytes.Buffer
	buf.WriteString(magic)
	buf.WriteByte(version)
	buf.WriteByte(0)
	if lenBytes == 2 {
		binary.Write(&buf, binary.LittleEndian, uint16(len(hdr)))
	} else {
		binary.Write(&buf, binary.LittleEndian, uint32(len(hdr)))
	}
	buf.WriteString(hdr)
	if _, err := w.Write(buf.Bytes()); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var b [4]byte
	for _, v := range data {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		if _, err := bw.Write(b[:]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteFileFloat32 writes a float32 .npy file atomically: the data goes to
// a temporary file in the same directory, which is renamed over path only
// after a successful write, so path never holds a partial array. The
// temporary is registered with internal/cleanup (removed on an interrupt,
// or by a later write into the folder once its process is dead).
func WriteFileFloat32(path string, shape []int, data []float32) error {
	if n := numElements(shape); n != len(data) {
		return fmt.Errorf("npy: shape %v holds %d elements, got %d values", shape, n, len(data))
	}
	if err := cleanup.WriteFile(path, func(f *os.File) error { return WriteFloat32(f, shape, data) }); err != nil {
		return fmt.Errorf("npy: writing %s: %w", path, err)
	}
	return nil
}
