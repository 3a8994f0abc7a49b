package graph

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// BuiltConfig returns the convert.Config recorded under MetaConfig by Build
// and whether the model has one; name is used in error messages.
func BuiltConfig(name string, mp *onnxpb.ModelProto) (convert.Config, bool, error) {
	var c convert.Config
	s, ok := onnxfile.Metadata(mp)[MetaConfig]
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
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	mp, err := onnxfile.Parse(path, data)
	if err != nil {
		return nil, err
	}
	return ModelFromProto(path, mp)
}

// ModelFromProto is ReadModel on a parsed model; name is used in error
// messages. A model without MetaConfig, with a missing or non-float32
// initializer, or whose tensors do not fit its config is refused.
func ModelFromProto(name string, mp *onnxpb.ModelProto) (*convert.Model, error) {
	c, ok, err := BuiltConfig(name, mp)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s has no %s metadata: a model exported by vimconvert (or the checkpoint) is needed", name, MetaConfig)
	}
	inits := onnxfile.Initializers(mp)
	// Every block has at least one initializer: a larger depth cannot be
	// read back (and would only make the missing list long).
	if c.Depth < 1 || c.Depth > len(inits) {
		return nil, fmt.Errorf("%s: %s depth %d does not fit its %d initializers", name, MetaConfig, c.Depth, len(inits))
	}
	m, missing := modelFromInitializers(c, inits)
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: initializers missing or unreadable: %v", name, missing)
	}
	if err := Validate(m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// modelFromInitializers assembles a convert.Model of config c from
// initializers named by their official state-dict keys and lists the
// required ones that are missing or unreadable.
// replaced by convert.NewModel when the schema lands
func modelFromInitializers(c convert.Config, inits map[string]*onnxpb.TensorProto) (*convert.Model, []string) {
	m := &convert.Model{Config: c}
	var missing []string
	get := func(name string, required bool) *convert.Tensor {
		tp, ok := inits[name]
		if !ok {
			if required {
				missing = append(missing, name)
			}
			return nil
		}
		t, err := onnxfile.TensorFromProto(tp)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (%v)", name, err))
			return nil
		}
		return t
	}
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
	return m, missing
}
