package verify

import (
	"fmt"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
)

// fitInput checks the input shape against the model (graph.CheckInputShape)
// and, for a dynamic-size model run at another size than the checkpoint's,
// resamples the reference model's pos_embed to that size as the graph does
// (convert.ResizePosEmbedHW), so that both compute the same function.
func (fc *fileCheck) fitInput() error {
	dynamic, err := graph.CheckInputShape(fc.onnxPath, fc.mp, fc.shape[:])
	if err != nil || !dynamic {
		return err
	}
	h, w := fc.shape[2], fc.shape[3]
	c := fc.m.Config
	if h == c.ImgSize && w == c.Width() {
		return nil
	}
	m := *fc.m
	if err := convert.ResizePosEmbedHW(&m, h, w); err != nil {
		return fmt.Errorf("reference at %d×%d: %w", h, w, err)
	}
	fc.native, fc.m = fc.m, &m
	fc.res.Notes = append(fc.res.Notes, fmt.Sprintf("dynamic-size model run at %d×%d: the reference's pos_embed was resampled to that size (as --img-size %dx%d does)", h, w, h, w))
	return nil
}

// perLayerModel is the model a per-layer copy is built from: the
// checkpoint at the ONNX model's own geometry (for a dynamic-size model,
// before fitInput resized it for the reference).
func (fc *fileCheck) perLayerModel() *convert.Model {
	if fc.native != nil {
		return fc.native
	}
	return fc.m
}
