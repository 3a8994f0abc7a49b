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
	var missing []string
	get := func(name string, required bool) *convert.Tensor {
		tp, ok := inits[name]
		if !ok {
			if required {
				missing = append(missing, name)
			}
			return nil
		}
		t, err := tensorFromProto(tp)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", name, err))
			return nil
		}
		return t
	}
	c := m.Config
	layerNorm := c.Norm == convert.NormLayer
	hasCls := c.ClsToken == convert.ClsMiddle || c.ClsToken == convert.ClsHead
	m.PatchWeight = get("patch_embed.proj.weight", true)
	m.PatchBias = get("patch_embed.proj.bias", true)
	m.PosEmbed = get("pos_embed", c.AbsPosEmbed)
	m.ClsToken = get("cls_token", hasCls)
	m.ClsTokenHead = get("cls_token_head", c.ClsToken == convert.ClsDouble)
	m.ClsTokenTail = get("cls_token_tail", c.ClsToken == convert.ClsDouble)
	m.NormF = get("norm_f.weight", true)
	m.NormFBias = get("norm_f.bias", layerNorm)
	m.HeadWeight = get("head.weight", c.NumClasses > 0)
	m.HeadBias = get("head.bias", c.NumClasses > 0)
	mixer := func(p, sfx string) convert.Mixer {
		return convert.Mixer{
			ConvWeight: get(p+"conv1d"+sfx+".weight", true),
			ConvBias:   get(p+"conv1d"+sfx+".bias", true),
			XProj:      get(p+"x_proj"+sfx+".weight", true),
			DtProjW:    get(p+"dt_proj"+sfx+".weight", true),
			DtProjB:    get(p+"dt_proj"+sfx+".bias", true),
			ALog:       get(p+"A"+sfx+"_log", true),
			D:          get(p+"D"+sfx, true),
		}
	}
	for i := 0; i < c.Depth; i++ {
		p := fmt.Sprintf("layers.%d.", i)
		l := convert.Layer{
			NormWeight: get(p+"norm.weight", true),
			NormBias:   get(p+"norm.bias", layerNorm),
			InProj:     get(p+"mixer.in_proj.weight", true),
			OutProj:    get(p+"mixer.out_proj.weight", true),
			Fwd:        mixer(p+"mixer.", ""),
			Gamma:      get(p+"mixer.gamma", c.HasGamma),
		}
		switch c.BimambaType {
		case convert.BimambaV2:
			b := mixer(p+"mixer.", "_b")
			l.Bwd = &b
		case convert.BimambaV1:
			l.ABLog = get(p+"mixer.A_b_log", true)
		}
		m.Layers = append(m.Layers, l)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: initializers missing or unreadable: %v", path, missing)
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
