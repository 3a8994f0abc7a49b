package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// This file builds the ONNX model of MambaOut (yuweihao/MambaOut
// models/mambaout.py at 9f2f234; line numbers below refer to it) from a
// mapped checkpoint (mambaout.Model). Only standard ai.onnx ops are used:
// no plugin is needed. Input height and width are symbolic ("height",
// "width") like the batch: the network is fully convolutional.

// Keys of ModelProto.metadata_props written by BuildMambaOut (besides
// MetaConfig, which holds mambaout.Config as JSON).
const (
	MetaArchitecture = "vimconvert.architecture" // mambaout.Architecture
	MetaPreprocess   = "vimconvert.preprocess"   // mambaout.Preprocess as JSON
	MetaLayout       = "vimconvert.layout"       // MambaOutOptions.Layout
	MetaVariant      = "vimconvert.variant"      // registered variant name, when one matches
)

// Activation layouts of the MambaOut graph (MambaOutOptions.Layout). All
// compute the same function; they differ in where the channels live.
const (
	// MambaOutLayoutNHWC keeps activations NHWC like the official code and
	// transposes to NCHW around every convolution (LayerNormalization over
	// the last axis, MatMul for the linear layers).
	MambaOutLayoutNHWC = "nhwc"
	// MambaOutLayoutNCHW keeps activations NCHW throughout: 1x1 Convs for
	// the linear layers, and the channel LayerNorm decomposed
	// (ReduceMean over axis 1), so no Transpose at all.
	MambaOutLayoutNCHW = "nchw"
	// MambaOutLayoutNCHWTransposeLN keeps activations NCHW with 1x1 Convs
	// for the linear layers, and runs each LayerNorm as
	// Transpose → LayerNormalization → Transpose.
	MambaOutLayoutNCHWTransposeLN = "nchw-transpose-ln"
)

// MambaOutLayouts lists the layouts BuildMambaOut accepts. The first is the
// default: the fastest of the three in ONNX Runtime on CPU
// (BenchmarkMambaOutORT), as its only Transposes are the per-stage outputs.
var MambaOutLayouts = []string{MambaOutLayoutNCHW, MambaOutLayoutNHWC, MambaOutLayoutNCHWTransposeLN}

// MambaOutOptions controls BuildMambaOut. The zero value builds the default
// model: opset 17, MambaOutLayouts[0], outputs logits only.
type MambaOutOptions struct {
	Opset  int    // default-domain opset (0 = DefaultOpset)
	Layout string // one of MambaOutLayouts ("" = the first)
	// Features adds the output "features" [batch, Dims[-1]]: the head input
	// (after the output norm).
	Features bool
	// PerStage adds outputs named like the fixture keys,
	// downsample_layers.{i} and stages.{i}, each [batch, H_i, W_i, C_i]
	// (NHWC, as the official code keeps them).
	PerStage bool
}

// BuildMambaOut returns the ONNX model of m: input pixel_values
// [batch, C, height, width], output logits [batch, NumClasses].
func BuildMambaOut(m *mambaout.Model, opts MambaOutOptions) (*onnxpb.ModelProto, error) {
	if m == nil {
		return nil, errors.New("graph: nil MambaOut model")
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	if opts.Opset == 0 {
		opts.Opset = DefaultOpset
	}
	ir := IRVersion(opts.Opset)
	if ir == 0 {
		return nil, fmt.Errorf("graph: opset %d not supported (want %d to %d)", opts.Opset, MinOpset, MaxOpset)
	}
	if opts.Layout == "" {
		opts.Layout = MambaOutLayouts[0]
	}
	lay, ok := moLayouts[opts.Layout]
	if !ok {
		return nil, fmt.Errorf("graph: unknown MambaOut layout %q (have %v)", opts.Layout, MambaOutLayouts)
	}
	b := newBuilder(opts.Opset)
	buildMambaOut(b, lay, m, opts)
	c := m.Config
	g, err := b.finish(fmt.Sprintf("mambaout_dims%v_depths%v", c.Dims, c.Depths), "MambaOut exported by vimconvert")
	if err != nil {
		return nil, err
	}
	symbolicSpatialDims(g)
	pre := m.Preprocess
	if pre.InputSize == 0 {
		pre = mambaout.EvalPreprocess // a Model not made by mambaout.Load
	}
	meta := map[string]any{MetaConfig: c, MetaPreprocess: pre}
	props := []*onnxpb.StringStringEntryProto{
		{Key: proto.String(MetaArchitecture), Value: proto.String(mambaout.Architecture)},
		{Key: proto.String(MetaLayout), Value: proto.String(opts.Layout)},
	}
	for _, k := range []string{MetaConfig, MetaPreprocess} {
		js, err := json.Marshal(meta[k])
		if err != nil {
			return nil, fmt.Errorf("graph: encode %s: %w", k, err)
		}
		props = append(props, &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(string(js))})
	}
	if v, _ := mambaout.MatchVariant(c); v != "" {
		props = append(props, &onnxpb.StringStringEntryProto{Key: proto.String(MetaVariant), Value: proto.String(v)})
	}
	return &onnxpb.ModelProto{
		IrVersion:       proto.Int64(ir),
		ProducerName:    proto.String(ProducerName),
		ProducerVersion: proto.String(ProducerVersion),
		DocString: proto.String("MambaOut converted by vimconvert from an official yuweihao/MambaOut checkpoint; " +
			"standard ONNX ops only, input [batch, 3, height, width] of any size."),
		OpsetImport:   opsetImports(g, opts.Opset),
		MetadataProps: props,
		Graph:         g,
	}, nil
}

// Spatial dims are tracked as Batch (symbolic) inside the builder, whose
// value_info can only name the batch. symbolicSpatialDims drops the
// intermediate value_info (ONNX shape inference derives it) and names the
// input's and the per-stage outputs' spatial dims.
func symbolicSpatialDims(g *onnxpb.GraphProto) {
	g.ValueInfo = nil
	name := func(vi *onnxpb.ValueInfoProto, axis int, n string) {
		d := vi.GetType().GetTensorType().GetShape().GetDim()[axis]
		d.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: n}
	}
	for _, in := range g.Input {
		name(in, 2, "height")
		name(in, 3, "width")
	}
	for _, out := range g.Output {
		if len(out.GetType().GetTensorType().GetShape().GetDim()) == 4 { // [B, H_i, W_i, C_i]
			name(out, 1, out.GetName()+".height")
			name(out, 2, out.GetName()+".width")
		}
	}
}

// moLayout is how one activation layout emits the layout-dependent ops.
// Shapes are tracked with Batch for every symbolic dim (batch, H, W).
type moLayout struct {
	chAxis int // channel axis of an activation: 3 (NHWC) or 1 (NCHW)
	// act is the shape of an activation with c channels.
	act func(c int64) []int64
	// toNCHW and fromNCHW surround a Conv (identity for NCHW layouts).
	toNCHW, fromNCHW func(b *builder, name, x string) string
	// channelNorm is nn.LayerNorm over the channels.
	channelNorm func(b *builder, prefix, x, w, bias string, eps float64) string
	// pointwise is nn.Linear on the channels with weight [out, in] and bias.
	pointwise func(b *builder, name, x, w, bias string) string
}

var moLayouts = map[string]moLayout{
	MambaOutLayoutNHWC: {
		chAxis: 3, act: func(c int64) []int64 { return []int64{Batch, Batch, Batch, c} },
		toNCHW: toNCHW, fromNCHW: toNHWC, channelNorm: lastAxisNorm, pointwise: linearBias,
	},
	MambaOutLayoutNCHW: {
		chAxis: 1, act: func(c int64) []int64 { return []int64{Batch, c, Batch, Batch} },
		toNCHW: identity, fromNCHW: identity, channelNorm: channelNormReduceMean, pointwise: conv1x1,
	},
	MambaOutLayoutNCHWTransposeLN: {
		chAxis: 1, act: func(c int64) []int64 { return []int64{Batch, c, Batch, Batch} },
		toNCHW: identity, fromNCHW: identity, channelNorm: channelNormTransposed, pointwise: conv1x1,
	},
}

func identity(_ *builder, _, x string) string { return x }

// toNCHW is x.permute(0, 3, 1, 2): [B, H, W, C] -> [B, C, H, W].
func toNCHW(b *builder, name, x string) string {
	s := b.shape(x)
	return b.op1("Transpose", name, []string{x}, []int64{s[0], s[3], s[1], s[2]}, attrInts("perm", 0, 3, 1, 2))
}

// toNHWC is x.permute(0, 2, 3, 1): [B, C, H, W] -> [B, H, W, C].
func toNHWC(b *builder, name, x string) string {
	s := b.shape(x)
	return b.op1("Transpose", name, []string{x}, []int64{s[0], s[2], s[3], s[1]}, attrInts("perm", 0, 2, 3, 1))
}

// lastAxisNorm is nn.LayerNorm on the last axis (LayerNormalization).
func lastAxisNorm(b *builder, prefix, x, w, bias string, eps float64) string {
	return b.layerNorm(prefix, x, w, bias, eps)
}

// channelNormTransposed is nn.LayerNorm over axis 1 of [B, C, H, W] as
// Transpose → LayerNormalization (last axis) → Transpose.
func channelNormTransposed(b *builder, prefix, x, w, bias string, eps float64) string {
	nhwc := toNHWC(b, prefix+"/to_nhwc", x)
	n := b.layerNorm(prefix, nhwc, w, bias, eps)
	return toNCHW(b, prefix+"/to_nchw", n)
}

// channelNormReduceMean is nn.LayerNorm over axis 1 of [B, C, H, W],
// decomposed: (x - mean) / sqrt(var + eps) * w + b with the biased variance,
// w and b reshaped to [C, 1, 1].
func channelNormReduceMean(b *builder, prefix, x, w, bias string, eps float64) string {
	s := b.shape(x)
	red := []int64{s[0], 1, s[2], s[3]}
	c := s[1]
	mean := b.reduce("ReduceMean", prefix+"/mean", x, []int64{1}, true, red)
	d := b.op1("Sub", prefix+"/center", []string{x, mean}, s)
	sq := b.op1("Mul", prefix+"/square", []string{d, d}, s)
	v := b.reduce("ReduceMean", prefix+"/var", sq, []int64{1}, true, red)
	ve := b.op1("Add", prefix+"/add_eps", []string{v, b.constF32(nil, float32(eps))}, red)
	std := b.op1("Sqrt", prefix+"/std", []string{ve}, red)
	n := b.op1("Div", prefix+"/normalize", []string{d, std}, s)
	shape := b.constI64(false, c, 1, 1)
	wr := b.op1("Reshape", prefix+"/weight_c11", []string{w, shape}, []int64{c, 1, 1}) // [C] -> [C, 1, 1]
	br := b.op1("Reshape", prefix+"/bias_c11", []string{bias, shape}, []int64{c, 1, 1})
	scaled := b.op1("Mul", prefix+"/scale", []string{n, wr}, s)
	return b.op1("Add", prefix+"/shift", []string{scaled, br}, s)
}

// linearBias is nn.Linear with bias on the last axis: MatMul(x, Wᵀ) + b.
func linearBias(b *builder, name, x, w, bias string) string {
	y := b.linear(name+"/matmul", x, w)
	return b.op1("Add", name, []string{y, bias}, b.shape(y))
}

// conv1x1 is nn.Linear on axis 1 of [B, C, H, W]: a 1x1 Conv with the
// weight reshaped [out, in] -> [out, in, 1, 1].
func conv1x1(b *builder, name, x, w, bias string) string {
	ws := b.shape(w)
	s := b.shape(x)
	w4 := b.op1("Reshape", name+"/weight_oi11", []string{w, b.constI64(false, ws[0], ws[1], 1, 1)}, []int64{ws[0], ws[1], 1, 1})
	return b.op1("Conv", name, []string{x, w4, bias}, []int64{s[0], ws[0], s[2], s[3]}, attrInts("kernel_shape", 1, 1))
}

// gelu is nn.GELU() (exact): x · 0.5 · (1 + erf(x / √2)), in the pattern
// ONNX Runtime fuses into one Gelu kernel.
func (b *builder) gelu(name, x string) string {
	s := b.shape(x)
	d := b.op1("Div", name+"/div_sqrt2", []string{x, b.constF32(nil, float32(math.Sqrt2))}, s)
	e := b.op1("Erf", name+"/erf", []string{d}, s)
	p := b.op1("Add", name+"/add_1", []string{e, b.constF32(nil, 1)}, s)
	xm := b.op1("Mul", name+"/mul_x", []string{x, p}, s)
	return b.op1("Mul", name, []string{xm, b.constF32(nil, 0.5)}, s)
}

// conv2d emits nn.Conv2d on an NCHW value (groups 1 unless given).
func (b *builder) conv2d(name, x string, w, bias *convert.Tensor, stride, pad, groups int64) string {
	s := b.shape(x)
	k := int64(w.Shape[2])
	return b.op1("Conv", name, []string{x, b.initializer(w), b.initializer(bias)}, []int64{s[0], int64(w.Shape[0]), Batch, Batch},
		attrInts("kernel_shape", k, k), attrInts("strides", stride, stride), attrInts("pads", pad, pad, pad, pad), attrInt("group", groups))
}

// buildMambaOut emits MambaOut.forward: forward_features (247-251) then
// the head.
func buildMambaOut(b *builder, lay moLayout, m *mambaout.Model, opts MambaOutOptions) {
	c := m.Config
	eps := c.NormEps
	x := b.input(InputName, []int64{Batch, int64(c.InChans), Batch, Batch})

	// StemLayer (41-75): conv1 on the NCHW image, norm1 (NHWC in the
	// official code), GELU, conv2, norm2.
	s := &m.Stem
	h := b.conv2d("downsample_layers.0/conv1", x, s.Conv1W, s.Conv1B, 2, 1, 1)
	h = lay.fromNCHW(b, "downsample_layers.0/conv1/from_nchw", h)
	h = lay.channelNorm(b, "downsample_layers.0/norm1", h, b.initializer(s.Norm1W), b.initializer(s.Norm1B), eps)
	h = b.gelu("downsample_layers.0/act", h)
	h = lay.toNCHW(b, "downsample_layers.0/conv2/to_nchw", h)
	h = b.conv2d("downsample_layers.0/conv2", h, s.Conv2W, s.Conv2B, 2, 1, 1)
	h = lay.fromNCHW(b, "downsample_layers.0/conv2/from_nchw", h)
	h = lay.channelNorm(b, "downsample_layers.0/norm2", h, b.initializer(s.Norm2W), b.initializer(s.Norm2B), eps)

	for i := 0; i < c.NumStages(); i++ {
		if i > 0 {
			// DownsampleLayer (78-94): permute to NCHW, conv, permute back, norm.
			d := &m.Downsamples[i-1]
			p := fmt.Sprintf("downsample_layers.%d", i)
			h = lay.toNCHW(b, p+"/conv/to_nchw", h)
			h = b.conv2d(p+"/conv", h, d.ConvW, d.ConvB, 2, 1, 1)
			h = lay.fromNCHW(b, p+"/conv/from_nchw", h)
			h = lay.channelNorm(b, p+"/norm", h, b.initializer(d.NormW), b.initializer(d.NormB), eps)
		}
		if opts.PerStage {
			b.output(fmt.Sprintf("downsample_layers.%d", i), perStageNHWC(b, lay, fmt.Sprintf("downsample_layers.%d/out_nhwc", i), h))
		}
		for j := range m.Stages[i] {
			h = gatedCNNBlock(b, lay, &m.Stages[i][j], fmt.Sprintf("stages.%d.%d", i, j), h,
				int64(c.Hidden[i]), int64(c.ConvChannels[i]), eps)
		}
		if opts.PerStage {
			b.output(fmt.Sprintf("stages.%d", i), perStageNHWC(b, lay, fmt.Sprintf("stages.%d/out_nhwc", i), h))
		}
	}

	// forward_features (247-251): x.mean([1, 2]) over H and W, then norm.
	dim := int64(c.Dims[c.NumStages()-1])
	spatial := []int64{1, 2} // [B, H, W, C] -> [B, C]
	if lay.chAxis == 1 {
		spatial = []int64{2, 3} // [B, C, H, W] -> [B, C]
	}
	pooled := b.reduce("ReduceMean", "pool_mean", h, spatial, false, []int64{Batch, dim})
	feat := b.layerNorm("norm", pooled, b.initializer(m.NormW), b.initializer(m.NormB), eps)
	if opts.Features {
		b.output(FeaturesName, feat)
	}

	// MlpHead (97-116): fc1, GELU, norm, fc2.
	y := linearBias(b, "head/fc1", feat, b.initializer(m.HeadFC1W), b.initializer(m.HeadFC1B))
	y = b.gelu("head/act", y)
	y = b.layerNorm("head/norm", y, b.initializer(m.HeadNormW), b.initializer(m.HeadNormB), eps)
	y = linearBias(b, "head/fc2", y, b.initializer(m.HeadFC2W), b.initializer(m.HeadFC2B))
	b.output(LogitsName, y)
}

// perStageNHWC returns activation x in the official NHWC layout.
func perStageNHWC(b *builder, lay moLayout, name, x string) string {
	if lay.chAxis == 3 {
		return x
	}
	return toNHWC(b, name, x)
}

// gatedCNNBlock emits GatedCNNBlock.forward (119-152):
//
//	g, i, c = split(fc1(norm(x)), (hidden, hidden - convCh, convCh))
//	c = depthwise_conv(c)   (permuted to NCHW and back, 147-149)
//	return fc2(gelu(g) * cat(i, c)) + x
func gatedCNNBlock(b *builder, lay moLayout, blk *mambaout.Block, prefix, x string, hidden, convCh int64, eps float64) string {
	n := lay.channelNorm(b, prefix+"/norm", x, b.initializer(blk.NormW), b.initializer(blk.NormB), eps)
	h := lay.pointwise(b, prefix+"/fc1", n, b.initializer(blk.FC1W), b.initializer(blk.FC1B))
	parts := b.split(prefix+"/split", h, lay.chAxis, []int64{hidden, hidden - convCh, convCh}, []string{"g", "i", "c"})
	cv := lay.toNCHW(b, prefix+"/conv/to_nchw", parts[2])
	k := int64(blk.ConvW.Shape[2])
	cv = b.conv2d(prefix+"/conv", cv, blk.ConvW, blk.ConvB, 1, k/2, convCh)
	cv = lay.fromNCHW(b, prefix+"/conv/from_nchw", cv)
	catShape := lay.act(hidden)
	cat := b.op1("Concat", prefix+"/cat", []string{parts[1], cv}, catShape, attrInt("axis", int64(lay.chAxis)))
	gated := b.op1("Mul", prefix+"/gate", []string{b.gelu(prefix+"/act", parts[0]), cat}, catShape)
	y := lay.pointwise(b, prefix+"/fc2", gated, b.initializer(blk.FC2W), b.initializer(blk.FC2B))
	return b.op1("Add", prefix+"/shortcut", []string{y, x}, b.shape(y))
}
