package graph

import (
	"context"
	"encoding/json"
	"fmt"
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
// outPath, its Provenance recorded under MetaProvenance as ConvertFile
// records a Vim model's. Like ConvertFile, it refuses a missing checkpoint, a directory
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
	size, err := writeConverted(context.Background(), model, info, outPath, opts.WriteProgress)
	if err != nil {
		return nil, err
	}
	return &MambaOutConverted{Model: m, Info: info, ONNX: model, Size: size, Path: outPath}, nil
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

// IsMambaOutModel reports whether path is a .onnx file exported by
// vimconvert from a MambaOut checkpoint; false when it is not one or
// cannot be read (the caller's own read reports why).
func IsMambaOutModel(path string) bool {
	if !onnxfile.IsModelPath(path) {
		return false
	}
	mp, err := onnxfile.ReadFile(path)
	if err != nil {
		return false
	}
	a, _, _, err := BuiltArchitecture(mp)
	return err == nil && a == mambaout.Architecture
}

// MambaOutInfo is a MambaOut model exported by vimconvert, read back:
// what `vimconvert inspect MODEL.onnx` reports.
type MambaOutInfo struct {
	Config     *mambaout.Config
	Preprocess mambaout.Preprocess // the evaluation preprocessing recorded under MetaPreprocess
	// Info describes the model as mambaout.Load describes a checkpoint:
	// Path is the model, Format "onnx", and the layout, weight set,
	// assumptions and warnings are the source checkpoint's, from the
	// provenance.
	Info       *convert.Info
	Provenance *Provenance // nil for a model converted before it was recorded
}

// ReadMambaOutInfo reads back the MambaOut model at path; a model of
// another architecture is refused, naming it.
func ReadMambaOutInfo(path string) (*MambaOutInfo, error) {
	mp, err := onnxfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	a, c, _, err := BuiltArchitecture(mp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if a != mambaout.Architecture {
		return nil, fmt.Errorf("%s is not a MambaOut model exported by vimconvert (metadata %s %q)", path, MetaArchitecture, a)
	}
	r := &MambaOutInfo{Config: c}
	if err := json.Unmarshal([]byte(onnxfile.Metadata(mp)[MetaPreprocess]), &r.Preprocess); err != nil {
		return nil, fmt.Errorf("%s: metadata %s: %w", path, MetaPreprocess, err)
	}
	r.Info = &convert.Info{Path: path, Format: "onnx", DType: "float32", DTypes: map[string]int{}}
	for _, ts := range mambaout.Schema(c) {
		r.Info.TensorCount++
		n := int64(1)
		for _, d := range ts.Shape {
			n *= int64(d)
		}
		r.Info.ParamCount += n
	}
	r.Info.DTypes["float32"] = r.Info.TensorCount
	r.Info.Variant, r.Info.VariantNote = mambaout.MatchVariant(*c)
	p, ok, err := ReadProvenance(path, mp)
	if err != nil {
		return nil, err
	}
	if !ok {
		r.Info.Source = NoProvenanceSource
		return r, nil
	}
	r.Provenance = &p
	p.describe(r.Info)
	return r, nil
}

// MambaOutReport reads back the MambaOut model at path and returns what
// `vimconvert inspect` prints for it (mambaout.Report).
func MambaOutReport(path string, asJSON bool) (string, error) {
	r, err := ReadMambaOutInfo(path)
	if err != nil {
		return "", err
	}
	return mambaout.Report(*r.Config, r.Info, r.Preprocess, asJSON)
}

// String is the summary `vimconvert convert` prints: the checkpoint report
// (mambaout.InspectText), the inputs and outputs, the opset and the file
// written ("" for a nil r, what ConvertMambaOutFile returns on error).
func (r *MambaOutConverted) String() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(mambaout.InspectText(r.Model.Config, r.Info, r.Model.Preprocess))
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
