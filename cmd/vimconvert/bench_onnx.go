package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// modelFromONNX reads back a model exported by vimconvert: the architecture
// from the "vimconvert.config" metadata and every tensor from the initializer
// of the same official state-dict name. It lets `bench` build the other
// variants (floor, LinearAttention, reference) of a given .onnx file.
func modelFromONNX(path string) (*convert.Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("%s is not an ONNX model: %w", path, err)
	}
	var cfgJSON string
	for _, p := range mp.GetMetadataProps() {
		if p.GetKey() == graph.MetaConfig {
			cfgJSON = p.GetValue()
		}
	}
	if cfgJSON == "" {
		return nil, fmt.Errorf("%s has no vimconvert.config metadata: bench needs a model exported by vimconvert (or the checkpoint)", path)
	}
	m := &convert.Model{}
	if err := json.Unmarshal([]byte(cfgJSON), &m.Config); err != nil {
		return nil, fmt.Errorf("%s: vimconvert.config: %w", path, err)
	}
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range mp.GetGraph().GetInitializer() {
		inits[t.GetName()] = t
	}
	// The model's tensors are the initializers named as in convert's
	// table; the graph's own constants are not.
	named := map[string]*convert.Tensor{}
	var bad []string
	_ = convert.EachTensor(&m.Config, func(key string, _ convert.TensorSpec, _ int) error {
		if tp, ok := inits[key]; ok {
			t, err := tensorFromProto(tp)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s (%v)", key, err))
				return nil
			}
			named[key] = t
		}
		return nil
	})
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: initializers unreadable: %v", path, bad)
	}
	m, err = convert.NewModel(m.Config, named)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := graph.Validate(m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// tensorFromProto decodes a float32 initializer (raw_data or float_data).
func tensorFromProto(tp *onnxpb.TensorProto) (*convert.Tensor, error) {
	if tp.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
		return nil, fmt.Errorf("data type %d, want float32", tp.GetDataType())
	}
	t := &convert.Tensor{Name: tp.GetName(), DType: "float32"}
	for _, d := range tp.GetDims() {
		t.Shape = append(t.Shape, int(d))
	}
	n := t.NumElements()
	switch {
	case len(tp.GetRawData()) == 4*n:
		raw := tp.GetRawData()
		t.Data = make([]float32, n)
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case len(tp.GetFloatData()) == n:
		t.Data = append([]float32(nil), tp.GetFloatData()...)
	default:
		return nil, fmt.Errorf("%d raw bytes / %d floats for shape %v", len(tp.GetRawData()), len(tp.GetFloatData()), t.Shape)
	}
	return t, nil
}
