package torchfile_test

import (
	"testing"

	"bytes"
	"github.com/vimconvert/vimconvert/convert/internal/torchsave"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/torchfile"
)

func init() {
	torchfile.LoadCheckpoint = func(data []byte, ema bool) error {
		opts := convert.Options{}
		if ema {
			opts = convert.Options{Weights: convert.WeightsEMA, ClsToken: convert.ClsHead}
		}
		_, _, err := convert.LoadFrom(bytes.NewReader(data), int64(len(data)), opts)
		return err
	}
	torchfile.TinyVimStateDict = func() ([]string, map[string][]int) {
		c := convert.Config{EmbedDim: 2, Depth: 1, DState: 1, DInner: 4, DtRank: 1, DConv: 2, PatchSize: 2, Stride: 2, ImgSize: 4,
			AbsPosEmbed: true, ClsToken: convert.ClsMiddle, InChans: 3, Norm: convert.NormRMS, NumClasses: 3,
			BimambaType: convert.BimambaV2, DivideOut: true, NormEps: 1e-5}
		var names []string
		shapes := map[string][]int{}
		_ = convert.EachTensor(&c, func(key string, s convert.TensorSpec, _ int) error {
			names = append(names, key)
			shapes[key] = s.Shape(&c)
			return nil
		})
		return names, shapes
	}
}

// TestTinyVimSeedsLoad checks the fuzz seeds built from TinyVimStateDict
// are complete Vim checkpoints, so the fuzzer starts from inputs that
// reach the end of the loader, in every format and dtype it seeds.
func TestTinyVimSeedsLoad(t *testing.T) {
	names, shapes := torchfile.TinyVimStateDict()
	for _, s := range []struct {
		storage string
		legacy  bool
	}{{"FloatStorage", false}, {"FloatStorage", true}, {"HalfStorage", false}, {"BFloat16Storage", true}} {
		data := torchsave.StateDict(t, names, shapes, 0, s.storage, s.legacy)
		m, _, err := convert.LoadFrom(bytes.NewReader(data), int64(len(data)), convert.Options{})
		if err != nil || m.Config.SeqLen() != 5 {
			t.Errorf("%s legacy %t (%d bytes): err %v", s.storage, s.legacy, len(data), err)
		}
	}
}
