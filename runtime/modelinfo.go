package runtime

import (
	"fmt"

	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// ValueInfo describes one graph input or output as declared in the ONNX file.
type ValueInfo struct {
	Name string
	// ElemType is the ONNX TensorProto.DataType (1 = float32, 10 = float16).
	ElemType int
	// Shape holds the declared dimensions; -1 marks a symbolic or unknown one
	// whose name (e.g. "batch") is in DimParams at the same index.
	Shape     []int64
	DimParams []string
}

// ModelInfo is the interface of an ONNX model: its graph inputs (without
// initializers) and outputs, in declaration order, plus the opsets it imports.
type ModelInfo struct {
	Inputs  []ValueInfo
	Outputs []ValueInfo
	// Opsets maps an operator-set domain ("" = ai.onnx) to its version.
	Opsets map[string]int64
}

// ReadModelInfo reads the inputs and outputs declared by the ONNX file at
// path without creating a session. A missing file gives an error wrapping
// ErrModelMissing.
func ReadModelInfo(path string) (*ModelInfo, error) {
	mp, err := onnxfile.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	return ModelInfoOf(mp), nil
}

// ParseModelInfo decodes the graph inputs/outputs of a serialized ModelProto.
func ParseModelInfo(model []byte) (*ModelInfo, error) {
	mp, err := onnxfile.Parse("model", model)
	if err != nil {
		return nil, err
	}
	return ModelInfoOf(mp), nil
}

// ModelInfoOf extracts the interface of a parsed model (onnxfile.ReadFile).
func ModelInfoOf(mp *onnxpb.ModelProto) *ModelInfo {
	info := &ModelInfo{Opsets: map[string]int64{}}
	for _, o := range mp.GetOpsetImport() {
		info.Opsets[o.GetDomain()] = o.GetVersion()
	}
	initializers := onnxfile.Initializers(mp)
	for _, in := range mp.GetGraph().GetInput() {
		if _, isInit := initializers[in.GetName()]; !isInit { // IR < 4 lists initializers as inputs too
			info.Inputs = append(info.Inputs, valueInfo(in))
		}
	}
	for _, out := range mp.GetGraph().GetOutput() {
		info.Outputs = append(info.Outputs, valueInfo(out))
	}
	return info
}

// valueInfo converts one declared input or output.
func valueInfo(v *onnxpb.ValueInfoProto) ValueInfo {
	tt := v.GetType().GetTensorType()
	vi := ValueInfo{Name: v.GetName(), ElemType: int(tt.GetElemType())}
	for _, d := range tt.GetShape().GetDim() {
		dim := int64(-1)
		if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			dim = d.GetDimValue()
		}
		vi.Shape = append(vi.Shape, dim)
		vi.DimParams = append(vi.DimParams, d.GetDimParam())
	}
	return vi
}
