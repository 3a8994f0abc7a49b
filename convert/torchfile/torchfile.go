package torchfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/vimconvert/vimconvert/convert/internal/pickleop"
	"io"
	"math"
	"math/big"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/x448/float16"
)

// This file reads the two container formats of torch.save: the zip archive
// (default since PyTorch 1.6: <name>/data.pkl + <name>/data/<key>) and the
// legacy stream (magic, protocol, sys_info and main pickles, the storage key
// list, then every storage as an int64 element count + raw little-endian
// data). Tensor data is read lazily: only the tensors a caller asks for are
// converted, and every read is bounds-checked against the file.

// ErrNotCheckpoint is wrapped by the error for a file that is neither a
// torch.save zip archive nor a legacy torch.save stream.
var ErrNotCheckpoint = errors.New("not a PyTorch checkpoint")

// storageType describes one torch.*Storage class.
type storageType struct {
	dtype    string
	elemSize int
}

var storageTypes = map[string]*storageType{
	"FloatStorage":         {"float32", 4},
	"DoubleStorage":        {"float64", 8},
	"HalfStorage":          {"float16", 2},
	"BFloat16Storage":      {"bfloat16", 2},
	"LongStorage":          {"int64", 8},
	"IntStorage":           {"int32", 4},
	"ShortStorage":         {"int16", 2},
	"CharStorage":          {"int8", 1},
	"ByteStorage":          {"uint8", 1},
	"BoolStorage":          {"bool", 1},
	"ComplexFloatStorage":  {"complex64", 8},
	"ComplexDoubleStorage": {"complex128", 16},
}

// storageRef is one storage referenced by the pickle (persistent id).
type storageRef struct {
	file  *File
	typ   *storageType
	key   string
	numel int64 // declared element count
}

// TensorRef is a tensor rebuilt by the pickle: a strided view of a storage.
// Its data is converted only by materialize.
type TensorRef struct {
	storage *storageRef
	offset  int64
	size    []int64
	stride  []int64
}

// legacyStorage locates one storage's data in a legacy-format file.
type legacyStorage struct {
	offset int64 // first data byte
	numel  int64
}

// File is an opened torch.save file.
type File struct {
	format string // "zip" or "legacy"
	ra     io.ReaderAt
	size   int64

	zipPrefix  string
	zipEntries map[string]*zip.File

	legacy map[string]legacyStorage

	storages map[string]*storageRef
	data     map[string][]byte // raw storage bytes read so far
	budget   int64             // float32 elements that may still be materialized
	// readBudget is the number of bytes that may still be decompressed
	// from zip entries or read into storage buffers. It starts at
	// readLimit(size) and is charged before every such read, so the bytes
	// held for one file stay proportional to its size whatever its zip
	// directory or pickle declares.
	readBudget int64
}

// readLimit is the file-wide byte budget of a size-byte file: every
// storage buffer plus every decompressed zip entry (data.pkl, byteorder)
// together. A well-formed checkpoint needs at most its own size, because
// torch.save stores entries uncompressed (ZIP_STORED) and entries never
// share bytes (checked by checkZipLayout); the factor 2 leaves room for
// an archive re-packed with deflate (float weights barely compress), and
// the 64 KiB for tiny files. Deflate itself could expand ~1032:1, which
// is how a few-MB file used to claim gigabytes.
func readLimit(size int64) int64 { return 2*size + 64<<10 }

// charge takes n bytes from the file-wide read budget, or explains why a
// read of n bytes for what is refused.
func (f *File) charge(what string, n int64) error {
	if n < 0 || n > f.readBudget {
		return fmt.Errorf("%s: reading %d more bytes would exceed the %d bytes a %d-byte checkpoint may hold (overlapping or decompression-bomb zip entries?)", what, n, readLimit(f.size), f.size)
	}
	f.readBudget -= n
	return nil
}

// Open parses the container and the main pickle. It returns the
// unpickled root object; storages are resolved but not read.
func Open(ra io.ReaderAt, size int64) (*File, any, error) {
	f := &File{
		ra:       ra,
		size:     size,
		storages: map[string]*storageRef{},
		data:     map[string][]byte{},
		budget:   2*size + 1<<16,

		readBudget: readLimit(size),
	}
	var head [8]byte
	n, err := ra.ReadAt(head[:], 0)
	if n < 2 {
		if err == nil || err == io.EOF {
			return nil, nil, fmt.Errorf("%w: file is %d bytes long", ErrNotCheckpoint, size)
		}
		return nil, nil, fmt.Errorf("reading header: %w", err)
	}
	switch {
	case bytes.HasPrefix(head[:n], []byte("PK\x03\x04")), bytes.HasPrefix(head[:n], []byte("PK\x05\x06")):
		f.format = "zip"
		root, err := f.openZip()
		return f, root, err
	case head[0] == pickleop.Proto:
		f.format = "legacy"
		root, err := f.openLegacy()
		return f, root, err
	}
	return nil, nil, fmt.Errorf("%w: neither a zip archive nor a pickle stream (first bytes % x)", ErrNotCheckpoint, head[:n])
}

func (f *File) openZip() (any, error) {
	zr, err := zip.NewReader(f.ra, f.size)
	if err != nil {
		return nil, fmt.Errorf("%w: bad zip archive: %v", ErrNotCheckpoint, err)
	}
	f.zipEntries = make(map[string]*zip.File, len(zr.File))
	var pkl []string
	for _, e := range zr.File {
		if _, dup := f.zipEntries[e.Name]; dup {
			return nil, fmt.Errorf("zip archive has the entry %q twice", e.Name)
		}
		f.zipEntries[e.Name] = e
		if path.Base(e.Name) == "data.pkl" && strings.Count(e.Name, "/") == 1 {
			pkl = append(pkl, e.Name)
		}
	}
	if err := f.checkZipLayout(zr.File); err != nil {
		return nil, err
	}
	if len(pkl) == 0 {
		return nil, fmt.Errorf("%w: zip archive has no <name>/data.pkl entry", ErrNotCheckpoint)
	}
	if len(pkl) > 1 {
		sort.Strings(pkl)
		return nil, fmt.Errorf("zip archive has %d data.pkl entries (%s)", len(pkl), strings.Join(pkl, ", "))
	}
	f.zipPrefix = strings.TrimSuffix(pkl[0], "data.pkl")
	if bo, ok := f.zipEntries[f.zipPrefix+"byteorder"]; ok {
		b, err := f.readZipEntry(bo, 16)
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return nil, fmt.Errorf("checkpoint byte order %q is not supported (only little-endian)", s)
		}
	}
	e := f.zipEntries[pkl[0]]
	rc, limit, err := f.openZipEntry(e, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	u := newUnpickler(rc, limit, f.persistentLoadZip)
	root, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("unpickling %s: %w", e.Name, err)
	}
	return root, nil
}

// checkZipLayout rejects an archive whose entries share file bytes: every
// entry's data must lie inside the file and no two entries' data ranges
// may overlap. archive/zip accepts central-directory records that all
// point at one local entry, which would let a small file name the same
// megabytes thousands of times under different storage keys.
func (f *File) checkZipLayout(files []*zip.File) error {
	type span struct {
		start, end int64
		name       string
	}
	spans := make([]span, 0, len(files))
	for _, e := range files {
		off, err := e.DataOffset()
		if err != nil {
			return fmt.Errorf("%w: zip entry %s: bad local header: %v", ErrNotCheckpoint, e.Name, err)
		}
		if off < 0 || off > f.size || e.CompressedSize64 > uint64(f.size-off) {
			return fmt.Errorf("zip entry %s: %d bytes at offset %d run past the end of the %d-byte file", e.Name, e.CompressedSize64, off, f.size)
		}
		spans = append(spans, span{off, off + int64(e.CompressedSize64), e.Name})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i := 1; i < len(spans); i++ {
		if p, s := spans[i-1], spans[i]; s.start < p.end {
			return fmt.Errorf("zip entries %s and %s overlap (data at offsets %d and %d): a crafted archive, torch.save never shares bytes between entries", p.name, s.name, p.start, s.start)
		}
	}
	return nil
}

// entryLimit returns the uncompressed size of a zip entry after checking
// it is plausible for this file: a stored entry fits in the file, a
// compressed one in the file-wide read budget (readLimit).
func (f *File) entryLimit(e *zip.File) (int64, error) {
	u := e.UncompressedSize64
	bound := uint64(f.size)
	if e.Method != zip.Store {
		bound = uint64(readLimit(f.size))
	}
	if u > bound || u > math.MaxInt64 {
		return 0, fmt.Errorf("zip entry %s declares %d bytes, more than the file can hold", e.Name, u)
	}
	return int64(u), nil
}

// openZipEntry opens a zip entry of at most max bytes whose size passed
// entryLimit, charged to the read budget; it returns the reader (the caller
// closes it) and the uncompressed size.
func (f *File) openZipEntry(e *zip.File, max int64) (io.ReadCloser, int64, error) {
	n, err := f.entryLimit(e)
	if err != nil {
		return nil, 0, err
	}
	if n > max {
		return nil, 0, fmt.Errorf("zip entry %s is %d bytes, expected at most %d", e.Name, n, max)
	}
	if err := f.charge(e.Name, n); err != nil {
		return nil, 0, err
	}
	rc, err := e.Open()
	if err != nil {
		return nil, 0, fmt.Errorf("opening %s: %w", e.Name, err)
	}
	return rc, n, nil
}

// readZipEntry reads a whole (small) zip entry of at most max bytes.
func (f *File) readZipEntry(e *zip.File, max int64) ([]byte, error) {
	rc, n, err := f.openZipEntry(e, max)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, n+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", e.Name, err)
	}
	return b, nil
}

// parseStoragePID validates the common part of a storage persistent id:
// ('storage', storage_type, key, location, numel, ...).
func parseStoragePID(pid any, want int) (*storageType, string, int64, pyTuple, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != want {
		return nil, "", 0, nil, fmt.Errorf("persistent id is a %s of length %d, want a %d-tuple ('storage', type, key, location, numel)", TypeName(pid), len(t), want)
	}
	if s, ok := t[0].(string); !ok || s != "storage" {
		return nil, "", 0, nil, fmt.Errorf("persistent id of kind %s is not supported (only 'storage')", TypeName(t[0]))
	}
	g, ok := t[1].(*pyGlobal)
	if !ok || g.kind != globalStorageClass {
		return nil, "", 0, nil, fmt.Errorf("storage type is a %s, not a torch storage class", TypeName(t[1]))
	}
	key, ok := t[2].(string)
	if !ok || key == "" || len(key) > 64 {
		return nil, "", 0, nil, fmt.Errorf("storage key is a %s, want a short str", TypeName(t[2]))
	}
	if _, ok := t[3].(string); !ok {
		return nil, "", 0, nil, fmt.Errorf("storage location is a %s, want a str", TypeName(t[3]))
	}
	numel, ok := t[4].(int64)
	if !ok || numel < 0 {
		return nil, "", 0, nil, fmt.Errorf("storage %s element count is not a non-negative int", key)
	}
	return g.storage, key, numel, t, nil
}

// addStorage registers a storage reference; references to one key share it.
func (f *File) addStorage(typ *storageType, key string, numel int64) (*storageRef, error) {
	if numel > f.size {
		return nil, fmt.Errorf("storage %s declares %d elements, more than the %d-byte file can hold", key, numel, f.size)
	}
	if s, ok := f.storages[key]; ok {
		if s.typ != typ || s.numel != numel {
			return nil, fmt.Errorf("storage %s is referenced as %s[%d] and as %s[%d]", key, s.typ.dtype, s.numel, typ.dtype, numel)
		}
		return s, nil
	}
	s := &storageRef{file: f, typ: typ, key: key, numel: numel}
	f.storages[key] = s
	return s, nil
}

func (f *File) persistentLoadZip(pid any) (any, error) {
	typ, key, numel, _, err := parseStoragePID(pid, 5)
	if err != nil {
		return nil, err
	}
	s, err := f.addStorage(typ, key, numel)
	if err != nil {
		return nil, err
	}
	name := f.zipPrefix + "data/" + key
	e, ok := f.zipEntries[name]
	if !ok {
		return nil, fmt.Errorf("storage %s: zip entry %s is missing", key, name)
	}
	n, err := f.entryLimit(e)
	if err != nil {
		return nil, err
	}
	if need := numel * int64(typ.elemSize); n < need {
		return nil, fmt.Errorf("storage %s is shorter than declared: %d bytes, need %d (%d × %s)", key, n, need, numel, typ.dtype)
	}
	return s, nil
}

// legacyMagic is the magic number of the legacy torch.save stream.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// openLegacy reads a legacy (pre-1.6, non-zip) torch.save stream: the
// magic number, protocol and sys_info pickles, the main pickle, then the
// storage key list and the raw storages it locates.
func (f *File) openLegacy() (any, error) {
	off := int64(0)
	next := func(what string, pl func(any) (any, error)) (any, error) {
		u := newUnpickler(io.NewSectionReader(f.ra, off, f.size-off), f.size-off, pl)
		v, err := u.load()
		if err != nil {
			return nil, fmt.Errorf("legacy checkpoint, %s pickle: %w", what, err)
		}
		off += u.pos
		return v, nil
	}
	magic, err := next("magic number", nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotCheckpoint, err)
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, fmt.Errorf("%w: a pickle without the torch.save magic number (a plain pickle file?)", ErrNotCheckpoint)
	}
	proto, err := next("protocol version", nil)
	if err != nil {
		return nil, err
	}
	if p, ok := proto.(int64); !ok || p != 1001 {
		return nil, fmt.Errorf("legacy checkpoint protocol version is not 1001")
	}
	sys, err := next("sys_info", nil)
	if err != nil {
		return nil, err
	}
	if d, ok := sys.(*Dict); ok {
		if le, ok := d.get("little_endian"); ok && le != true {
			return nil, fmt.Errorf("big-endian legacy checkpoints are not supported")
		}
	} else {
		return nil, fmt.Errorf("legacy checkpoint sys_info is a %s, not a dict", TypeName(sys))
	}
	pending := map[string]bool{}
	root, err := next("main", func(pid any) (any, error) {
		typ, key, numel, t, err := parseStoragePID(pid, 6)
		if err != nil {
			return nil, err
		}
		if t[5] != nil {
			return nil, fmt.Errorf("storage %s: legacy storage views are not supported", key)
		}
		pending[key] = true
		return f.addStorage(typ, key, numel)
	})
	if err != nil {
		return nil, err
	}
	keysV, err := next("storage keys", nil)
	if err != nil {
		return nil, err
	}
	if err := f.locateLegacyStorages(keysV, off, pending); err != nil {
		return nil, err
	}
	return root, nil
}

// locateLegacyStorages reads the storage key list of a legacy file and
// records where each storage's data lies: after the list, at off, one
// 8-byte element count and the raw data per key. Every storage the main
// pickle uses (pending) must be listed exactly once.
func (f *File) locateLegacyStorages(keysV any, off int64, pending map[string]bool) error {
	keys, ok := keysV.(*pyList)
	if !ok {
		return fmt.Errorf("legacy checkpoint storage key list is a %s", TypeName(keysV))
	}
	f.legacy = make(map[string]legacyStorage, len(keys.items))
	for _, kv := range keys.items {
		key, ok := kv.(string)
		if !ok {
			return fmt.Errorf("legacy checkpoint storage key is a %s", TypeName(kv))
		}
		s, ok := f.storages[key]
		if !ok {
			return fmt.Errorf("legacy checkpoint lists storage %s that no tensor uses", key)
		}
		if _, dup := f.legacy[key]; dup {
			return fmt.Errorf("legacy checkpoint lists storage %s twice", key)
		}
		var hdr [8]byte
		if off+8 > f.size {
			return fmt.Errorf("storage %s: truncated file (header at offset %d, file is %d bytes)", key, off, f.size)
		}
		if _, err := f.ra.ReadAt(hdr[:], off); err != nil {
			return fmt.Errorf("storage %s: reading header: %w", key, err)
		}
		numel := int64(binary.LittleEndian.Uint64(hdr[:]))
		if numel != s.numel {
			return fmt.Errorf("storage %s: file has %d elements, the pickle declares %d", key, numel, s.numel)
		}
		off += 8
		need := numel * int64(s.typ.elemSize)
		if need > f.size-off {
			return fmt.Errorf("storage %s is shorter than declared: needs %d bytes at offset %d, file is %d bytes (truncated?)", key, need, off, f.size)
		}
		f.legacy[key] = legacyStorage{offset: off, numel: numel}
		off += need
		delete(pending, key)
	}
	if len(pending) > 0 {
		missing := make([]string, 0, len(pending))
		for k := range pending {
			missing = append(missing, k)
		}
		sort.Strings(missing)
		return fmt.Errorf("legacy checkpoint has no data for storages %s", strings.Join(missing, ", "))
	}
	return nil
}

// bytes returns the raw data of a storage (read once, then cached). The
// buffer is charged to the file-wide read budget before it is allocated.
func (s *storageRef) bytes() ([]byte, error) {
	f := s.file
	if b, ok := f.data[s.key]; ok {
		return b, nil
	}
	need := s.numel * int64(s.typ.elemSize)
	if err := f.charge("storage "+s.key, need); err != nil {
		return nil, err
	}
	buf := make([]byte, need)
	switch f.format {
	case "zip":
		e := f.zipEntries[f.zipPrefix+"data/"+s.key]
		total, err := f.entryLimit(e)
		if err != nil {
			return nil, err
		}
		rc, err := e.Open()
		if err != nil {
			return nil, fmt.Errorf("storage %s: %w", s.key, err)
		}
		defer rc.Close()
		if _, err := io.ReadFull(rc, buf); err != nil {
			return nil, fmt.Errorf("storage %s: reading %d bytes: %w", s.key, need, err)
		}
		if total == need {
			// Reach EOF so archive/zip verifies the CRC-32.
			var one [1]byte
			if _, err := rc.Read(one[:]); err != io.EOF {
				if err == nil {
					err = errors.New("entry longer than declared")
				}
				return nil, fmt.Errorf("storage %s: %w", s.key, err)
			}
		}
	case "legacy":
		ls := f.legacy[s.key]
		if _, err := f.ra.ReadAt(buf, ls.offset); err != nil {
			return nil, fmt.Errorf("storage %s: reading %d bytes at offset %d: %w", s.key, need, ls.offset, err)
		}
	}
	f.data[s.key] = buf
	return buf, nil
}

// rebuildTensor implements torch._utils._rebuild_tensor_v2(storage,
// storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
// and the older _rebuild_tensor(storage, storage_offset, size, stride).
func rebuildTensor(g *pyGlobal, args pyTuple) (*TensorRef, error) {
	if g.kind == globalRebuildTensorV2 && (len(args) < 6 || len(args) > 7) || g.kind == globalRebuildTensor && len(args) != 4 {
		return nil, fmt.Errorf("%s called with %d arguments", g, len(args))
	}
	s, ok := args[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("%s: storage is a %s", g, TypeName(args[0]))
	}
	off, ok := args[1].(int64)
	if !ok || off < 0 {
		return nil, fmt.Errorf("%s: storage offset is not a non-negative int", g)
	}
	size, err := intTuple(args[2], "size")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g, err)
	}
	stride, err := intTuple(args[3], "stride")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g, err)
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("%s: size has %d dims but stride has %d", g, len(size), len(stride))
	}
	if len(size) > 16 {
		return nil, fmt.Errorf("%s: %d dimensions (at most 16 supported)", g, len(size))
	}
	t := &TensorRef{storage: s, offset: off, size: size, stride: stride}
	if _, err := t.checkBounds(); err != nil {
		return nil, err
	}
	return t, nil
}

func intTuple(v any, what string) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("%s is a %s, not a tuple", what, TypeName(v))
	}
	out := make([]int64, len(t))
	for i, e := range t {
		n, ok := e.(int64)
		if !ok {
			return nil, fmt.Errorf("%s[%d] is a %s, not an int", what, i, TypeName(e))
		}
		if n < 0 {
			return nil, fmt.Errorf("%s[%d] is negative (%d)", what, i, n)
		}
		out[i] = n
	}
	return out, nil
}

// checkBounds validates that every element of the view lies inside its
// storage and returns the element count.
func (t *TensorRef) checkBounds() (int64, error) {
	numel := int64(1)
	for _, d := range t.size {
		if d == 0 {
			numel = 0
			break
		}
		if numel > math.MaxInt64/d {
			return 0, fmt.Errorf("tensor size %v overflows", t.size)
		}
		numel *= d
	}
	if numel == 0 {
		if t.offset > t.storage.numel {
			return 0, fmt.Errorf("storage offset %d is beyond storage %s of %d elements", t.offset, t.storage.key, t.storage.numel)
		}
		return 0, nil
	}
	if t.offset >= t.storage.numel {
		return 0, fmt.Errorf("storage offset %d is beyond storage %s of %d elements", t.offset, t.storage.key, t.storage.numel)
	}
	last := t.offset
	for i, d := range t.size {
		// (d-1)*stride must stay inside the storage; check without overflow.
		if t.stride[i] != 0 && (d-1) > (t.storage.numel)/t.stride[i] {
			return 0, fmt.Errorf("tensor of size %v, stride %v, offset %d reaches past the end of storage %s (%d elements)", t.size, t.stride, t.offset, t.storage.key, t.storage.numel)
		}
		last += (d - 1) * t.stride[i]
		if last >= t.storage.numel || last < 0 {
			return 0, fmt.Errorf("tensor of size %v, stride %v, offset %d reaches past the end of storage %s (%d elements)", t.size, t.stride, t.offset, t.storage.key, t.storage.numel)
		}
	}
	return numel, nil
}

// contiguous reports whether the view is dense and row-major (size-1
// dimensions may have any stride).
func (t *TensorRef) contiguous() bool {
	want := int64(1)
	for d := len(t.size) - 1; d >= 0; d-- {
		if t.size[d] != 1 && t.stride[d] != want {
			return false
		}
		want *= t.size[d]
	}
	return true
}

// floatDTypes are the storage dtypes converted to float32.
var floatDTypes = map[string]bool{"float32": true, "float16": true, "bfloat16": true, "float64": true}

// materialize converts the view to a float32 Tensor (and F64 for float64
// storages), honouring offset and strides.
func (t *TensorRef) materialize(name string) (*Tensor, error) {
	dt := t.storage.typ.dtype
	if !floatDTypes[dt] {
		return nil, fmt.Errorf("tensor %s has dtype %s; only float32, float16, bfloat16 and float64 are supported", name, dt)
	}
	numel, err := t.checkBounds()
	if err != nil {
		return nil, fmt.Errorf("tensor %s: %w", name, err)
	}
	f := t.storage.file
	if numel > f.budget {
		return nil, fmt.Errorf("tensor %s: %d elements exceed what a %d-byte file can plausibly hold", name, numel, f.size)
	}
	f.budget -= numel
	raw, err := t.storage.bytes()
	if err != nil {
		return nil, fmt.Errorf("tensor %s: %w", name, err)
	}
	out := &Tensor{Name: name, DType: dt, Shape: make([]int, len(t.size)), Data: make([]float32, numel)}
	for i, d := range t.size {
		out.Shape[i] = int(d)
	}
	if dt == "float64" {
		out.F64 = make([]float64, numel)
	}
	if numel == 0 {
		return out, nil
	}
	es := int64(t.storage.typ.elemSize)
	put := func(dst int, src int64) {
		b := raw[src*es : src*es+es]
		switch dt {
		case "float32":
			out.Data[dst] = math.Float32frombits(binary.LittleEndian.Uint32(b))
		case "float16":
			out.Data[dst] = float16.Frombits(binary.LittleEndian.Uint16(b)).Float32()
		case "bfloat16":
			out.Data[dst] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16)
		case "float64":
			v := math.Float64frombits(binary.LittleEndian.Uint64(b))
			out.F64[dst] = v
			out.Data[dst] = float32(v)
		}
	}
	if t.contiguous() && dt == "float32" {
		// fast path: a dense row-major float32 view
		b := raw[t.offset*4 : (t.offset+numel)*4]
		for i := range out.Data {
			out.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	}
	// Walk the view in row-major order with an index odometer.
	nd := len(t.size)
	idx := make([]int64, nd)
	src := t.offset
	for dst := 0; dst < int(numel); dst++ {
		put(dst, src)
		for d := nd - 1; d >= 0; d-- {
			idx[d]++
			src += t.stride[d]
			if idx[d] < t.size[d] {
				break
			}
			src -= t.stride[d] * idx[d]
			idx[d] = 0
		}
	}
	return out, nil
}

// BareTensorKey is the key under which ReadTensorFile returns the tensor of
// a file that holds one tensor rather than a dict (torch.save(x, path)); no
// dict key can be it, since an empty-string key is refused.
const BareTensorKey = ""

// ReadTensorFile loads a torch.save'd flat dict of tensors (such as the
// fixtures' input.pth, expected.pth and scan/*.pth) into Tensors keyed by
// the dict key (Tensor.Name is the key), or a file holding one bare tensor
// (torch.save(x, path)) as a map of that tensor under BareTensorKey.
// Storages of any float dtype are converted to float32 in Data; float64
// storages additionally keep their full-precision values in Tensor.F64. A
// value that is not a tensor is an error naming its key.
func ReadTensorFile(path string) (map[string]*Tensor, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	m, err := readTensorDict(fh, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ReadTensorEntry reads one tensor of a torch.save'd file: a bare tensor
// (returned with key BareTensorKey; pick is not called), or the entry of a
// dict that pick chooses from the dict's keys (in file order; a key that
// is not a string is an error). Only that entry is read, so other entries
// of any type (labels, notes, integer tensors) do not matter; the chosen
// one must be a float tensor.
func ReadTensorEntry(path string, pick func(keys []string) (string, error)) (*Tensor, string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, "", err
	}
	t, key, err := readTensorEntry(fh, st.Size(), pick)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return t, key, nil
}

func readTensorEntry(ra io.ReaderAt, size int64, pick func(keys []string) (string, error)) (*Tensor, string, error) {
	_, root, err := Open(ra, size)
	if err != nil {
		return nil, "", err
	}
	if tr, ok := root.(*TensorRef); ok {
		t, err := tr.materialize("(the file's only tensor)")
		return t, BareTensorKey, err
	}
	d, ok := root.(*Dict)
	if !ok {
		return nil, "", fmt.Errorf("top-level object is a %s, not a tensor or a dict of tensors", TypeName(root))
	}
	keys := make([]string, len(d.keys))
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, "", fmt.Errorf("dict key #%d is a %s, not a str", i, TypeName(k))
		}
		keys[i] = name
	}
	key, err := pick(keys)
	if err != nil {
		return nil, "", err
	}
	i := slices.Index(keys, key)
	if i < 0 {
		return nil, "", fmt.Errorf("no entry %q (keys: %v)", key, keys)
	}
	tr, ok := d.values[i].(*TensorRef)
	if !ok {
		return nil, "", fmt.Errorf("entry %q is a %s, not a tensor", key, TypeName(d.values[i]))
	}
	t, err := tr.materialize(key)
	return t, key, err
}

func readTensorDict(ra io.ReaderAt, size int64) (map[string]*Tensor, error) {
	m, _, err := readTensorDictFile(ra, size)
	return m, err
}

// readTensorDictFile is readTensorDict that also returns the opened file
// (nil if it did not open), so tests can see which storages were read.
func readTensorDictFile(ra io.ReaderAt, size int64) (map[string]*Tensor, *File, error) {
	f, root, err := Open(ra, size)
	if err != nil {
		return nil, f, err
	}
	m, err := tensorDictOf(root)
	return m, f, err
}

func tensorDictOf(root any) (map[string]*Tensor, error) {
	if tr, ok := root.(*TensorRef); ok {
		t, err := tr.materialize("(the file's only tensor)")
		if err != nil {
			return nil, err
		}
		return map[string]*Tensor{BareTensorKey: t}, nil
	}
	d, ok := root.(*Dict)
	if !ok {
		return nil, fmt.Errorf("top-level object is a %s, not a dict of tensors", TypeName(root))
	}
	out := make(map[string]*Tensor, len(d.keys))
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("dict key #%d is a %s, not a str", i, TypeName(k))
		}
		if name == BareTensorKey {
			return nil, fmt.Errorf("dict key #%d is the empty string", i)
		}
		tr, ok := d.values[i].(*TensorRef)
		if !ok {
			return nil, fmt.Errorf("entry %q is a %s, not a tensor", name, TypeName(d.values[i]))
		}
		t, err := tr.materialize(name)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}
