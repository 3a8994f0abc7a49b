package graph

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// MambaOutConvertOptions controls ConvertMambaOutFile. The zero value
// converts the checkpoint's model weights to the default MambaOut model.
type MambaOutConvertOptions struct {
	// Load picks the weight set read from the checkpoint (mambaout.Load).
	Load mambaout.Options
	// Build picks the exported graph (BuildMambaOut).
	Build MambaOutOptions
	// WriteProgress, when set, is called as the file is written (see
	// WriteFileProgress).
	WriteProgress func(written, total int64)
}

// MambaOutConverted is what ConvertMambaOutFile did.
type MambaOutConverted struct {
	Model *mambaout.Model    // the checkpoint as loaded
	Info  *convert.Info      // how it was read (layout, weight set, variant, assumptions)
	ONNX  *onnxpb.ModelProto // the model written
	Size  int64              // bytes written
	Path  string             // the file written
}

// ConvertMambaOutFile converts the MambaOut checkpoint at ckptPath to an
// ONNX model (input height and width dynamic) written atomically to
// outPath. Like ConvertFile, it refuses a missing checkpoint, a directory
// and an output CheckOutput refuses before reading anything, and leaves
// outPath untouched on any error.
func ConvertMambaOutFile(ckptPath, outPath string, opts MambaOutConvertOptions) (*MambaOutConverted, error) {
	if err := checkConvertPaths(ckptPath, outPath); err != nil {
		return nil, err
	}
	m, info, err := mambaout.Load(ckptPath, opts.Load)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	model, err := BuildMambaOut(m, opts.Build)
	if err != nil {
		return nil, fmt.Errorf("build graph for %s: %w", ckptPath, err)
	}
	if err := WriteFileProgress(model, outPath, opts.WriteProgress); err != nil {
		return nil, err
	}
	fi, err := os.Stat(outPath)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", outPath, err)
	}
	return &MambaOutConverted{Model: m, Info: info, ONNX: model, Size: fi.Size(), Path: outPath}, nil
}

// BuiltArchitecture returns the architecture recorded under
// MetaArchitecture in mp ("" for a model without it, as Vim models built
// by Build have none) and, for a MambaOut model, the mambaout.Config and
// layout it was built with.
func BuiltArchitecture(mp *onnxpb.ModelProto) (arch string, c *mambaout.Config, layout string, err error) {
	props := onnxfile.Metadata(mp)
	arch = props[MetaArchitecture]
	if arch != mambaout.Architecture {
		return arch, nil, "", nil
	}
	c = &mambaout.Config{}
	if err := json.Unmarshal([]byte(props[MetaConfig]), c); err != nil {
		return arch, nil, "", fmt.Errorf("metadata %s: %w", MetaConfig, err)
	}
	return arch, c, props[MetaLayout], nil
}

// String is the summary `vimconvert convert` prints: the checkpoint report
// (mambaout.InspectText), the inputs and outputs, the opset and the file
// written ("" for a nil r, what ConvertMambaOutFile returns on error).
func (r *MambaOutConverted) String() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(mambaout.InspectText(r.Model.Config, r.Info))
	for _, v := range r.ONNX.GetGraph().GetInput() {
		fmt.Fprintf(&b, "%-13s %s %s float32\n", "onnx input", v.GetName(), shapeString(v))
	}
	for _, v := range r.ONNX.GetGraph().GetOutput() {
		fmt.Fprintf(&b, "%-13s %s %s float32\n", "onnx output", v.GetName(), shapeString(v))
	}
	for _, o := range r.ONNX.GetOpsetImport() {
		fmt.Fprintf(&b, "%-13s %d (IR %d), standard ONNX ops only: no plugin needed\n", "opset", o.GetVersion(), r.ONNX.GetIrVersion())
	}
	fmt.Fprintf(&b, "wrote %s (%d bytes)\n", r.Path, r.Size)
	return b.String()
}
