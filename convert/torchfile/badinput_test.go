package torchfile

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"github.com/vimconvert/vimconvert/convert/internal/pickleop"
	"github.com/vimconvert/vimconvert/convert/internal/torchsave"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
)

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
	okTensor := torchsave.TensorDict("0", "FloatStorage", 4, 0, []int64{2, 2}, []int64{2, 1})
	lp := torchsave.NewPK()
	lp.Legacy = true
	okLegacyMain := lp.Op(pickleop.EmptyDict).Str("w").Tensor("0", "FloatStorage", 4, 0, []int64{2, 2}, []int64{2, 1}).Op(pickleop.SetItem).Stop()

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
		return torchsave.NewPK().Global(m, n).Op(pickleop.Mark).Str("echo pwned").Op(pickleop.Tuple, pickleop.Reduce).Stop()
	}

	tests := []struct {
		name   string
		data   []byte
		want   string // substring of the error
		reason string
	}{
		{"empty", nil, "not a PyTorch checkpoint", "zero bytes"},
		{"text", []byte("hello, this is not a checkpoint"), "not a PyTorch checkpoint", "neither zip nor pickle"},
		{"plain pickle", torchsave.NewPK().Int(7).Stop(), "magic number", "a pickle that torch.save did not write"},
		{"zip without data.pkl", torchsave.ZipOf(t, map[string][]byte{"version": []byte("3\n")}), "no <name>/data.pkl", "zip of something else"},
		{"truncated zip", good[:len(good)/2], "bad zip archive", "download cut in half"},
		{"truncated zip tail", good[:len(good)-10], "bad zip archive", "end of central directory cut"},
		{"truncated legacy", goodLegacy[:len(goodLegacy)-100], "shorter than declared", "legacy file cut inside the last storage"},
		{"truncated legacy pickle", goodLegacy[:200], "truncated pickle", "legacy file cut inside the main pickle"},
		{"crc mismatch", crc, "checksum", "storage bytes corrupted"},
		{"zip bomb", bomb.Bytes(), "more than the file can hold", "deflate entry declaring 1 TiB"},
		{"os.system", torchsave.ZipOf(t, map[string][]byte{"data.pkl": evil("os", "system")}), `disallowed pickle global os.system`, "classic RCE"},
		{"posix.system", torchsave.ZipOf(t, map[string][]byte{"data.pkl": evil("posix", "system")}), "disallowed pickle global posix.system", "RCE via posix"},
		{"builtins.eval", torchsave.ZipOf(t, map[string][]byte{"data.pkl": evil("builtins", "eval")}), "disallowed pickle global builtins.eval", "eval"},
		{"builtins.exec", torchsave.ZipOf(t, map[string][]byte{"data.pkl": evil("builtins", "exec")}), "disallowed pickle global builtins.exec", "exec"},
		{"subprocess.Popen", torchsave.ZipOf(t, map[string][]byte{"data.pkl": evil("subprocess", "Popen")}), "disallowed pickle global subprocess.Popen", "subprocess"},
		{"whole model", torchsave.ZipOf(t, map[string][]byte{"data.pkl": evil("models_mamba", "VisionMamba")}), "disallowed pickle global models_mamba.VisionMamba (only torch tensor/storage rebuilders, collections.OrderedDict and argparse.Namespace are allowed; a pickled object of a class, such as a whole model saved with torch.save(model), can only be rebuilt by running its code, which a checkpoint reader must not do: save model.state_dict() instead)", "torch.save(model): the error says what to save instead"},
		{"builtins.getattr", torchsave.ZipOf(t, map[string][]byte{"data.pkl": evil("builtins", "getattr")}), "disallowed pickle global builtins.getattr", "attribute walk to anything"},
		{"torch.load", torchsave.ZipOf(t, map[string][]byte{"data.pkl": evil("torch", "load")}), "disallowed pickle global torch.load", "a torch function outside the allow-list"},
		{"stack global", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Str("os").Str("system").Op(pickleop.StackGlobal).Stop()}), "disallowed pickle global os.system", "protocol-4 STACK_GLOBAL"},
		{"legacy evil", torchsave.LegacyOf(evil("os", "system"), nil, nil, nil), "disallowed pickle global os.system", "hostile legacy file"},
		{"storage shorter", torchsave.ZipOf(t, map[string][]byte{"data.pkl": okTensor, "data/0": torchsave.F32Bytes(3)}), "shorter than declared", "4 floats declared, 3 stored"},
		{"storage missing", torchsave.ZipOf(t, map[string][]byte{"data.pkl": okTensor}), "archive/data/0 is missing", "data entry absent"},
		{"size out of bounds", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.TensorDict("0", "FloatStorage", 4, 0, []int64{3, 2}, []int64{2, 1}), "data/0": torchsave.F32Bytes(4)}), "reaches past the end", "6 elements in a 4-element storage"},
		{"stride out of bounds", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.TensorDict("0", "FloatStorage", 4, 0, []int64{2, 2}, []int64{3, 1}), "data/0": torchsave.F32Bytes(4)}), "reaches past the end", "stride walks off the storage"},
		{"offset out of bounds", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.TensorDict("0", "FloatStorage", 4, 2, []int64{2, 2}, []int64{2, 1}), "data/0": torchsave.F32Bytes(4)}), "reaches past the end", "offset pushes the view out"},
		{"offset beyond storage", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.TensorDict("0", "FloatStorage", 4, 1<<62, []int64{1}, []int64{1}), "data/0": torchsave.F32Bytes(4)}), "beyond storage", "overflowing offset"},
		{"negative size", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.TensorDict("0", "FloatStorage", 4, 0, []int64{-1}, []int64{1}), "data/0": torchsave.F32Bytes(4)}), "is negative", "negative dimension"},
		{"size overflow", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.TensorDict("0", "FloatStorage", 4, 0, []int64{1 << 40, 1 << 40}, []int64{0, 0}), "data/0": torchsave.F32Bytes(4)}), "overflows", "product overflows int64"},
		{"broadcast bomb", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.TensorDict("0", "FloatStorage", 4, 0, []int64{1 << 20, 1 << 20}, []int64{0, 0}), "data/0": torchsave.F32Bytes(4)}), "plausibly hold", "stride-0 view of 2^40 elements"},
		{"absurd storage", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.TensorDict("0", "FloatStorage", 1<<60, 0, []int64{1}, []int64{1}), "data/0": torchsave.F32Bytes(4)}), "more than the", "2^60-element storage in a tiny file"},
		{"rank mismatch", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.TensorDict("0", "FloatStorage", 4, 0, []int64{2, 2}, []int64{1}), "data/0": torchsave.F32Bytes(4)}), "stride has 1", "size and stride disagree"},
		{"int storage", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.TensorDict("0", "LongStorage", 4, 0, []int64{4}, []int64{1}), "data/0": make([]byte, 32)}), "dtype int64", "integer weights are not supported"},
		{"not a storage pid", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Str("x").Op(pickleop.BinPersID).Stop()}), "persistent id", "persistent id of the wrong shape"},
		{"module pid", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op(pickleop.Mark).Str("module").Str("a").Str("b").Str("c").Int(1).Op(pickleop.Tuple, pickleop.BinPersID).Stop()}), "only 'storage'", "a pickled nn.Module class"},
		{"unknown opcode", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op('i').Stop()}), "unsupported pickle opcode", "INST (protocol 0) calls a class"},
		{"no stop", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op(pickleop.EmptyDict).Bytes()}), "no STOP opcode", "pickle ends early"},
		{"stack underflow", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op(pickleop.SetItem).Stop()}), "underflow", "SETITEM on an empty stack"},
		{"memo miss", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op(pickleop.BinGet, 5).Stop()}), "memo key 5", "BINGET of an unset slot"},
		{"huge string", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op(pickleop.BinUnicode8, 0, 0, 0, 0, 0, 0, 0, 0x10).Stop()}), "truncated pickle", "BINUNICODE8 of 2^60 bytes"},
		{"huge bytes", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op(pickleop.BinBytes8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff).Stop()}), "truncated pickle", "BINBYTES8 of 2^64-1 bytes"},
		{"huge long", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op(pickleop.Long4, 0xff, 0xff, 0xff, 0x7f).Stop()}), "exceeds", "LONG4 of 2 GiB"},
		{"bad protocol", torchsave.ZipOf(t, map[string][]byte{"data.pkl": []byte{pickleop.Proto, 9, pickleop.None, pickleop.Stop}}), "protocol 9", "future pickle protocol"},
		{"reduce non-callable", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Str("x").Op(pickleop.EmptyTuple, pickleop.Reduce).Stop()}), "REDUCE calls a str", "calling a string"},
		{"namespace with args", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Global("argparse", "Namespace").Str("x").Op(pickleop.Tuple1, pickleop.Reduce).Stop()}), "called with 1 arguments", "Namespace takes no positional arguments"},
		{"top-level list", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op(pickleop.EmptyList).Stop()}), "not a dict", "a list is not a checkpoint"},
		{"non-tensor value", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op(pickleop.EmptyDict).Str("w").Int(3).Op(pickleop.SetItem).Stop()}), "not a tensor", "a state dict entry that is an int"},
		{"big-endian", torchsave.ZipOf(t, map[string][]byte{"data.pkl": okTensor, "data/0": torchsave.F32Bytes(4), "byteorder": []byte("big")}), "byte order", "big-endian archive"},
		{"legacy unknown key", torchsave.LegacyOf(okLegacyMain, []string{"0", "9"}, []int64{4, 1}, [][]byte{torchsave.F32Bytes(4), torchsave.F32Bytes(1)}), "no tensor uses", "storage list names an unknown storage"},
		{"legacy numel mismatch", torchsave.LegacyOf(okLegacyMain, []string{"0"}, []int64{3}, [][]byte{torchsave.F32Bytes(3)}), "file has 3 elements", "storage header disagrees with the pickle"},
		{"legacy missing storage", torchsave.LegacyOf(okLegacyMain, nil, nil, nil), "no data for storages 0", "storage list omits a storage"},
		{"unhashable key", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op(pickleop.EmptyDict, pickleop.EmptyList).Int(1).Op(pickleop.SetItem).Stop()}), "unhashable", "a list as a dict key"},
		{"dict holding itself", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op(pickleop.EmptyDict, pickleop.BinPut, 0).Str("model").Op(pickleop.BinGet, 0, pickleop.SetItem).Stop()}), "not a tensor", "d['model'] = d through the memo: no recursion"},
		{"list holding itself", torchsave.ZipOf(t, map[string][]byte{"data.pkl": torchsave.NewPK().Op(pickleop.EmptyDict).Str("model").Op(pickleop.EmptyList, pickleop.Dup, pickleop.Append, pickleop.SetItem).Stop()}), "not a tensor", "l.append(l): no recursion"},
		{"deep nesting", torchsave.ZipOf(t, map[string][]byte{"data.pkl": nested(1e5, pickleop.EmptyList, pickleop.Append)}), "not a dict", "10^5 nested lists: nothing walks them recursively"},
		{"deep marks", torchsave.ZipOf(t, map[string][]byte{"data.pkl": nested(1e5, pickleop.Mark, pickleop.Tuple)}), "not a dict", "10^5 nested MARK/TUPLE"},
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
			if err := LoadCheckpoint(tc.data, false); err == nil {
				t.Errorf("Load accepted it (%s)", tc.reason)
			}
		})
	}
	// the well-formed pieces above are accepted, so the errors come from
	// the defects and not from the builders
	okZip := torchsave.ZipOf(t, map[string][]byte{"data.pkl": okTensor, "data/0": torchsave.F32Bytes(4)})
	if _, err := readTensorDict(bytes.NewReader(okZip), int64(len(okZip))); err != nil {
		t.Errorf("well-formed zip rejected: %v", err)
	}
	okLeg := torchsave.LegacyOf(okLegacyMain, []string{"0"}, []int64{4}, [][]byte{torchsave.F32Bytes(4)})
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
	p := torchsave.NewPK().Op(pickleop.EmptyDict)
	for i := 0; i < k; i++ {
		key := strconv.Itoa(i)
		p.Str("w"+key).Tensor(key, typ, numel, 0, []int64{1}, []int64{1}).Op(pickleop.SetItem)
	}
	return p.Stop()
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
	bigPickle := torchsave.NewPK().Op(pickleop.BinBytes8)
	binary.Write(&bigPickle.Buffer, binary.LittleEndian, uint64(4<<20))
	bigPickle.Write(make([]byte, 4<<20))
	bigPickle.Op(pickleop.Pop, pickleop.EmptyDict)
	return []hostileArchive{
		{"deflate bomb per entry", deflateBomb(t, 40, 64<<10, 64<<10), "more than the file can hold",
			"each deflated storage inflates to 512 KiB, more than 2× the ~100 KB file"},
		{"deflate bomb in total", deflateBomb(t, 40, 48<<10, 256<<10), "would exceed",
			"each 384 KiB storage fits the per-entry limit but 40 of them (15 MiB) exceed the file-wide budget of 2× ~300 KB"},
		{"overlapping entries", sharedDataZip(t, 200, 64<<10), "overlap",
			"200 central-directory records share one 64 KiB stored entry (12.8 MB of storages from a 108 KB file)"},
		{"deflated pickle bomb", zipWith(t, zipEntry{name: "data.pkl", data: bigPickle.Stop(), deflate: true}), "more than the file can hold",
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
				{"loadFrom", func() error { return LoadCheckpoint(tc.data, false) }},
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
	if open == pickleop.Mark {
		closes = n
	}
	p := torchsave.NewPK()
	p.Write(bytes.Repeat([]byte{open}, n))
	p.Write(bytes.Repeat([]byte{close}, closes))
	return p.Stop()
}
