// Package graph builds an ONNX model of a Vision Mamba (Vim) network from a
// mapped checkpoint (convert.Model).
//
// The graph is float32 with a symbolic batch dimension (and, with
// Options.DynamicSize, symbolic height and width; Options.DType builds
// 16-bit models with float32 inputs and outputs, dtype.go;
// Options.Opset = OpsetLinearAttention the opset-27 export, opset27.go).
// Every checkpoint
// tensor becomes one initializer under its official state-dict name (e.g.
// "layers.0.mixer.in_proj.weight") with its PyTorch shape; layout changes
// (transposed projection weights, conv taps, A = -exp(A_log)) are graph ops
// on those initializers that ONNX Runtime constant-folds when it loads the
// model. Small constants (shapes, axes, eps) are Constant nodes named
// "const/...", so the initializer list is exactly the state dict.
//
// The selective scan of each block is one node of the vimconvert custom-op
// plugin (domain ai.vimconvert, see ops/README.md); the rest are standard
// ONNX ops. Node names follow the PyTorch module path with "/" separators
// (layers.3/mixer/in_proj), so the graph reads well in Netron.
//
// ConvertFile converts a checkpoint file to an .onnx file in one call and
// records its Provenance (source sha256, weight set, assumptions);
// ReadModel reads an exported model back (its config from the metadata, its
// tensors from the initializers), ReadModelInfo with its provenance. The package builds and reads models only:
// it does not run them (package runtime does), compare them (package
// verify), time them (package runtime/bench) or parse command-line flags,
// and it builds no model whose outputs are meaningless (the benchmark-only
// models are in internal/benchgraph).
package graph

import (
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

// Graph input and output names.
const (
	InputName    = "pixel_values" // [batch, 3, H, W] float32
	LogitsName   = "logits"       // [batch, num_classes]
	FeaturesName = "features"     // [batch, D], input of the head
	TokensName   = "tokens"       // [batch, L, D], final normed tokens
)

// Keys of ModelProto.metadata_props written by Build.
const (
	MetaConfig        = "vimconvert.config"         // convert.Config as JSON
	MetaScan          = "vimconvert.scan"           // Options.Scan
	MetaDepthwiseConv = "vimconvert.depthwise_conv" // Options.DepthwiseConv
	MetaProvenance    = "vimconvert.provenance"     // Provenance as JSON (ConvertFile)
	// How to feed the model (input.go): Options.InputFormat; Options.Preprocess
	// as preprocess.Recipe JSON; Options.LabelSet; Options.Labels one per line.
	MetaInputFormat      = "vimconvert.input_format"
	MetaPreprocessRecipe = "vimconvert.preprocess_recipe"
	MetaLabelSet         = "vimconvert.label_set"
	MetaLabels           = "vimconvert.labels"
)

// ProducerName is written to ModelProto.producer_name.
const ProducerName = "vimconvert"

// ProducerVersion is written to ModelProto.producer_version: the version of
// the exporter (bump it when the exported graph changes).
const ProducerVersion = "0.1.0"

// DefaultOpset is the default ONNX opset: the newest that the ONNX 1.12
// checker accepts, and supported by every ONNX Runtime since 1.12.
const DefaultOpset = 17

// MinOpset and MaxOpset bound Options.Opset.
const (
	MinOpset = 17
	MaxOpset = 23
)

// irVersions maps an opset to the IR version released with it (the ONNX
// release that introduced the opset).
var irVersions = map[int]int64{17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10, 23: 11, OpsetLinearAttention: irOpsetLinearAttention}

// IRVersion returns the IR version written for an opset, or 0 when the opset
// is outside [MinOpset, MaxOpset] and not OpsetLinearAttention.
func IRVersion(opset int) int64 { return irVersions[opset] }

// Options controls Build. The zero value builds the default model.
type Options struct {
	// Opset is the default-domain ONNX opset (0 = DefaultOpset). The IR
	// version follows it (see IRVersion). RMSNorm is decomposed at every
	// opset.
	Opset int
	// Features adds the output "features" [batch, D]: the input of the
	// head (official forward_features / return_features).
	Features bool
	// Tokens adds the output "tokens" [batch, L, D]: every token after the
	// final add + norm_f.
	Tokens bool
	// PerLayer adds outputs named like the fixture keys: patch_embed_out,
	// embed_tokens, layers.{i}.hidden_states, layers.{i}.residual and
	// final_hidden_normed (see fixtures/manifest.json for their meaning).
	PerLayer bool
	// Scan picks the scan lowering ("" = ScanPlugin); see ScanLowerings.
	Scan ScanLowering
	// DepthwiseConv picks the conv formulation ("" = ConvONNX): ConvONNX,
	// ConvSlice or ConvPlugin. ConvPlugin needs the plugin, so it is
	// refused with any Scan but ScanPlugin.
	DepthwiseConv DepthwiseConv
	// DType is the element type of weights and activations ("" =
	// DTypeFloat32); 16-bit models keep the official fp32 islands (dtype.go).
	DType DType
	// DynamicSize makes the input [batch, C, height, width] with both
	// sides symbolic (dynamic.go): pos_embed is resampled in the graph to
	// the patch grid of each input, the cls token is inserted at the
	// grid's middle (or head, or both ends) and read out there. The model
	// records MetaDynamicSize. Scan plugin only, ConvONNX or ConvPlugin.
	DynamicSize bool
	// OutIndices adds, for each listed block, the output
	// convert.FeatureMapName(i) [batch, D, rows, cols]: the block's patch
	// tokens as a feature map for a dense-task head (backbone.go). A
	// negative index counts from the end.
	OutIndices []int
	// OfficialOutIndices takes OutIndices from the official segmentation
	// configs (convert.DefaultOutIndices of the model's depth).
	OfficialOutIndices bool
	// FeatureMode picks the stream of those feature maps ("" =
	// convert.FeatureHidden).
	FeatureMode convert.FeatureMode
	// Progress, if set, is called after each block with (done, total).
	Progress func(done, total int)
	// InputFormat is what pixel_values holds ("" = InputFloatNCHW).
	InputFormat InputFormat
	// Preprocess, when set, is recorded under MetaPreprocessRecipe; its
	// InputSize must be the model's. InputUint8NHWC requires it.
	Preprocess *preprocess.Recipe
	// LabelSet names the class names (e.g. preprocess.ImageNetLabelSet) and
	// Labels lists them in class order (len = num_classes), when known.
	LabelSet string
	Labels   []string
}

// Build returns the ONNX model of m.
//
// It refuses (with an error naming the problem) configurations it does not
// implement and tensors whose shapes disagree with m.Config.
func Build(m *convert.Model, opts Options) (*onnxpb.ModelProto, error) {
	if err := resolveOpset27(&opts); err != nil {
		return nil, err
	}
	if opts.Scan == "" {
		opts.Scan = ScanPlugin
	}
	lower, ok := scanLowerings[opts.Scan]
	if !ok {
		return nil, fmt.Errorf("graph: unknown scan lowering %q (have %v)", opts.Scan, ScanLowerings())
	}
	return buildWith(m, opts, lower)
}

// buildWith is Build with the scan lowered by lower (opts.Scan names it in
// the metadata).
func buildWith(m *convert.Model, opts Options, lower lowerFunc) (*onnxpb.ModelProto, error) {
	if m == nil {
		return nil, errors.New("graph: nil model")
	}
	if opts.Opset == 0 {
		opts.Opset = DefaultOpset
	}
	ir := IRVersion(opts.Opset)
	if ir == 0 {
		return nil, fmt.Errorf("graph: opset %d not supported (want %d to %d, or %d)", opts.Opset, MinOpset, MaxOpset, OpsetLinearAttention)
	}
	if err := checkOptions(m, &opts); err != nil {
		return nil, err
	}
	c := m.Config
	format, err := checkInputOptions(opts, c.ImgSize, c.NumClasses)
	if err != nil {
		return nil, err
	}
	opts.InputFormat = format
	if c.ClsToken != convert.ClsNone && c.FinalPoolType == "max" {
		// forward_features returns the cls token [B, D]; forward then
		// takes x.max(dim=1) of the [B, num_classes] logits (MM 550-551),
		// a max over classes that no released model uses.
		return nil, fmt.Errorf("graph: final_pool_type \"max\" with a cls token (the official forward then reduces the logits over classes) is not implemented")
	}
	if c.ClsToken == convert.ClsNone && (c.FinalPoolType == "max" || c.FinalPoolType == "all") {
		if c.NumClasses == 0 {
			return nil, fmt.Errorf("graph: final_pool_type %q with num_classes 0 (Identity head) is not implemented", c.FinalPoolType)
		}
		if opts.Features {
			return nil, fmt.Errorf("graph: final_pool_type %q has no pooled feature vector; use the tokens output instead of features", c.FinalPoolType)
		}
	}

	b := newBuilder(opts.Opset)
	b.prec = precisionOf(opts.DType)
	if err := buildVim(b, m, opts, lower); err != nil {
		return nil, err
	}
	g, err := b.finish(graphName(m), "Vision Mamba (Vim) exported by vimconvert")
	if err != nil {
		return nil, err
	}
	cfgJSON, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("graph: encode config: %w", err)
	}
	imports := opsetImports(g, opts.Opset)
	inputProps, err := inputMetadata(format, opts)
	if err != nil {
		return nil, err
	}
	mp := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(ir),
		ProducerName:    proto.String(ProducerName),
		ProducerVersion: proto.String(ProducerVersion),
		DocString:       proto.String(modelDoc(imports)),
		OpsetImport:     imports,
		MetadataProps: append([]*onnxpb.StringStringEntryProto{
			{Key: proto.String(MetaConfig), Value: proto.String(string(cfgJSON))},
			{Key: proto.String(MetaScan), Value: proto.String(string(opts.Scan))},
			{Key: proto.String(MetaDepthwiseConv), Value: proto.String(string(opts.DepthwiseConv))},
			{Key: proto.String(MetaDType), Value: proto.String(string(opts.DType))},
		}, inputProps...),
		Graph: g,
	}
	if opts.DynamicSize {
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(MetaDynamicSize), Value: proto.String("true")})
	}
	if idx, _ := outIndices(m, opts); len(idx) > 0 {
		mode, _ := convert.ParseFeatureMode(string(opts.FeatureMode))
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(MetaFeatureMode), Value: proto.String(string(mode))})
	}
	return mp, nil
}

// domainVersions are the opset versions imported for the non-default
// domains a scan lowering may use.
var domainVersions = map[string]int64{
	Domain:          DomainVersion,
	"com.microsoft": 1, // ONNX Runtime contrib ops
}

// opsetImports imports the default domain at opset and every other domain
// that a node of g uses (only those: a model without plugin nodes does not
// ask for the plugin's domain).
func opsetImports(g *onnxpb.GraphProto, opset int) []*onnxpb.OperatorSetIdProto {
	imports := []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(opset))}}
	seen := map[string]bool{"": true, "ai.onnx": true}
	for _, n := range g.GetNode() {
		d := n.GetDomain()
		if seen[d] {
			continue
		}
		seen[d] = true
		v, ok := domainVersions[d]
		if !ok {
			v = 1
		}
		imports = append(imports, &onnxpb.OperatorSetIdProto{Domain: proto.String(d), Version: proto.Int64(v)})
	}
	return imports
}

func modelDoc(imports []*onnxpb.OperatorSetIdProto) string {
	doc := "Vision Mamba (Vim) converted by vimconvert from an official hustvl/Vim checkpoint."
	for _, o := range imports {
		if o.GetDomain() == Domain {
			doc += " The selective scans are custom ops of domain " + Domain +
				": register the vimconvert plugin (libvimconvert_ops.so) with RegisterCustomOpsLibrary before loading."
		}
	}
	return doc
}

func graphName(m *convert.Model) string {
	c := m.Config
	size := fmt.Sprint(c.ImgSize)
	if !c.Square() {
		size = fmt.Sprintf("%dx%d", c.ImgSize, c.Width())
	}
	return fmt.Sprintf("vim_d%d_depth%d_p%d_s%d_%s_%s", c.EmbedDim, c.Depth, c.PatchSize, c.Stride, size, c.BimambaType)
}

// buildVim emits the whole network: VisionMamba.forward (MM 380-552).
func buildVim(b *builder, m *convert.Model, opts Options, lower lowerFunc) error {
	c := m.Config
	D := int64(c.EmbedDim)
	L := int64(c.SeqLen())
	gh, gw := c.GridHW()
	GH, GW := int64(gh), int64(gw)
	H, W := int64(c.ImgSize), int64(c.Width())
	if opts.DynamicSize {
		L, GH, GW, H, W = Tokens, GridRows, GridCols, Height, Width
	}

	chans := int64(c.InChans)
	if chans == 0 {
		chans = 3
	}
	x := b.imageInput(opts.InputFormat, opts.Preprocess, chans, H, W)

	// PatchEmbed (MM 39-63): Conv2d(kernel=patch, stride=stride, no padding),
	// then flatten(2).transpose(1, 2): row-major patch order.
	pw := b.weight(m.PatchWeight)
	pb := b.weight(m.PatchBias)
	p := int64(c.PatchSize)
	s := int64(c.Stride)
	conv := b.op1("Conv", "patch_embed/proj", []string{b.toCompute("patch_embed/cast_input", x), pw, pb}, []int64{Batch, D, GH, GW},
		attrInts("kernel_shape", p, p), attrInts("strides", s, s), attrInts("pads", 0, 0, 0, 0))
	conv = b.toFloat32("patch_embed/cast_fp32", conv)
	var h, clsPos string
	if opts.DynamicSize {
		h, clsPos = b.dynamicEmbed(m, conv, opts.PerLayer)
	} else {
		var err error
		if h, err = staticEmbed(b, m, x, conv, opts.PerLayer); err != nil {
			return err
		}
	}
	if opts.PerLayer {
		b.output("embed_tokens", h)
	}
	idx, err := outIndices(m, opts)
	if err != nil {
		return err
	}
	fmaps := newFeatureMaps(b, opts, idx, conv)

	// Blocks (MM 503-513; Block.forward MM 115-136): Add -> Norm -> Mixer.
	// Block 0's residual is the token sequence itself (residual=None).
	var residual string
	hidden := h
	for i := range m.Layers {
		layer := &m.Layers[i]
		prefix := fmt.Sprintf("layers.%d", i)
		if i == 0 {
			residual = hidden
		} else {
			residual = b.op1("Add", prefix+"/add_residual", []string{residual, hidden}, []int64{Batch, L, D})
		}
		normed := b.norm(c, prefix+"/norm", residual, layer.NormWeight, layer.NormBias)
		hidden, err = buildMixer(b, c, layer, prefix+"/mixer", normed, opts, lower)
		if err != nil {
			return fmt.Errorf("graph: layer %d: %w", i, err)
		}
		if opts.PerLayer {
			b.output(prefix+".hidden_states", hidden)
			b.output(prefix+".residual", residual)
		}
		fmaps.emit(b, m, i, residual, hidden)
		if opts.Progress != nil {
			opts.Progress(i+1, len(m.Layers))
		}
	}

	// Final fused add + norm_f, prenorm=False (MM 503-520).
	last := b.op1("Add", "norm_f/add_residual", []string{residual, hidden}, []int64{Batch, L, D})
	normed := b.norm(c, "norm_f", last, m.NormF, m.NormFBias)
	if opts.PerLayer {
		b.output("final_hidden_normed", normed)
	}
	if opts.Tokens {
		b.output(TokensName, normed)
	}
	return buildReadoutAndHead(b, m, normed, clsPos, opts)
}

// staticEmbed emits the patch flatten, the cls insertion and the pos_embed
// add of a fixed-size model on conv [B, D, gh, gw]: tokens [B, L, D].
func staticEmbed(b *builder, m *convert.Model, x, conv string, perLayer bool) (string, error) {
	c := m.Config
	D, L, M := int64(c.EmbedDim), int64(c.SeqLen()), int64(c.NumPatches())
	flat := b.op1("Reshape", "patch_embed/flatten", []string{conv, b.constI64(false, 0, D, M)}, []int64{Batch, D, M}) // [B, D, gh, gw] -> [B, D, M]
	tokens := b.op1("Transpose", "patch_embed/transpose", []string{flat}, []int64{Batch, M, D},
		attrInts("perm", 0, 2, 1)) // [B, D, M] -> [B, M, D]
	if perLayer {
		b.output("patch_embed_out", tokens)
	}

	// Cls tokens (MM 386-412), inserted before + pos_embed (MM 422).
	tokens, err := insertClsTokens(b, m, x, tokens)
	if err != nil {
		return "", err
	}
	if m.PosEmbed != nil { // if_abs_pos_embed (every official config)
		return b.op1("Add", "pos_embed/add", []string{tokens, b.initializer(m.PosEmbed)}, []int64{Batch, L, D}), nil // [B, L, D] + [1, L, D]
	}
	return tokens, nil
}

// norm emits the block / final norm: RMSNorm (every official config) or
// LayerNorm (rms_norm=False).
func (b *builder) norm(c convert.Config, prefix, x string, weight, bias *convert.Tensor) string {
	if c.Norm == convert.NormLayer {
		return b.layerNorm(prefix, x, b.initializerOnce(weight), b.initializerOnce(bias), c.NormEps)
	}
	return b.rmsNorm(prefix, x, b.initializerOnce(weight), c.NormEps)
}

// insertClsTokens reproduces MM 386-412 on tokens [B, M, D] -> [B, L, D]:
// middle: cat(x[:, :M//2], cls, x[:, M//2:]); head: cat(cls, x);
// double: cat(cls_head, x, cls_tail); none: x.
// cls_token.expand(B, -1, -1) becomes Expand to [batch, 1, D].
func insertClsTokens(b *builder, m *convert.Model, x, tokens string) (string, error) {
	c := m.Config
	D := int64(c.EmbedDim)
	M := int64(c.NumPatches())
	L := int64(c.SeqLen())
	if c.ClsToken == convert.ClsNone {
		return tokens, nil
	}
	var shape string
	expand := func(name string, t *convert.Tensor) string {
		if shape == "" {
			batch := b.shapeBatch("cls_token/batch", x)
			shape = b.op1("Concat", "cls_token/expand_shape", []string{batch, b.constI64(false, 1, D)}, []int64{3}, attrInt("axis", 0))
		}
		return b.op1("Expand", name, []string{b.initializer(t), shape}, []int64{Batch, 1, D}) // [1, 1, D] -> [B, 1, D]
	}
	switch c.ClsToken {
	case convert.ClsMiddle:
		pos := M / 2
		cls := expand("cls_token/expand", m.ClsToken)
		before := b.op1("Slice", "cls_token/before", []string{tokens, b.constI64(false, 0), b.constI64(false, pos), b.constI64(false, 1)}, []int64{Batch, pos, D})
		after := b.op1("Slice", "cls_token/after", []string{tokens, b.constI64(false, pos), b.constI64(false, M), b.constI64(false, 1)}, []int64{Batch, M - pos, D})
		return b.op1("Concat", "cls_token/insert", []string{before, cls, after}, []int64{Batch, L, D}, attrInt("axis", 1)), nil
	case convert.ClsHead:
		cls := expand("cls_token/expand", m.ClsToken)
		return b.op1("Concat", "cls_token/insert", []string{cls, tokens}, []int64{Batch, L, D}, attrInt("axis", 1)), nil
	case convert.ClsDouble:
		head := expand("cls_token_head/expand", m.ClsTokenHead)
		tail := expand("cls_token_tail/expand", m.ClsTokenTail)
		return b.op1("Concat", "cls_token/insert", []string{head, tokens, tail}, []int64{Batch, L, D}, attrInt("axis", 1)), nil
	}
	return "", fmt.Errorf("graph: cls token placement %q not implemented", c.ClsToken)
}

// buildMixer emits one Mamba mixer (MS 170-246, fast path) on normed
// [B, L, D] and returns its output [B, L, D].
func buildMixer(b *builder, c convert.Config, layer *convert.Layer, prefix, normed string, opts Options, lower lowerFunc) (string, error) {
	L := b.shape(normed)[1] // c.SeqLen(), or Tokens for a dynamic size
	D := int64(c.EmbedDim)
	Din := int64(c.DInner)
	N := int64(c.DState)
	R := int64(c.DtRank)

	// xz = in_proj(hidden) (MS 184-190); x = first d_inner channels, z = rest (SSI 180).
	normed = b.toCompute(prefix+"/cast_input", normed)
	xz := b.linear(prefix+"/in_proj", normed, b.weight(layer.InProj)) // [B, L, D] -> [B, L, 2·Din]
	// With ConvPlugin a bimamba-v2 block's conv node reads x from xz itself
	// (conv_plugin.go), so only z is cut out.
	fusedConv := opts.DepthwiseConv == ConvPlugin && c.BimambaType == convert.BimambaV2
	var xIn, z string
	if fusedConv {
		z = b.op1("Slice", prefix+"/xz/z", []string{xz, b.constI64(false, Din), b.constI64(false, 2*Din), b.constI64(false, 2)},
			[]int64{Batch, L, Din}) // [B, L, 2·Din] -> [B, L, Din]
	} else {
		parts := b.split(prefix+"/xz", xz, 2, []int64{Din, Din}, []string{"x", "z"})
		xIn, z = parts[0], parts[1]
	}
	convMode := opts.DepthwiseConv
	if convMode == ConvPlugin {
		convMode = ConvONNX // the per-conv path of v1/none blocks
	}

	// direction builds conv -> SiLU -> x_proj -> [dt | B | C] -> dt_proj for one
	// direction's parameters (SSI 182-205). u is the conv + SiLU output when
	// already computed (ConvPlugin), else "".
	direction := func(name string, mx *convert.Mixer, aLog *convert.Tensor, anti bool, u string) scanDirection {
		if u == "" && convMode == ConvCausalConvWithState {
			u = b.causalConvSiLU(name+"/conv1d_silu", xIn, b.initializer(mx.ConvWeight), b.initializer(mx.ConvBias), anti)
		}
		if u == "" {
			// causal_conv1d_fwd keeps conv1d's float32 weight and bias
			// (SSI 174-176 casts only x_proj and dt_proj) and computes
			// conv + SiLU in float32 with one rounding of the output.
			conv := b.depthwiseConv1d(convMode, name+"/conv1d", b.widen(name+"/conv1d/cast_fp32", xIn),
				b.initializer(mx.ConvWeight), b.initializer(mx.ConvBias), anti)
			u = b.toCompute(name+"/silu/cast_input", b.silu(name+"/silu", conv))
		}
		xdbl := b.linear(name+"/x_proj", u, b.weight(mx.XProj)) // [B, L, Din] -> [B, L, R+2N]
		dbc := b.split(name+"/x_dbl", xdbl, 2, []int64{R, N, N}, []string{"dt", "B", "C"})
		// delta = dt_proj.weight @ dt, bias added inside the scan (SSI 187, MS 225-226).
		delta := b.linear(name+"/dt_proj", dbc[0], b.weight(mx.DtProjW)) // [B, L, R] -> [B, L, Din]
		return scanDirection{
			U: u, Delta: delta, A: b.negExp(name+"/A", b.initializer(aLog)),
			B: dbc[1], C: dbc[2], D: b.initializer(mx.D), DeltaBias: b.initializer(mx.DtProjB),
		}
	}

	args := scanArgs{Name: prefix + "/selective_scan", Z: z, L: L, DInner: Din, DState: N}
	switch c.BimambaType {
	case convert.BimambaV2:
		// Two full inner paths (MS 213-245); the backward one runs on
		// xz.flip([-1]), i.e. an anti-causal conv in original order.
		var uF, uB string
		if fusedConv {
			uF, uB = b.convSiLUPlugin(prefix+"/conv1d_silu", xz,
				b.initializer(layer.Fwd.ConvWeight), b.initializer(layer.Fwd.ConvBias),
				b.initializer(layer.Bwd.ConvWeight), b.initializer(layer.Bwd.ConvBias))
		}
		args.Fwd = direction(prefix, &layer.Fwd, layer.Fwd.ALog, false, uF)
		bwd := direction(prefix+"/backward", layer.Bwd, layer.Bwd.ALog, true, uB)
		args.Bwd = &bwd
		args.DivideOut = c.DivideOut
	case convert.BimambaV1:
		// BiMambaInnerFn (SSI 452-528): the backward scan runs on the
		// flipped causal conv output with the same delta/B/C/D/delta_bias
		// and A_b; the op reverses time itself, so the same tensors are
		// passed in original order. No /2.
		args.Fwd = direction(prefix, &layer.Fwd, layer.Fwd.ALog, false, "")
		bwd := args.Fwd
		bwd.A = b.negExp(prefix+"/A_b", b.initializer(layer.ABLog))
		args.Bwd = &bwd
		args.DivideOut = false
	case convert.BimambaNone:
		args.Fwd = direction(prefix, &layer.Fwd, layer.Fwd.ALog, false, "")
	default:
		return "", fmt.Errorf("bimamba type %q not implemented", c.BimambaType)
	}
	y, err := lower(b, args)
	if err != nil {
		return "", err
	}
	out := b.linear(prefix+"/out_proj", y, b.weight(layer.OutProj)) // [B, L, Din] -> [B, L, D]
	out = b.toFloat32(prefix+"/cast_fp32", out)
	if layer.Gamma != nil {
		// Layer scale (MS 69-71, 308-309): out * gamma.
		out = b.op1("Mul", prefix+"/gamma", []string{out, b.initializer(layer.Gamma)}, []int64{Batch, L, D})
	}
	return out, nil
}

// buildReadoutAndHead reproduces forward_features' readout (MM 522-540) and
// the head (MM 545-552) on normed [B, L, D].
// clsPos is the scalar value holding the cls position of a dynamic-size
// model ("" for a fixed size).
func buildReadoutAndHead(b *builder, m *convert.Model, normed, clsPos string, opts Options) error {
	c := m.Config
	D := int64(c.EmbedDim)
	L := int64(c.SeqLen())
	C := int64(c.NumClasses)
	last := L - 1
	if opts.DynamicSize {
		L, last = Tokens, -1 // Gather counts a negative index from the end
	}
	var feat string
	switch {
	case c.ClsToken == convert.ClsMiddle || c.ClsToken == convert.ClsHead:
		// hidden_states[:, token_position, :] (MM 526-531).
		if clsPos != "" {
			feat = b.op1("Gather", "readout/cls_token", []string{normed, clsPos}, []int64{Batch, D}, attrInt("axis", 1))
		} else {
			feat = b.gatherToken("readout/cls_token", normed, int64(c.ClsTokenPosition()))
		}
	case c.ClsToken == convert.ClsDouble:
		// (hidden[:, 0] + hidden[:, M+1]) / 2 (MM 524-525).
		hd := b.gatherToken("readout/cls_token_head", normed, 0)
		tl := b.gatherToken("readout/cls_token_tail", normed, last)
		sum := b.op1("Add", "readout/cls_sum", []string{hd, tl}, []int64{Batch, D})
		feat = b.op1("Div", "readout/cls_mean", []string{sum, b.constF32(nil, 2)}, []int64{Batch, D})
	case c.FinalPoolType == "mean" || c.FinalPoolType == "":
		feat = b.reduce("ReduceMean", "readout/mean", normed, []int64{1}, false, []int64{Batch, D}) // MM 537
	case c.FinalPoolType == "none":
		feat = b.gatherToken("readout/last_token", normed, last) // hidden[:, -1, :] (MM 535)
	case c.FinalPoolType == "max" || c.FinalPoolType == "all":
		// The head is applied to every token (MM 538-539, 545-552).
		w := b.weight(m.HeadWeight)
		perTok := b.linear("head/matmul", b.toCompute("head/cast_input", normed), w) // [B, L, D] -> [B, L, C]
		logits := b.op1("Add", "head", []string{perTok, b.weight(m.HeadBias)}, []int64{Batch, L, C})
		logits = b.toFloat32("head/cast_fp32", logits)
		if c.FinalPoolType == "max" {
			// x.max(dim=1)[0] (MM 550-551)
			logits = b.reduce("ReduceMax", "head/max_over_tokens", logits, []int64{1}, false, []int64{Batch, C})
		}
		b.output(LogitsName, logits)
		return nil
	default:
		return fmt.Errorf("graph: final_pool_type %q not implemented", c.FinalPoolType)
	}
	if c.NumClasses == 0 {
		// Identity head: the model output is the feature vector.
		b.output(FeaturesName, feat)
		return nil
	}
	// head = nn.Linear(D, num_classes) (MM 545; fixtures/README item 19):
	// Gemm(features, W, b, transB=1) uses the official [C, D] weight as-is.
	// A 16-bit model widens the 16-bit features, weight and bias and rounds
	// the float32 Gemm's output once: the official AMP addmm (float32
	// accumulation, bias added before the one rounding). ONNX Runtime 1.29's
	// float16 CPU Gemm does not accumulate in float32 (on Vim-T at depth 2
	// it moved the logits by 0.005, five times the whole official AMP
	// float16 path's 0.001).
	in := []string{b.toCompute("head/cast_input", feat), b.weight(m.HeadWeight), b.weight(m.HeadBias)}
	for i, v := range in {
		in[i] = b.widen(v+"/cast_fp32", v)
	}
	logits := b.op1("Gemm", "head", in, []int64{Batch, C}, attrInt("transB", 1))
	logits = b.toFloat32("head/cast_fp32", b.toCompute("head/round", logits))
	b.output(LogitsName, logits)
	if opts.Features {
		b.output(FeaturesName, feat)
	}
	return nil
}

// checkOptions fills the defaults of opts (ConvONNX, DTypeFloat32) and
// refuses what cannot be built from m: an unknown or plugin-only depthwise
// conv without the plugin scan, a bad dtype, an invalid model, bad output
// indices, and dynamic sizes with a fixed-length lowering, uint8 input or
// 16 bits.
func checkOptions(m *convert.Model, o *Options) error {
	if o.DepthwiseConv == "" {
		o.DepthwiseConv = ConvONNX
	}
	if o.DepthwiseConv != ConvSlice && o.DepthwiseConv != ConvONNX && o.DepthwiseConv != ConvPlugin && o.DepthwiseConv != ConvCausalConvWithState {
		return fmt.Errorf("graph: unknown depthwise conv formulation %q (have %q, %q, %q)", o.DepthwiseConv, ConvSlice, ConvONNX, ConvPlugin)
	}
	if o.DepthwiseConv == ConvPlugin && o.Scan != ScanPlugin {
		return fmt.Errorf("graph: depthwise conv %q needs the plugin; it cannot be combined with scan lowering %q", ConvPlugin, o.Scan)
	}
	if o.DType == "" {
		o.DType = DTypeFloat32
	}
	if err := checkDType(*o); err != nil {
		return err
	}
	if err := Validate(m); err != nil {
		return err
	}
	if _, err := outIndices(m, *o); err != nil {
		return err
	}
	if o.DynamicSize {
		return checkDynamicOptions(*o)
	}
	return nil
}
