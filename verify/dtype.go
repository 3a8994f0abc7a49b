package verify

import (
	"fmt"

	"github.com/vimconvert/vimconvert/graph"
)

// DTypeTolerance is the tolerance CheckFile applies, with
// FileOptions.TolByDType, to a model of element type d: 1e-4 (the float32
// parity bound) for float32 models and 1e-2 for float16 and bfloat16
// models, the bound of their logits against the float32 logits that the
// 16-bit export is held to (README, 16-bit models). The reference is
// always the float32 Go forward pass.
func DTypeTolerance(d graph.DType) float64 {
	if d.Is16Bit() {
		return 1e-2
	}
	return 1e-4
}

// applyDType records the model's element type in the report and, for a
// 16-bit model, replaces Tol by DTypeTolerance when opts.TolByDType is
// set, with a note saying so. A 16-bit model is refused with PerLayer: its
// per-layer copy would need 16-bit initializers read back, which is not
// implemented.
func (fc *fileCheck) applyDType() error {
	d, err := graph.ModelDType(fc.mp)
	if err != nil {
		return fmt.Errorf("%s: %w", fc.onnxPath, err)
	}
	fc.res.DType = string(d)
	if !d.Is16Bit() {
		return nil
	}
	if fc.opts.PerLayer {
		return fmt.Errorf("%s is a %s model: per-layer comparison is implemented for float32 models only", fc.onnxPath, d)
	}
	if !fc.opts.TolByDType || fc.opts.Tol == DTypeTolerance(d) {
		return nil
	}
	tol := DTypeTolerance(d)
	note := fmt.Sprintf("%s model: tolerance %g (the 16-bit bound against float32; not the float32 %g), reference in float32; give --tol to choose another", d, tol, fc.opts.Tol)
	fc.opts.Tol, fc.res.Tol = tol, tol
	fc.res.Notes = append(fc.res.Notes, note)
	fmt.Fprintf(fc.opts.Log, "note: %s\n", note)
	return nil
}
