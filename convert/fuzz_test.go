package convert

import (
	"bytes"
	"testing"
)

// FuzzReadCheckpoint feeds arbitrary bytes to the checkpoint reader: it
// must return (a model or) an error, never panic, and never allocate more
// than the input can justify. `go test` runs the seed corpus; run
// `go test ./convert -run '^$' -fuzz FuzzReadCheckpoint -fuzztime 5m` for
// a real search.
func FuzzReadCheckpoint(f *testing.F) {
	for _, name := range []string{"model_legacy.pth", "bf16_legacy.pth", "views_legacy.pth", "model_proto5_legacy.pth", "model_zip.pth", "fp16.pth"} {
		f.Add(readSynthetic(f, name))
	}
	okTensor := tensorDict("0", "FloatStorage", 4, 0, []int64{2, 2}, []int64{2, 1})
	lp := newPK()
	lp.legacy = true
	okLegacyMain := lp.op(opEmptyDict).str("w").tensor("0", "FloatStorage", 4, 0, []int64{2, 2}, []int64{2, 1}).op(opSetItem).stop()
	f.Add(zipOf(f, map[string][]byte{"data.pkl": okTensor, "data/0": f32bytes(4)}))
	f.Add(legacyOf(okLegacyMain, []string{"0"}, []int64{4}, [][]byte{f32bytes(4)}))
	f.Add(legacyOf(newPK().global("argparse", "Namespace").op(opEmptyTuple, opNewObj, opEmptyDict).str("model").str("x").op(opSetItem, opBuild).stop(), nil, nil, nil))
	f.Add(newPK().global("os", "system").stop())
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := readTensorDict(bytes.NewReader(data), int64(len(data))); err == nil {
			var n int
			for _, t := range m {
				n += len(t.Data)
			}
			if int64(n) > 2*int64(len(data))+1<<16 {
				t.Fatalf("%d elements from %d bytes", n, len(data))
			}
		}
		_, _, _ = loadFrom(bytes.NewReader(data), int64(len(data)), Options{})
		_, _, _ = loadFrom(bytes.NewReader(data), int64(len(data)), Options{Weights: WeightsEMA, ClsToken: ClsHead})
	})
}
