package graph

import (
	"encoding/json"
	"fmt"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// BuiltConfig returns the convert.Config recorded under MetaConfig by Build
// and whether the model has one; name is used in error messages. A
// MambaOut model (BuildMambaOut) is an error naming its architecture.
func BuiltConfig(name string, mp *onnxpb.ModelProto) (convert.Config, bool, error) {
	var c convert.Config
	meta := onnxfile.Metadata(mp)
	if a := meta[MetaArchitecture]; a == mambaout.Architecture {
		return c, true, fmt.Errorf("%s is a %s model (metadata %s), not a Vim one: verify it against its own %s checkpoint", name, a, MetaArchitecture, a)
	}
	s, ok := meta[MetaConfig]
	if !ok {
		return c, false, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, true, fmt.Errorf("%s: metadata %s: %w", name, MetaConfig, err)
	}
	return c, true, nil
}

// ReadModel reads back a model exported by vimconvert as a convert.Model:
// the architecture from the MetaConfig metadata and every tensor from the
// initializer of the same official state-dict name.
func ReadModel(path string) (*convert.Model, error) {
	mp, err := onnxfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ModelFromProto(path, mp)
}

// ModelFromProto is ReadModel on a parsed model; name is used in error
// messages. A model without MetaConfig, a 16-bit model (MetaDType), one
// with a missing or non-float32 initializer, or whose tensors do not fit
// its config is refused.
func ModelFromProto(name string, mp *onnxpb.ModelProto) (*convert.Model, error) {
	return modelFromProto(name, mp, false)
}

// modelFromProto is ModelFromProto; widen16 reads a 16-bit model too, its
// float16/bfloat16 initializers widened to float32 (for what the weights
// describe, not to run them: the model computed with their 16-bit values).
func modelFromProto(name string, mp *onnxpb.ModelProto, widen16 bool) (*convert.Model, error) {
	c, ok, err := BuiltConfig(name, mp)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s has no %s metadata: a model exported by vimconvert (or the checkpoint) is needed", name, MetaConfig)
	}
	if d, err := ModelDType(mp); err != nil || (d.Is16Bit() && !widen16) {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return nil, fmt.Errorf("%s is a %s model: its weights are rounded to 16 bits and are not read back; use the float32 model or the checkpoint (bench: --variants %s times the 16-bit model)", name, d, d)
	}
	inits := onnxfile.Initializers(mp)
	// Every block has at least one initializer: a larger depth cannot be
	// read back (and would only make the missing list long).
	if c.Depth < 1 || c.Depth > len(inits) {
		return nil, fmt.Errorf("%s: %s depth %d does not fit its %d initializers", name, MetaConfig, c.Depth, len(inits))
	}
	m, err := modelFromInitializers(c, inits, widen16)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := Validate(m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// modelFromInitializers assembles a convert.Model of config c from
// initializers named by their official state-dict keys (the tensor table
// of convert says which ones c has); convert.NewModel lists what is
// missing, unexpected or of the wrong shape.
func modelFromInitializers(c convert.Config, inits map[string]*onnxpb.TensorProto, widen16 bool) (*convert.Model, error) {
	read := onnxfile.TensorFromProto
	if widen16 {
		read = onnxfile.WidenedTensorFromProto
	}
	named := map[string]*convert.Tensor{}
	var unreadable []string
	_ = convert.EachTensor(&c, func(key string, _ convert.TensorSpec, _ int) error {
		tp, ok := inits[key]
		if !ok {
			return nil // NewModel names it
		}
		t, err := read(tp)
		if err != nil {
			unreadable = append(unreadable, fmt.Sprintf("%s (%v)", key, err))
			return nil
		}
		named[key] = t
		return nil
	})
	if len(unreadable) > 0 {
		return nil, fmt.Errorf("initializers unreadable: %v", unreadable)
	}
	return convert.NewModel(c, named)
}
