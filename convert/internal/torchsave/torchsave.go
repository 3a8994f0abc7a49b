// Package torchsave writes small torch.save files (zip archive and legacy
// stream) from hand-built pickle programs, for the tests of the checkpoint
// reader and loader: well-formed ones and deliberately hostile ones. It is
// test support (with the fixture manifest readers they share) and must
// not be used by production code.
package torchsave

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/internal/testutil"

	"github.com/vimconvert/vimconvert/convert/internal/pickleop"
)

// PK builds pickle programs opcode by opcode.
type PK struct {
	bytes.Buffer
	Legacy bool // storage persistent ids get the legacy 6th element (None)
}

// NewPK starts a protocol-2 pickle program.
func NewPK() *PK { p := &PK{}; p.Write([]byte{pickleop.Proto, 2}); return p }

// Op appends raw opcodes and arguments.
func (p *PK) Op(b ...byte) *PK { p.Write(b); return p }

// Global pushes the global module.name.
func (p *PK) Global(m, n string) *PK {
	p.WriteByte(pickleop.Global)
	p.WriteString(m + "\n" + n + "\n")
	return p
}

// Str pushes a str.
func (p *PK) Str(s string) *PK {
	p.WriteByte(pickleop.BinUnicode)
	binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

// Int pushes an int (LONG1 beyond int32).
func (p *PK) Int(v int64) *PK {
	if v >= math.MinInt32 && v <= math.MaxInt32 {
		p.WriteByte(pickleop.BinInt)
		binary.Write(&p.Buffer, binary.LittleEndian, int32(v))
		return p
	}
	p.Write([]byte{pickleop.Long1, 8})
	binary.Write(&p.Buffer, binary.LittleEndian, v)
	return p
}

// Tuple pushes a tuple of ints.
func (p *PK) Tuple(vs ...int64) *PK {
	p.WriteByte(pickleop.Mark)
	for _, v := range vs {
		p.Int(v)
	}
	p.WriteByte(pickleop.Tuple)
	return p
}

// Tensor pushes _rebuild_tensor_v2(storage(key, type, numel), off, size, stride, False, OrderedDict()).
func (p *PK) Tensor(key, typ string, numel, off int64, size, stride []int64) *PK {
	p.Global("torch._utils", "_rebuild_tensor_v2")
	p.Op(pickleop.Mark)
	p.Op(pickleop.Mark).Str("storage").Global("torch", typ).Str(key).Str("cpu").Int(numel)
	if p.Legacy {
		p.Op(pickleop.None)
	}
	p.Op(pickleop.Tuple, pickleop.BinPersID)
	p.Int(off).Tuple(size...).Tuple(stride...)
	p.Op(pickleop.NewFalse).Global("collections", "OrderedDict").Op(pickleop.EmptyTuple, pickleop.Reduce)
	p.Op(pickleop.Tuple, pickleop.Reduce)
	return p
}

// Stop appends STOP and returns the program.
func (p *PK) Stop() []byte { p.WriteByte(pickleop.Stop); return p.Bytes() }

// TensorDict returns {'w': tensor(...)} as a pickle.
func TensorDict(key, typ string, numel, off int64, size, stride []int64) []byte {
	return NewPK().Op(pickleop.EmptyDict).Str("w").Tensor(key, typ, numel, off, size, stride).Op(pickleop.SetItem).Stop()
}

// ZipOf returns a torch-style zip archive holding the given entries
// (names relative to "archive/"), stored uncompressed.
func ZipOf(t testing.TB, entries map[string][]byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, name := range slices.Sorted(maps.Keys(entries)) {
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

// F32Bytes returns n zero float32 values as bytes.
func F32Bytes(n int) []byte { return make([]byte, 4*n) }

// LegacyOf returns a legacy torch.save stream around a main pickle and raw
// storages (key, element count, data).
func LegacyOf(main []byte, keys []string, numels []int64, data [][]byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{pickleop.Proto, 2, pickleop.Long1, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, pickleop.Stop})
	b.Write(NewPK().Int(1001).Stop())
	b.Write(NewPK().Op(pickleop.EmptyDict).Str("protocol_version").Int(1001).Op(pickleop.SetItem).Str("little_endian").Op(pickleop.NewTrue, pickleop.SetItem).Stop())
	b.Write(main)
	kp := NewPK().Op(pickleop.EmptyList, pickleop.Mark)
	for _, k := range keys {
		kp.Str(k)
	}
	b.Write(kp.Op(pickleop.Appends).Stop())
	for i := range keys {
		binary.Write(&b, binary.LittleEndian, numels[i])
		b.Write(data[i])
	}
	return b.Bytes()
}

// elemSize is the bytes per element of the storage types StateDict writes.
var elemSize = map[string]int{"FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "DoubleStorage": 8}

// StateDict returns a checkpoint holding {'model': sd}, sd mapping each
// name to a zero contiguous tensor of its shape in a storage of type
// storage ("FloatStorage", "HalfStorage", "BFloat16Storage" or
// "DoubleStorage"); when inputSize > 0 it also holds 'args', an
// argparse.Namespace with that input_size (a training checkpoint). The
// file is a zip archive, or a legacy stream when legacy is set.
func StateDict(t testing.TB, names []string, shapes map[string][]int, inputSize int64, storage string, legacy bool) []byte {
	return stateDict(t, names, shapes, storage, legacy, func(p *PK) {
		if inputSize > 0 {
			p.Str("args").Global("argparse", "Namespace").Op(pickleop.EmptyTuple, pickleop.NewObj, pickleop.EmptyDict).Str("input_size").Int(inputSize).Op(pickleop.SetItem, pickleop.Build, pickleop.SetItem)
		}
	})
}

// StateDictArgsDict is StateDict (float32, zip) with 'args' a plain dict
// holding model and input_size, as vars(args) saves them.
func StateDictArgsDict(t testing.TB, names []string, shapes map[string][]int, model string, inputSize int64) []byte {
	return stateDict(t, names, shapes, "FloatStorage", false, func(p *PK) {
		p.Str("args").Op(pickleop.EmptyDict).Str("model").Str(model).Op(pickleop.SetItem).Str("input_size").Int(inputSize).Op(pickleop.SetItem, pickleop.SetItem)
	})
}

// StateDictTimmArgs is StateDict (float32, zip) with 'args' a plain dict of
// timm's train.py size arguments: input_size a tuple (absent when nil) and
// img_size an int (absent when 0).
func StateDictTimmArgs(t testing.TB, names []string, shapes map[string][]int, inputSize []int64, imgSize int64) []byte {
	return stateDict(t, names, shapes, "FloatStorage", false, func(p *PK) {
		p.Str("args").Op(pickleop.EmptyDict)
		if inputSize != nil {
			p.Str("input_size").Tuple(inputSize...).Op(pickleop.SetItem)
		}
		if imgSize > 0 {
			p.Str("img_size").Int(imgSize).Op(pickleop.SetItem)
		}
		p.Op(pickleop.SetItem)
	})
}

// stateDict writes {'model': sd} after the entries args writes into the
// top-level dict (see StateDict).
func stateDict(t testing.TB, names []string, shapes map[string][]int, storage string, legacy bool, args func(p *PK)) []byte {
	es, ok := elemSize[storage]
	if !ok {
		t.Fatalf("torchsave: unknown storage type %s", storage)
	}
	p := NewPK()
	p.Legacy = legacy
	p.Op(pickleop.EmptyDict)
	args(p)
	p.Str("model").Op(pickleop.EmptyDict, pickleop.Mark)
	entries := map[string][]byte{}
	var keys []string
	var numels []int64
	var data [][]byte
	for i, name := range names {
		shape := shapes[name]
		size := make([]int64, len(shape))
		stride := make([]int64, len(shape))
		n := int64(1)
		for d := len(shape) - 1; d >= 0; d-- {
			size[d], stride[d] = int64(shape[d]), n
			n *= int64(shape[d])
		}
		key := strconv.Itoa(i)
		p.Str(name).Tensor(key, storage, n, 0, size, stride)
		entries["data/"+key] = make([]byte, int(n)*es)
		keys, numels, data = append(keys, key), append(numels, n), append(data, entries["data/"+key])
	}
	main := p.Op(pickleop.SetItems, pickleop.SetItem).Stop()
	if legacy {
		return LegacyOf(main, keys, numels, data)
	}
	entries["data.pkl"] = main
	return ZipOf(t, entries)
}

// ReadManifest decodes fixtures/manifest.json into v (the part a test
// reads), failing t when it cannot.
func ReadManifest(t testing.TB, v any) {
	t.Helper()
	testutil.ReadJSON(t, repo.Fixture("manifest.json"), v)
}

// Manifest returns fixtures/manifest.json decoded as a T (the part a test
// reads), failing t when it cannot.
func Manifest[T any](t testing.TB) *T {
	t.Helper()
	var m T
	ReadManifest(t, &m)
	return &m
}

// FixturePath returns the bundled copy of a manifest path, else the
// shared copy, else "".
func FixturePath(rel string) string {
	if p := repo.Fixture(filepath.FromSlash(rel)); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return repo.SharedFixture(filepath.FromSlash(rel))
}
