package torchfile

import (
	"bytes"
	"github.com/vimconvert/vimconvert/convert/internal/pickleop"
	"github.com/vimconvert/vimconvert/convert/internal/torchsave"
	"io"
	"testing"
)

// FuzzReadCheckpoint feeds arbitrary bytes to the checkpoint reader (and
// the Vim loader behind it): it must return (a model or) an error, never
// panic, and never allocate more than the input can justify. `go test`
// runs the seed corpus; run `go test ./convert/torchfile -run '^$' -fuzz
// FuzzReadCheckpoint -fuzztime 5m -fuzzminimizetime 2s` for a real search.
func FuzzReadCheckpoint(f *testing.F) {
	// Seeds stay small (a few KB) so that mutation and minimisation are
	// fast: a one-block Vim state dict in both formats and three dtypes,
	// a training layout, then single tensors and hostile archives.
	names, shapes := TinyVimStateDict()
	for _, s := range []struct {
		storage string
		legacy  bool
		args    int64
	}{{"FloatStorage", false, 0}, {"FloatStorage", true, 4}, {"HalfStorage", false, 0}, {"BFloat16Storage", true, 0}} {
		f.Add(torchsave.StateDict(f, names, shapes, s.args, s.storage, s.legacy))
	}
	okTensor := torchsave.TensorDict("0", "FloatStorage", 4, 0, []int64{2, 2}, []int64{2, 1})
	lp := torchsave.NewPK()
	lp.Legacy = true
	okLegacyMain := lp.Op(pickleop.EmptyDict).Str("w").Tensor("0", "FloatStorage", 4, 0, []int64{2, 2}, []int64{2, 1}).Op(pickleop.SetItem).Stop()
	f.Add(torchsave.ZipOf(f, map[string][]byte{"data.pkl": okTensor, "data/0": torchsave.F32Bytes(4)}))
	f.Add(torchsave.LegacyOf(okLegacyMain, []string{"0"}, []int64{4}, [][]byte{torchsave.F32Bytes(4)}))
	f.Add(torchsave.LegacyOf(torchsave.NewPK().Global("argparse", "Namespace").Op(pickleop.EmptyTuple, pickleop.NewObj, pickleop.EmptyDict).Str("model").Str("x").Op(pickleop.SetItem, pickleop.Build).Stop(), nil, nil, nil))
	f.Add(torchsave.NewPK().Global("os", "system").Stop())
	f.Add(deflateBomb(f, 4, 2<<10, 2<<10))
	f.Add(sharedDataZip(f, 4, 1<<10))
	f.Fuzz(func(t *testing.T, data []byte) {
		size := int64(len(data))
		ra := &countingReaderAt{r: bytes.NewReader(data)}
		m, tf, err := readTensorDictFile(ra, size)
		if err == nil {
			var n int
			for _, t := range m {
				n += len(t.Data)
			}
			if int64(n) > 2*size+1<<16 {
				t.Fatalf("%d elements from %d bytes", n, len(data))
			}
		}
		// Storage bytes held, counted from the buffers themselves (not
		// from the reader's own budget), stay within 2× the file; bytes
		// fetched from the file stay a small multiple of it (zip
		// directory, local headers, 64 KiB pickle read-ahead), so no
		// two storages re-read the same bytes.
		if tf != nil {
			var held int64
			for _, b := range tf.data {
				held += int64(len(b))
			}
			if held > readLimit(size) {
				t.Fatalf("%d storage bytes held for a %d-byte file", held, size)
			}
		}
		if ra.n > 4*size+1<<20 {
			t.Fatalf("%d bytes read from a %d-byte file", ra.n, size)
		}
		_ = LoadCheckpoint(data, false)
		_ = LoadCheckpoint(data, true)
	})
}

// countingReaderAt counts the bytes ReadAt returns.
type countingReaderAt struct {
	r io.ReaderAt
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}
