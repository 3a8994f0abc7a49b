package convert

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// pk builds pickle programs opcode by opcode for hostile-input tests.
type pk struct {
	bytes.Buffer
	legacy bool // storage persistent ids get the legacy 6th element (None)
}

func newPK() *pk               { p := &pk{}; p.Write([]byte{opProto, 2}); return p }
func (p *pk) op(b ...byte) *pk { p.Write(b); return p }
func (p *pk) global(m, n string) *pk {
	p.WriteByte(opGlobal)
	p.WriteString(m + "\n" + n + "\n")
	return p
}
func (p *pk) str(s string) *pk {
	p.WriteByte(opBinUnicode)
	binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}
func (p *pk) int(v int64) *pk {
	if v >= math.MinInt32 && v <= math.MaxInt32 {
		p.WriteByte(opBinInt)
		binary.Write(&p.Buffer, binary.LittleEndian, int32(v))
		return p
	}
	p.Write([]byte{opLong1, 8})
	binary.Write(&p.Buffer, binary.LittleEndian, v)
	return p
}
func (p *pk) tuple(vs ...int64) *pk {
	p.WriteByte(opMark)
	for _, v := range vs {
		p.int(v)
	}
	p.WriteByte(opTuple)
	return p
}

// tensor pushes _rebuild_tensor_v2(storage(key, type, numel), off, size, stride, False, OrderedDict()).
func (p *pk) tensor(key, typ string, numel, off int64, size, stride []int64) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.op(opMark)
	p.op(opMark).str("storage").global("torch", typ).str(key).str("cpu").int(numel)
	if p.legacy {
		p.op(opNone)
	}
	p.op(opTuple, opBinPersID)
	p.int(off).tuple(size...).tuple(stride...)
	p.op(opNewFalse).global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	p.op(opTuple, opReduce)
	return p
}
func (p *pk) stop() []byte { p.WriteByte(opStop); return p.Bytes() }

// tensorDict is {'w': tensor(...)} as a pickle.
func tensorDict(key, typ string, numel, off int64, size, stride []int64) []byte {
	return newPK().op(opEmptyDict).str("w").tensor(key, typ, numel, off, size, stride).op(opSetItem).stop()
}

// zipOf writes a torch-style zip archive holding the given entries
// (names relative to "archive/"), stored uncompressed.
func zipOf(t testing.TB, entries map[string][]byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, name := range sortedKeys(entries) {
		fw, err := w.CreateHeader(&zip.FileHeader{Name: "archive/" + name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(entries[name])
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sortedKeys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func f32bytes(n int) []byte { return make([]byte, 4*n) }

// legacyOf builds a legacy torch.save stream around a main pickle and raw
// storages (key, element count, data).
func legacyOf(main []byte, keys []string, numels []int64, data [][]byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{opProto, 2, opLong1, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, opStop})
	b.Write(newPK().int(1001).stop())
	b.Write(newPK().op(opEmptyDict).str("protocol_version").int(1001).op(opSetItem).str("little_endian").op(opNewTrue, opSetItem).stop())
	b.Write(main)
	kp := newPK().op(opEmptyList, opMark)
	for _, k := range keys {
		kp.str(k)
	}
	b.Write(kp.op(opAppends).stop())
	for i := range keys {
		binary.Write(&b, binary.LittleEndian, numels[i])
		b.Write(data[i])
	}
	return b.Bytes()
}

func readSynthetic(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join(repo.Fixture("synthetic"), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBadInputs feeds every kind of corrupt or hostile file to the reader
// and checks it fails with an error naming the problem.
func TestBadInputs(t *testing.T) {
	good := readSynthetic(t, "bare.pth")
	goodLegacy := readSynthetic(t, "model_legacy.pth")
	okTensor := tensorDict("0", "FloatStorage", 4, 0, []int64{2, 2}, []int64{2, 1})
	lp := newPK()
	lp.legacy = true
	okLegacyMain := lp.op(opEmptyDict).str("w").tensor("0", "FloatStorage", 4, 0, []int64{2, 2}, []int64{2, 1}).op(opSetItem).stop()

	// a real file whose first storage's data has a flipped byte (CRC-32)
	crc := append([]byte(nil), good...)
	if zr, err := zip.NewReader(bytes.NewReader(good), int64(len(good))); err == nil {
		for _, f := range zr.File {
			if strings.HasSuffix(f.Name, "/data/0") {
				off, _ := f.DataOffset()
				crc[off] ^= 0xff
			}
		}
	}
	// a zip entry that declares a huge uncompressed size
	var bomb bytes.Buffer
	{
		w := zip.NewWriter(&bomb)
		fw, _ := w.CreateRaw(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Deflate, CompressedSize64: 10, UncompressedSize64: 1 << 40})
		fw.Write(make([]byte, 10))
		w.Close()
	}
	evil := func(m, n string) []byte {
		return newPK().global(m, n).op(opMark).str("echo pwned").op(opTuple, opReduce).stop()
	}

	tests := []struct {
		name   string
		data   []byte
		want   string // substring of the error
		reason string
	}{
		{"empty", nil, "not a PyTorch checkpoint", "zero bytes"},
		{"text", []byte("hello, this is not a checkpoint"), "not a PyTorch checkpoint", "neither zip nor pickle"},
		{"plain pickle", newPK().int(7).stop(), "magic number", "a pickle that torch.save did not write"},
		{"zip without data.pkl", zipOf(t, map[string][]byte{"version": []byte("3\n")}), "no <name>/data.pkl", "zip of something else"},
		{"truncated zip", good[:len(good)/2], "bad zip archive", "download cut in half"},
		{"truncated zip tail", good[:len(good)-10], "bad zip archive", "end of central directory cut"},
		{"truncated legacy", goodLegacy[:len(goodLegacy)-100], "shorter than declared", "legacy file cut inside the last storage"},
		{"truncated legacy pickle", goodLegacy[:200], "truncated pickle", "legacy file cut inside the main pickle"},
		{"crc mismatch", crc, "checksum", "storage bytes corrupted"},
		{"zip bomb", bomb.Bytes(), "more than the file can hold", "deflate entry declaring 1 TiB"},
		{"os.system", zipOf(t, map[string][]byte{"data.pkl": evil("os", "system")}), `disallowed pickle global os.system`, "classic RCE"},
		{"posix.system", zipOf(t, map[string][]byte{"data.pkl": evil("posix", "system")}), "disallowed pickle global posix.system", "RCE via posix"},
		{"builtins.eval", zipOf(t, map[string][]byte{"data.pkl": evil("builtins", "eval")}), "disallowed pickle global builtins.eval", "eval"},
		{"builtins.exec", zipOf(t, map[string][]byte{"data.pkl": evil("builtins", "exec")}), "disallowed pickle global builtins.exec", "exec"},
		{"subprocess.Popen", zipOf(t, map[string][]byte{"data.pkl": evil("subprocess", "Popen")}), "disallowed pickle global subprocess.Popen", "subprocess"},
		{"builtins.getattr", zipOf(t, map[string][]byte{"data.pkl": evil("builtins", "getattr")}), "disallowed pickle global builtins.getattr", "attribute walk to anything"},
		{"torch.load", zipOf(t, map[string][]byte{"data.pkl": evil("torch", "load")}), "disallowed pickle global torch.load", "a torch function outside the allow-list"},
		{"stack global", zipOf(t, map[string][]byte{"data.pkl": newPK().str("os").str("system").op(opStackGlobal).stop()}), "disallowed pickle global os.system", "protocol-4 STACK_GLOBAL"},
		{"legacy evil", legacyOf(evil("os", "system"), nil, nil, nil), "disallowed pickle global os.system", "hostile legacy file"},
		{"storage shorter", zipOf(t, map[string][]byte{"data.pkl": okTensor, "data/0": f32bytes(3)}), "shorter than declared", "4 floats declared, 3 stored"},
		{"storage missing", zipOf(t, map[string][]byte{"data.pkl": okTensor}), "archive/data/0 is missing", "data entry absent"},
		{"size out of bounds", zipOf(t, map[string][]byte{"data.pkl": tensorDict("0", "FloatStorage", 4, 0, []int64{3, 2}, []int64{2, 1}), "data/0": f32bytes(4)}), "reaches past the end", "6 elements in a 4-element storage"},
		{"stride out of bounds", zipOf(t, map[string][]byte{"data.pkl": tensorDict("0", "FloatStorage", 4, 0, []int64{2, 2}, []int64{3, 1}), "data/0": f32bytes(4)}), "reaches past the end", "stride walks off the storage"},
		{"offset out of bounds", zipOf(t, map[string][]byte{"data.pkl": tensorDict("0", "FloatStorage", 4, 2, []int64{2, 2}, []int64{2, 1}), "data/0": f32bytes(4)}), "reaches past the end", "offset pushes the view out"},
		{"offset beyond storage", zipOf(t, map[string][]byte{"data.pkl": tensorDict("0", "FloatStorage", 4, 1<<62, []int64{1}, []int64{1}), "data/0": f32bytes(4)}), "beyond storage", "overflowing offset"},
		{"negative size", zipOf(t, map[string][]byte{"data.pkl": tensorDict("0", "FloatStorage", 4, 0, []int64{-1}, []int64{1}), "data/0": f32bytes(4)}), "is negative", "negative dimension"},
		{"size overflow", zipOf(t, map[string][]byte{"data.pkl": tensorDict("0", "FloatStorage", 4, 0, []int64{1 << 40, 1 << 40}, []int64{0, 0}), "data/0": f32bytes(4)}), "overflows", "product overflows int64"},
		{"broadcast bomb", zipOf(t, map[string][]byte{"data.pkl": tensorDict("0", "FloatStorage", 4, 0, []int64{1 << 20, 1 << 20}, []int64{0, 0}), "data/0": f32bytes(4)}), "plausibly hold", "stride-0 view of 2^40 elements"},
		{"absurd storage", zipOf(t, map[string][]byte{"data.pkl": tensorDict("0", "FloatStorage", 1<<60, 0, []int64{1}, []int64{1}), "data/0": f32bytes(4)}), "more than the", "2^60-element storage in a tiny file"},
		{"rank mismatch", zipOf(t, map[string][]byte{"data.pkl": tensorDict("0", "FloatStorage", 4, 0, []int64{2, 2}, []int64{1}), "data/0": f32bytes(4)}), "stride has 1", "size and stride disagree"},
		{"int storage", zipOf(t, map[string][]byte{"data.pkl": tensorDict("0", "LongStorage", 4, 0, []int64{4}, []int64{1}), "data/0": make([]byte, 32)}), "dtype int64", "integer weights are not supported"},
		{"not a storage pid", zipOf(t, map[string][]byte{"data.pkl": newPK().str("x").op(opBinPersID).stop()}), "persistent id", "persistent id of the wrong shape"},
		{"module pid", zipOf(t, map[string][]byte{"data.pkl": newPK().op(opMark).str("module").str("a").str("b").str("c").int(1).op(opTuple, opBinPersID).stop()}), "only 'storage'", "a pickled nn.Module class"},
		{"unknown opcode", zipOf(t, map[string][]byte{"data.pkl": newPK().op('i').stop()}), "unsupported pickle opcode", "INST (protocol 0) calls a class"},
		{"no stop", zipOf(t, map[string][]byte{"data.pkl": newPK().op(opEmptyDict).Bytes()}), "no STOP opcode", "pickle ends early"},
		{"stack underflow", zipOf(t, map[string][]byte{"data.pkl": newPK().op(opSetItem).stop()}), "underflow", "SETITEM on an empty stack"},
		{"memo miss", zipOf(t, map[string][]byte{"data.pkl": newPK().op(opBinGet, 5).stop()}), "memo key 5", "BINGET of an unset slot"},
		{"huge string", zipOf(t, map[string][]byte{"data.pkl": newPK().op(opBinUnicode8, 0, 0, 0, 0, 0, 0, 0, 0x10).stop()}), "truncated pickle", "BINUNICODE8 of 2^60 bytes"},
		{"huge bytes", zipOf(t, map[string][]byte{"data.pkl": newPK().op(opBinBytes8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff).stop()}), "truncated pickle", "BINBYTES8 of 2^64-1 bytes"},
		{"huge long", zipOf(t, map[string][]byte{"data.pkl": newPK().op(opLong4, 0xff, 0xff, 0xff, 0x7f).stop()}), "exceeds", "LONG4 of 2 GiB"},
		{"bad protocol", zipOf(t, map[string][]byte{"data.pkl": []byte{opProto, 9, opNone, opStop}}), "protocol 9", "future pickle protocol"},
		{"reduce non-callable", zipOf(t, map[string][]byte{"data.pkl": newPK().str("x").op(opEmptyTuple, opReduce).stop()}), "REDUCE calls a str", "calling a string"},
		{"namespace with args", zipOf(t, map[string][]byte{"data.pkl": newPK().global("argparse", "Namespace").str("x").op(opTuple1, opReduce).stop()}), "called with 1 arguments", "Namespace takes no positional arguments"},
		{"top-level list", zipOf(t, map[string][]byte{"data.pkl": newPK().op(opEmptyList).stop()}), "not a dict", "a list is not a checkpoint"},
		{"non-tensor value", zipOf(t, map[string][]byte{"data.pkl": newPK().op(opEmptyDict).str("w").int(3).op(opSetItem).stop()}), "not a tensor", "a state dict entry that is an int"},
		{"big-endian", zipOf(t, map[string][]byte{"data.pkl": okTensor, "data/0": f32bytes(4), "byteorder": []byte("big")}), "byte order", "big-endian archive"},
		{"legacy unknown key", legacyOf(okLegacyMain, []string{"0", "9"}, []int64{4, 1}, [][]byte{f32bytes(4), f32bytes(1)}), "no tensor uses", "storage list names an unknown storage"},
		{"legacy numel mismatch", legacyOf(okLegacyMain, []string{"0"}, []int64{3}, [][]byte{f32bytes(3)}), "file has 3 elements", "storage header disagrees with the pickle"},
		{"legacy missing storage", legacyOf(okLegacyMain, nil, nil, nil), "no data for storages 0", "storage list omits a storage"},
		{"unhashable key", zipOf(t, map[string][]byte{"data.pkl": newPK().op(opEmptyDict, opEmptyList).int(1).op(opSetItem).stop()}), "unhashable", "a list as a dict key"},
		{"dict holding itself", zipOf(t, map[string][]byte{"data.pkl": newPK().op(opEmptyDict, opBinPut, 0).str("model").op(opBinGet, 0, opSetItem).stop()}), "not a tensor", "d['model'] = d through the memo: no recursion"},
		{"list holding itself", zipOf(t, map[string][]byte{"data.pkl": newPK().op(opEmptyDict).str("model").op(opEmptyList, opDup, opAppend, opSetItem).stop()}), "not a tensor", "l.append(l): no recursion"},
		{"deep nesting", zipOf(t, map[string][]byte{"data.pkl": nested(1e5, opEmptyList, opAppend)}), "not a dict", "10^5 nested lists: nothing walks them recursively"},
		{"deep marks", zipOf(t, map[string][]byte{"data.pkl": nested(1e5, opMark, opTuple)}), "not a dict", "10^5 nested MARK/TUPLE"},
	}
	for _, h := range hostileArchives(t) {
		tests = append(tests, struct {
			name   string
			data   []byte
			want   string
			reason string
		}{h.name, h.data, h.want, h.reason})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readTensorDict(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil {
				t.Fatalf("no error (%s)", tc.reason)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q (%s)", err, tc.want, tc.reason)
			}
			if _, _, err := loadFrom(bytes.NewReader(tc.data), int64(len(tc.data)), Options{}); err == nil {
				t.Errorf("Load accepted it (%s)", tc.reason)
			}
		})
	}
	// the well-formed pieces above are accepted, so the errors come from
	// the defects and not from the builders
	okZip := zipOf(t, map[string][]byte{"data.pkl": okTensor, "data/0": f32bytes(4)})
	if _, err := readTensorDict(bytes.NewReader(okZip), int64(len(okZip))); err != nil {
		t.Errorf("well-formed zip rejected: %v", err)
	}
	okLeg := legacyOf(okLegacyMain, []string{"0"}, []int64{4}, [][]byte{f32bytes(4)})
	if _, err := readTensorDict(bytes.NewReader(okLeg), int64(len(okLeg))); err != nil {
		t.Errorf("well-formed legacy file rejected: %v", err)
	}
	if !errors.Is(func() error {
		_, err := readTensorDict(bytes.NewReader(nil), 0)
		return err
	}(), ErrNotCheckpoint) {
		t.Error("empty input does not wrap ErrNotCheckpoint")
	}
}

// dictOfViews is {'w0': t0, 'w1': t1, ...}: k one-element views, tensor i
// of storage key i declared as numel elements of typ.
func dictOfViews(k int, typ string, numel int64) []byte {
	p := newPK().op(opEmptyDict)
	for i := 0; i < k; i++ {
		key := strconv.Itoa(i)
		p.str("w"+key).tensor(key, typ, numel, 0, []int64{1}, []int64{1}).op(opSetItem)
	}
	return p.stop()
}

// zipEntry is one entry of a hand-made archive.
type zipEntry struct {
	name    string // relative to "archive/"
	data    []byte
	deflate bool
}

// zipWith writes the entries in order, deflating those marked so.
func zipWith(t testing.TB, entries ...zipEntry) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	w.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	for _, e := range entries {
		m := zip.Store
		if e.deflate {
			m = zip.Deflate
		}
		fw, err := w.CreateHeader(&zip.FileHeader{Name: "archive/" + e.name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(e.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// deflateBomb is the review's amplification file scaled down: k deflated
// float64 storages of numel elements (8·numel zero bytes, which deflate
// ~1000:1), each used by a one-element tensor, plus a stored pad so the
// file is big enough for numel ≤ file size. Before the file-wide read
// budget every storage was read whole and cached: 40 storages of 4Mi
// elements made a 5.5 MB file allocate 1280 MB.
func deflateBomb(t testing.TB, k int, numel int64, pad int) []byte {
	es := []zipEntry{{name: "data.pkl", data: dictOfViews(k, "DoubleStorage", numel)}}
	zeros := make([]byte, 8*numel)
	for i := 0; i < k; i++ {
		es = append(es, zipEntry{name: "data/" + strconv.Itoa(i), data: zeros, deflate: true})
	}
	return zipWith(t, append(es, zipEntry{name: "pad", data: make([]byte, pad)})...)
}

// sharedDataZip is the review's overlapping-entries file scaled down: one
// stored storage of s bytes and k central-directory records, all pointing
// at its local header under the names data/0 .. data/k-1. archive/zip
// accepts it; before checkZipLayout each name was read and cached
// separately (3000 records of a 1.69 MB file allocated 3 GB).
func sharedDataZip(t testing.TB, k int, s int) []byte {
	z := zipWith(t, zipEntry{name: "data.pkl", data: dictOfViews(k, "DoubleStorage", int64(s/8))},
		zipEntry{name: "data/0", data: make([]byte, s)})
	eocd := bytes.LastIndex(z, []byte("PK\x05\x06"))
	cdSize := binary.LittleEndian.Uint32(z[eocd+12:])
	cdOff := binary.LittleEndian.Uint32(z[eocd+16:])
	cd := z[cdOff : cdOff+cdSize]
	i := bytes.Index(cd, []byte("archive/data/0"))
	rec := cd[i-46 : i] // the fixed part of data/0's central-directory record
	out := append([]byte(nil), z[:cdOff]...)
	out = append(out, cd...)
	n := len(cd)
	for j := 1; j < k; j++ {
		name := "archive/data/" + strconv.Itoa(j)
		r := append([]byte(nil), rec...)
		binary.LittleEndian.PutUint16(r[28:], uint16(len(name)))
		out = append(append(out, r...), name...)
		n += len(r) + len(name)
	}
	e := append([]byte(nil), z[eocd:eocd+22]...)
	binary.LittleEndian.PutUint16(e[8:], uint16(k+1))
	binary.LittleEndian.PutUint16(e[10:], uint16(k+1))
	binary.LittleEndian.PutUint32(e[12:], uint32(n))
	return append(out, e...)
}

// hostileArchive is a file built to make the reader allocate far more
// than its size.
type hostileArchive struct {
	name   string
	data   []byte
	want   string // substring of the error
	reason string
}

// hostileArchives are the memory-amplification files of the review, small
// enough to run in every test pass. Each must fail with a clear error and
// within the read budget (TestHostileArchivesBoundedMemory).
func hostileArchives(t testing.TB) []hostileArchive {
	// a pickle that is one 4 MiB BINBYTES, deflated to a few KB
	bigPickle := newPK().op(opBinBytes8)
	binary.Write(&bigPickle.Buffer, binary.LittleEndian, uint64(4<<20))
	bigPickle.Write(make([]byte, 4<<20))
	bigPickle.op(opPop, opEmptyDict)
	return []hostileArchive{
		{"deflate bomb per entry", deflateBomb(t, 40, 64<<10, 64<<10), "more than the file can hold",
			"each deflated storage inflates to 512 KiB, more than 2× the ~100 KB file"},
		{"deflate bomb in total", deflateBomb(t, 40, 48<<10, 256<<10), "would exceed",
			"each 384 KiB storage fits the per-entry limit but 40 of them (15 MiB) exceed the file-wide budget of 2× ~300 KB"},
		{"overlapping entries", sharedDataZip(t, 200, 64<<10), "overlap",
			"200 central-directory records share one 64 KiB stored entry (12.8 MB of storages from a 108 KB file)"},
		{"deflated pickle bomb", zipWith(t, zipEntry{name: "data.pkl", data: bigPickle.stop(), deflate: true}), "more than the file can hold",
			"a 4 MiB pickle deflated to a few KB: data.pkl is budgeted like the storages"},
	}
}

// TestHostileArchivesBoundedMemory checks that each hostile archive fails
// with its error while allocating no more than the read budget plus fixed
// overhead (zip directory, decompressor and pickle buffers).
func TestHostileArchivesBoundedMemory(t *testing.T) {
	for _, tc := range hostileArchives(t) {
		t.Run(tc.name, func(t *testing.T) {
			for _, load := range []struct {
				name string
				run  func() error
			}{
				{"readTensorDict", func() error { _, err := readTensorDict(bytes.NewReader(tc.data), int64(len(tc.data))); return err }},
				{"loadFrom", func() error {
					_, _, err := loadFrom(bytes.NewReader(tc.data), int64(len(tc.data)), Options{})
					return err
				}},
			} {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				err := load.run()
				runtime.ReadMemStats(&after)
				alloc := int64(after.TotalAlloc - before.TotalAlloc)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: error %v does not mention %q (%s)", load.name, err, tc.want, tc.reason)
				}
				if bound := readLimit(int64(len(tc.data))) + 2<<20; alloc > bound {
					t.Errorf("%s: allocated %d bytes for a %d-byte file, more than %d (%s)", load.name, alloc, len(tc.data), bound, tc.reason)
				}
				t.Logf("%s: %d-byte file, %d bytes allocated: %v", load.name, len(tc.data), alloc, err)
			}
		})
	}
}

// nested builds n containers each holding the next: n EMPTY_LISTs then
// n-1 APPENDs, or n MARKs then n TUPLEs.
func nested(n int, open, close byte) []byte {
	closes := n - 1
	if open == opMark {
		closes = n
	}
	p := newPK()
	p.Write(bytes.Repeat([]byte{open}, n))
	p.Write(bytes.Repeat([]byte{close}, closes))
	return p.stop()
}
