package verify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// geometryMismatch describes, for a checkpoint that cannot be loaded at the
// geometry a model records (built), both geometries. sure is true when the
// checkpoint loads at its own geometry and that has another patch grid: the
// mismatch is then the whole story (the load error would name flags the
// user never passed).
func geometryMismatch(ckpt string, built convert.Config, weights convert.Weights) (msg string, sure bool) {
	msg = fmt.Sprintf("the model was built for img %d, stride %d (%d×%d patches)", built.ImgSize, built.Stride, built.GridSize(), built.GridSize())
	native, _, err := convert.Load(ckpt, convert.Options{Weights: weights})
	if err != nil {
		return "", false // unreadable on its own: the load error says why
	}
	g := native.Config.GridSize()
	msg += fmt.Sprintf("; this checkpoint's pos_embed has %d×%d", g, g)
	return msg + ": was the model converted from this checkpoint?", g != built.GridSize()
}

// checkSameGeometry refuses a checkpoint whose geometry at the model's
// recorded size and stride is not the model's: another token count, or a
// pos_embed that differs from the model's (a checkpoint of another grid
// resampled to the model's size, or another checkpoint). A model converted
// at another image size from this checkpoint has the same resampled pos_embed, so
// it passes.
func checkSameGeometry(mp *onnxpb.ModelProto, m *convert.Model, built convert.Config, ckpt string, weights convert.Weights) error {
	c := m.Config
	if built.ImgSize > 0 && (c.ImgSize != built.ImgSize || c.Stride != built.Stride || c.SeqLen() != built.SeqLen()) {
		return fmt.Errorf("the model was built for img %d, stride %d (%d tokens); %s loads as img %d, stride %d (%d tokens): was the model converted from this checkpoint?",
			built.ImgSize, built.Stride, built.SeqLen(), ckpt, c.ImgSize, c.Stride, c.SeqLen())
	}
	if m.PosEmbed == nil {
		return nil
	}
	for _, t := range mp.GetGraph().GetInitializer() {
		if t.GetName() != m.PosEmbed.Name {
			continue
		}
		got, err := onnxfile.TensorFromProto(t)
		if err != nil {
			return fmt.Errorf("the model's %s initializer: %w", t.GetName(), err)
		}
		if !slices.Equal(got.Shape, m.PosEmbed.Shape) {
			return fmt.Errorf("the model's pos_embed is %v, this checkpoint's at img %d, stride %d is %v: was the model converted from this checkpoint?",
				got.Shape, c.ImgSize, c.Stride, m.PosEmbed.Shape)
		}
		r := Compare(m.PosEmbed.Data, got.Data, nil)
		if r.MaxAbs == 0 {
			return nil
		}
		// Different values at the checkpoint's own geometry are a weight
		// difference (another weight set): checkSameWeights warns and the
		// comparison fails, locating it. At another geometry the checkpoint
		// was resampled to the model's: a model converted from it would
		// hold that same resampled pos_embed, so it was not.
		native, _, err := convert.Load(ckpt, convert.Options{Weights: weights, ClsToken: built.ClsToken})
		if err != nil || native.Config.GridSize() != c.GridSize() || native.Config.Stride != c.Stride || native.Config.ImgSize != c.ImgSize {
			g := c.GridSize()
			if err == nil {
				g = native.Config.GridSize()
			}
			return fmt.Errorf("the model was built for img %d, stride %d (%d×%d patches) and its pos_embed differs from this checkpoint's (%d×%d patches) resampled to that grid (max |Δ| %.3g): was the model converted from this checkpoint?",
				c.ImgSize, c.Stride, c.GridSize(), c.GridSize(), g, g, r.MaxAbs)
		}
		return nil
	}
	return nil
}

// checkSameWeights compares a few initializers of the ONNX model (named by
// their official state-dict keys) with the loaded checkpoint and returns a
// warning when they differ, which usually means the model was converted from
// another checkpoint or weight set.
func checkSameWeights(mp *onnxpb.ModelProto, m *convert.Model, weights convert.Weights) string {
	name, maxAbs, differs := FirstDifferingInitializer(mp, m.NormF, m.PatchBias, m.PosEmbed)
	if !differs {
		return ""
	}
	other := convert.WeightsEMA
	if weights == convert.WeightsEMA {
		other = convert.WeightsModel
	}
	return fmt.Sprintf("initializer %s of the model differs from the checkpoint's %q weights (max |Δ| %.3g): was it converted from another checkpoint, or with --weights %s?",
		name, weights, maxAbs, other)
}

// FirstDifferingInitializer compares, in order, each of wants (checkpoint
// tensors; nil ones are skipped) with the initializer of mp of the same
// name and returns the name and max |Δ| of the first that differs. An
// initializer that is absent, not float32 or of another length is not
// compared (the model may have folded or renamed it).
func FirstDifferingInitializer(mp *onnxpb.ModelProto, wants ...*convert.Tensor) (name string, maxAbs float64, differs bool) {
	inits := onnxfile.Initializers(mp)
	for _, want := range wants {
		if want == nil {
			continue
		}
		t, ok := inits[want.Name]
		if !ok {
			continue
		}
		got, err := onnxfile.TensorFromProto(t)
		if err != nil || len(got.Data) != len(want.Data) {
			continue
		}
		if r := Compare(want.Data, got.Data, nil); r.MaxAbs != 0 {
			return want.Name, r.MaxAbs, true
		}
	}
	return "", 0, false
}

// buildPerLayerCopy builds a per-layer variant of the given model (same
// opset, scan lowering, extra outputs and initializers).
func buildPerLayerCopy(m *convert.Model, mp *onnxpb.ModelProto, outputs map[string]bool) (*onnxpb.ModelProto, error) {
	opts := graph.Options{
		PerLayer: true,
		Features: outputs[graph.FeaturesName],
		Tokens:   outputs[graph.TokensName],
		Scan:     graph.ScanLowering(onnxfile.Metadata(mp)[graph.MetaScan]),
		// a dynamic-size model's copy is dynamic too (m at the weights' own size)
		DynamicSize: graph.IsDynamicSize(mp),
	}
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			opts.Opset = int(o.GetVersion())
		}
	}
	// a uint8-nhwc model's copy takes the same pixels
	if f, rec, err := graph.RecordedInput("the model", onnxfile.Metadata(mp)); err != nil {
		return nil, err
	} else if f == graph.InputUint8NHWC {
		opts.InputFormat, opts.Preprocess = f, rec
	}
	model, err := graph.Build(m, opts)
	if err != nil {
		return nil, fmt.Errorf("build the per-layer model: %w", err)
	}
	// Initializers carry the official state-dict names in both models:
	// take the given model's, so the copy computes with its weights.
	orig := onnxfile.Initializers(mp)
	for i, t := range model.GetGraph().GetInitializer() {
		o, ok := orig[t.GetName()]
		if !ok {
			return nil, fmt.Errorf("per-layer copy: the model has no initializer %s; was it made by vimconvert?", t.GetName())
		}
		if !slices.Equal(o.GetDims(), t.GetDims()) || o.GetDataType() != t.GetDataType() {
			return nil, fmt.Errorf("per-layer copy: initializer %s is %v type %d in the model, %v type %d in the checkpoint",
				t.GetName(), o.GetDims(), o.GetDataType(), t.GetDims(), t.GetDataType())
		}
		model.Graph.Initializer[i] = o
	}
	return model, nil
}

// checkSameArchitecture refuses a checkpoint whose architecture is not
// the model's (another depth, width or head): the model was converted
// from another checkpoint, whatever its weights.
func checkSameArchitecture(model, ckpt string, built, c convert.Config) error {
	if built.EmbedDim == 0 {
		return nil // no recorded config: ModelFromProto-free models are checked by their weights
	}
	var diff []string
	for _, d := range []struct {
		what       string
		model, got int
	}{
		{"depth", built.Depth, c.Depth}, {"embed_dim", built.EmbedDim, c.EmbedDim}, {"d_inner", built.DInner, c.DInner},
		{"d_state", built.DState, c.DState}, {"num_classes", built.NumClasses, c.NumClasses}, {"patch_size", built.PatchSize, c.PatchSize},
	} {
		if d.model != d.got {
			diff = append(diff, fmt.Sprintf("%s %d in the model, %d in the checkpoint", d.what, d.model, d.got))
		}
	}
	if len(diff) == 0 {
		return nil
	}
	return fmt.Errorf("%s was not converted from %s: %s", model, ckpt, strings.Join(diff, ", "))
}

// checkProvenance compares the model's provenance p (graph.ReadProvenance;
// ok is false for a model without one) with the checkpoint: another sha256
// is named as another checkpoint, another weight set as such, and the
// model's recorded guesses are repeated as warnings.
func (fc *fileCheck) checkProvenance(p graph.Provenance, ok bool) {
	if !ok {
		// An older model records no guesses: the one a middle cls token
		// of a checkpoint without a telling args.model was is known.
		p.Warnings = nil
		if nc, _ := convert.ParseModelName(fc.info.ArgsModel); fc.m.Config.ClsToken == convert.ClsMiddle && !nc.MiddleCls {
			p.Warnings = []string{convert.ClsGuessWarning}
		}
	} else {
		fc.res.Provenance = &p
	}
	check := "only outputs of the official code (--expected) can check it"
	if fc.opts.Expected != nil {
		check = "the expected outputs check it"
	}
	for _, w := range p.Warnings {
		fc.res.Assuming = append(fc.res.Assuming, w)
		fc.warn(fmt.Sprintf("%s was converted with a guess that the reference shares (%s): %s", fc.onnxPath, check, w))
	}
	if w := SourceWarning(fc.onnxPath, fc.ckpt, p, ok, fc.info); w != "" {
		fc.warn(w)
	}
}

// builtOptions are the load options that rebuild, from the checkpoint, the
// model a converted one records (built): its weight set, geometry, cls
// placement and the constructor arguments the weights cannot show
// (final_pool_type, norm eps and, for bimamba v2, if_divide_out), so that
// the reference computes what the export does.
func builtOptions(weights convert.Weights, built convert.Config) convert.Options {
	o := convert.Options{Weights: weights, ClsToken: built.ClsToken, ImgSize: built.ImgSize, Stride: built.Stride, NormEps: built.NormEps}
	if built.ClsToken == convert.ClsNone { // the readout of a model with a cls token is that token
		o.FinalPoolType = built.FinalPoolType
	}
	if built.BimambaType == convert.BimambaV2 {
		div := built.DivideOut
		o.DivideOut = &div
	}
	return o
}

// SourceWarning returns a warning when the provenance p recorded in the
// model at onnxPath (ok false: none recorded) names another checkpoint
// file (its sha256) or another weight set than the checkpoint ckpt loaded
// with info, else "".
func SourceWarning(onnxPath, ckpt string, p graph.Provenance, ok bool, info *convert.Info) string {
	switch {
	case !ok: // nothing recorded to compare
	case p.SourceSHA256 != info.SHA256:
		return fmt.Sprintf("%s was converted from another checkpoint: it records %s with sha256 %s, but %s has sha256 %s",
			onnxPath, p.SourceFile, p.SourceSHA256, ckpt, info.SHA256)
	case p.Weights != info.Weights:
		return fmt.Sprintf("%s was converted from the %s weights of this checkpoint, not %s: pass --weights %s", onnxPath, p.Weights, info.Weights, p.Weights)
	}
	return ""
}

// RecordedWeights is the weight set verify compares when none is asked
// for: the one the provenance p records the model was converted from
// (ok: one is recorded), else convert.WeightsModel.
func RecordedWeights(p graph.Provenance, ok bool) convert.Weights {
	if ok && p.Weights != "" {
		return p.Weights
	}
	return convert.WeightsModel
}
