package torchfile_test

import (
	"bytes"

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
}
