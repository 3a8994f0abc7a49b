package verify

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

// readInput fills the input of the comparison: FileOptions.Input for a
// float32 model; for a uint8-nhwc model the crops of FileOptions.Pixels,
// fed to the model as they are and to the reference normalised with the
// mean and std the model records, as its graph normalises them.
func (fc *fileCheck) readInput() error {
	format, rec, err := graph.RecordedInput(fc.onnxPath, onnxfile.Metadata(fc.mp))
	if err != nil {
		return err
	}
	if format != graph.InputUint8NHWC {
		fc.x, fc.shape, fc.res.Input, err = fc.opts.Input(fc.m.Config, fc.m.PatchWeight.Shape[1])
		fc.res.InputShape = fc.shape[:]
		return err
	}
	n := rec.InputSize
	if fc.opts.Pixels == nil {
		return fmt.Errorf("%s takes uint8 [B, %d, %d, 3] RGB pixels (input format %s), and no pixel input was given (FileOptions.Pixels)", fc.onnxPath, n, n, format)
	}
	pix, batch, desc, err := fc.opts.Pixels(*rec)
	if err != nil {
		return err
	}
	per := rec.TensorLen()
	if batch < 1 || len(pix) != batch*per {
		return fmt.Errorf("verify: %d pixel bytes for a batch of %d %dx%d RGB crops", len(pix), batch, n, n)
	}
	fc.x = make([]float32, len(pix))
	for i := range batch {
		crop := &preprocess.RGB8{Width: n, Height: n, Pix: pix[i*per : (i+1)*per]}
		if err := rec.Normalize(fc.x[i*per:(i+1)*per], crop); err != nil {
			return err
		}
	}
	fc.pix, fc.shape = pix, [4]int{batch, 3, n, n}
	fc.res.Input = fmt.Sprintf("%s, uint8 NHWC (normalised for the reference: mean %v, std %v)", desc, rec.Mean, rec.Std)
	fc.res.InputShape = []int{batch, n, n, 3}
	return nil
}

// PixelInput returns a FileOptions.Pixels function. With path "" it gives
// batch crops of uniform random bytes from the PCG stream (seed, stream);
// otherwise the image file at path, decoded, resized and cropped with the
// model's recipe (a batch of one). A tensor file (.npy, .pth) is refused:
// normalised floats cannot be turned back into the bytes the model takes.
func PixelInput(path string, batch int, seed, stream uint64) func(r preprocess.Recipe) ([]uint8, int, string, error) {
	return func(r preprocess.Recipe) ([]uint8, int, string, error) {
		n := r.InputSize
		if path == "" {
			if err := runtime.CheckInputSize(batch, 3, n); err != nil {
				return nil, 0, "", fmt.Errorf("batch %d: %w", batch, err)
			}
			rng := rand.New(rand.NewPCG(seed, stream))
			pix := make([]uint8, batch*r.TensorLen())
			for i := range pix {
				pix[i] = uint8(rng.Uint32())
			}
			return pix, batch, fmt.Sprintf("uniform random pixels, seed %d", seed), nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".npy", ".pth", ".pt":
			return nil, 0, "", fmt.Errorf("%s is a float32 tensor file, but the model takes uint8 [B, %d, %d, 3] RGB pixels (input format %s): give an image file instead, or no input for random pixels",
				path, n, n, graph.InputUint8NHWC)
		}
		b, err := preprocess.LoadBatch(r, []string{path}, 1)
		if err != nil {
			return nil, 0, "", err
		}
		pix, err := b.NHWC()
		return pix, 1, path, err
	}
}
