package convert

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
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
