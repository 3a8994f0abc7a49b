// Package graph builds an ONNX model of a Vision Mamba (Vim) network from a
// mapped checkpoint (convert.Model).
//
// The graph is float32 with a symbolic batch dimension. Every checkpoint
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
// ConvertFile converts a checkpoint file to an .onnx file in one call;
// ReadModel reads an exported model back (its config from the metadata, its
// tensors from the initializers). The package builds and reads models only:
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
var irVersions = map[int]int64{17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10, 23: 11}

// IRVersion returns the IR version written for an opset, or 0 when the opset
// is outside [MinOpset, MaxOpset].
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
		return nil, fmt.Errorf("graph: opset %d not supported (want %d to %d)", opts.Opset, MinOpset, MaxOpset)
	}
	if opts.DepthwiseConv == "" {
		opts.DepthwiseConv = ConvONNX
	}
	if opts.DepthwiseConv != ConvSlice && opts.DepthwiseConv != ConvONNX && opts.DepthwiseConv != ConvPlugin {
		return nil, fmt.Errorf("graph: unknown depthwise conv formulation %q (have %q, %q, %q)", opts.DepthwiseConv, ConvSlice, ConvONNX, ConvPlugin)
	}
	if opts.DepthwiseConv == ConvPlugin && opts.Scan != ScanPlugin {
		return nil, fmt.Errorf("graph: depthwise conv %q needs the plugin; it cannot be combined with scan lowering %q", ConvPlugin, opts.Scan)
	}
	if err := Validate(m); err != nil {
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
	return &onnxpb.ModelProto{
		IrVersion:       proto.Int64(ir),
		ProducerName:    proto.String(ProducerName),
		ProducerVersion: proto.String(ProducerVersion),
		DocString:       proto.String(modelDoc(imports)),
		OpsetImport:     imports,
		MetadataProps: append([]*onnxpb.StringStringEntryProto{
			{Key: proto.String(MetaConfig), Value: proto.String(string(cfgJSON))},
			{Key: proto.String(MetaScan), Value: proto.String(string(opts.Scan))},
			{Key: proto.String(MetaDepthwiseConv), Value: proto.String(string(opts.DepthwiseConv))},
		}, inputProps...),
		Graph: g,
	}, nil
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
	return fmt.Sprintf("vim_d%d_depth%d_p%d_s%d_%d_%s", c.EmbedDim, c.Depth, c.PatchSize, c.Stride, c.ImgSize, c.BimambaType)
}

// buildVim emits the whole network: VisionMamba.forward (MM 380-552).
func buildVim(b *builder, m *convert.Model, opts Options, lower lowerFunc) error {
	c := m.Config
	D := int64(c.EmbedDim)
	L := int64(c.SeqLen())
	M := int64(c.NumPatches())
	G := int64(c.GridSize())
	img := int64(c.ImgSize)

	chans := int64(c.InChans)
	if chans == 0 {
		chans = 3
	}
	x := b.imageInput(opts.InputFormat, opts.Preprocess, chans, img)

	// PatchEmbed (MM 39-63): Conv2d(kernel=patch, stride=stride, no padding),
	// then flatten(2).transpose(1, 2): row-major patch order.
	pw := b.initializer(m.PatchWeight)
	pb := b.initializer(m.PatchBias)
	p := int64(c.PatchSize)
	s := int64(c.Stride)
	conv := b.op1("Conv", "patch_embed/proj", []string{x, pw, pb}, []int64{Batch, D, G, G},
		attrInts("kernel_shape", p, p), attrInts("strides", s, s), attrInts("pads", 0, 0, 0, 0))
	flat := b.op1("Reshape", "patch_embed/flatten", []string{conv, b.constI64(false, 0, D, M)}, []int64{Batch, D, M}) // [B, D, G, G] -> [B, D, M]
	tokens := b.op1("Transpose", "patch_embed/transpose", []string{flat}, []int64{Batch, M, D},
		attrInts("perm", 0, 2, 1)) // [B, D, M] -> [B, M, D]
	if opts.PerLayer {
		b.output("patch_embed_out", tokens)
	}

	// Cls tokens (MM 386-412), inserted before + pos_embed (MM 422).
	tokens, err := insertClsTokens(b, m, x, tokens)
	if err != nil {
		return err
	}
	h := tokens
	if m.PosEmbed != nil { // if_abs_pos_embed (every official config)
		h = b.op1("Add", "pos_embed/add", []string{tokens, b.initializer(m.PosEmbed)}, []int64{Batch, L, D}) // [B, L, D] + [1, L, D]
	}
	if opts.PerLayer {
		b.output("embed_tokens", h)
	}

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
	return buildReadoutAndHead(b, m, normed, opts)
}

// norm emits the block / final norm: RMSNorm (every official config) or
// LayerNorm (rms_norm=False).
func (b *builder) norm(c convert.Config, prefix, x string, weight, bias *convert.Tensor) string {
	if c.Norm == convert.NormLayer {
		return b.layerNorm(prefix, x, b.initializer(weight), b.initializer(bias), c.NormEps)
	}
	return b.rmsNorm(prefix, x, b.initializer(weight), c.NormEps)
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
	L := int64(c.SeqLen())
	D := int64(c.EmbedDim)
	Din := int64(c.DInner)
	N := int64(c.DState)
	R := int64(c.DtRank)

	// xz = in_proj(hidden) (MS 184-190); x = first d_inner channels, z = rest (SSI 180).
	xz := b.linear(prefix+"/in_proj", normed, b.initializer(layer.InProj)) // [B, L, D] -> [B, L, 2·Din]
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
		if u == "" {
			conv := b.depthwiseConv1d(convMode, name+"/conv1d", xIn,
				b.initializer(mx.ConvWeight), b.initializer(mx.ConvBias), anti)
			u = b.silu(name+"/silu", conv)
		}
		xdbl := b.linear(name+"/x_proj", u, b.initializer(mx.XProj)) // [B, L, Din] -> [B, L, R+2N]
		dbc := b.split(name+"/x_dbl", xdbl, 2, []int64{R, N, N}, []string{"dt", "B", "C"})
		// delta = dt_proj.weight @ dt, bias added inside the scan (SSI 187, MS 225-226).
		delta := b.linear(name+"/dt_proj", dbc[0], b.initializer(mx.DtProjW)) // [B, L, R] -> [B, L, Din]
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
	out := b.linear(prefix+"/out_proj", y, b.initializer(layer.OutProj)) // [B, L, Din] -> [B, L, D]
	if layer.Gamma != nil {
		// Layer scale (MS 69-71, 308-309): out * gamma.
		out = b.op1("Mul", prefix+"/gamma", []string{out, b.initializer(layer.Gamma)}, []int64{Batch, L, D})
	}
	return out, nil
}

// buildReadoutAndHead reproduces forward_features' readout (MM 522-540) and
// the head (MM 545-552) on normed [B, L, D].
func buildReadoutAndHead(b *builder, m *convert.Model, normed string, opts Options) error {
	c := m.Config
	D := int64(c.EmbedDim)
	L := int64(c.SeqLen())
	C := int64(c.NumClasses)
	var feat string
	switch {
	case c.ClsToken == convert.ClsMiddle || c.ClsToken == convert.ClsHead:
		// hidden_states[:, token_position, :] (MM 526-531).
		feat = b.gatherToken("readout/cls_token", normed, int64(c.ClsTokenPosition()))
	case c.ClsToken == convert.ClsDouble:
		// (hidden[:, 0] + hidden[:, M+1]) / 2 (MM 524-525).
		hd := b.gatherToken("readout/cls_token_head", normed, 0)
		tl := b.gatherToken("readout/cls_token_tail", normed, L-1)
		sum := b.op1("Add", "readout/cls_sum", []string{hd, tl}, []int64{Batch, D})
		feat = b.op1("Div", "readout/cls_mean", []string{sum, b.constF32(nil, 2)}, []int64{Batch, D})
	case c.FinalPoolType == "mean" || c.FinalPoolType == "":
		feat = b.reduce("ReduceMean", "readout/mean", normed, []int64{1}, false, []int64{Batch, D}) // MM 537
	case c.FinalPoolType == "none":
		feat = b.gatherToken("readout/last_token", normed, L-1) // hidden[:, -1, :] (MM 535)
	case c.FinalPoolType == "max" || c.FinalPoolType == "all":
		// The head is applied to every token (MM 538-539, 545-552).
		w := b.initializer(m.HeadWeight)
		perTok := b.linear("head/matmul", normed, w) // [B, L, D] -> [B, L, C]
		logits := b.op1("Add", "head", []string{perTok, b.initializer(m.HeadBias)}, []int64{Batch, L, C})
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
	logits := b.op1("Gemm", "head", []string{feat, b.initializer(m.HeadWeight), b.initializer(m.HeadBias)},
		[]int64{Batch, C}, attrInt("transB", 1))
	b.output(LogitsName, logits)
	if opts.Features {
		b.output(FeaturesName, feat)
	}
	return nil
}
