package graph

import (
	"fmt"
	"math"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// This file holds the --dynamic-size export (Options.DynamicSize): one
// model whose input is [batch, C, height, width] with both sides symbolic.
// The patch grid is read from the patch-embed conv's output shape, the
// patch rows of pos_embed are resampled to it in the graph, and the cls
// token and readout positions follow the grid.

// Symbolic dimensions of a dynamic-size model, written as dim_param
// (SymbolicDimNames). Like Batch they are negative markers in the
// builder's shapes; no arithmetic is done on them.
const (
	Height   int64 = -2 // input height, dim_param "height"
	Width    int64 = -3 // input width, dim_param "width"
	GridRows int64 = -4 // patch grid rows, dim_param "grid_rows"
	GridCols int64 = -5 // patch grid columns, dim_param "grid_cols"
	Patches  int64 = -6 // grid_rows·grid_cols, dim_param "patches"
	Tokens   int64 = -7 // patches plus cls tokens, dim_param "tokens"
	// Unnamed is a run-time size with no name (the two parts of the
	// sequence around a middle cls token): written as an empty dimension,
	// so ONNX Runtime equates it with nothing.
	Unnamed int64 = -8
)

// checkDynamicOptions refuses what a dynamic-size model cannot be built
// with, naming the combination and what works instead: a scan lowering
// or depthwise conv that slices by a fixed token count, uint8 input and
// 16-bit dtypes (neither implemented nor tested with a dynamic size).
func checkDynamicOptions(o Options) error {
	const fixed = "export one model per size instead (--img-size N, or HxW)"
	switch {
	case o.Scan != ScanPlugin:
		return fmt.Errorf("graph: --dynamic-size with --scan %s is not supported: that lowering is built for a fixed token count; use --dynamic-size with --scan %s (the default), or %s with --scan %s",
			o.Scan, ScanPlugin, fixed, o.Scan)
	case o.DepthwiseConv == ConvSlice:
		return fmt.Errorf("graph: --dynamic-size with --conv %s is not supported: that conv slices by a fixed token count; use --dynamic-size with --conv %s (the default) or --conv %s, or %s with --conv %s",
			ConvSlice, ConvONNX, ConvPlugin, fixed, ConvSlice)
	case o.InputFormat == InputUint8NHWC:
		return fmt.Errorf("graph: --dynamic-size with --input-format %s is not supported: a dynamic-size model takes %s [B, 3, H, W] only; use --dynamic-size with --input-format %s (the default; `vimconvert preprocess` writes that tensor), or %s with --input-format %s",
			InputUint8NHWC, "float32", InputFloatNCHW, fixed, InputUint8NHWC)
	case o.DType.Is16Bit():
		return fmt.Errorf("graph: --dynamic-size with --dtype %s is not supported: a dynamic-size model is %s only; use --dynamic-size with --dtype %s (the default), or %s with --dtype %s",
			o.DType, DTypeFloat32, DTypeFloat32, fixed, o.DType)
	}
	return nil
}

// SymbolicDimNames maps each symbolic dimension marker to its dim_param.
var SymbolicDimNames = map[int64]string{
	Batch: BatchDimName, Height: "height", Width: "width", GridRows: "grid_rows",
	GridCols: "grid_cols", Patches: "patches", Tokens: "tokens",
}

// dynClsPos1D names the 1-D [1] value holding a dynamic-size model's
// middle cls position (h·w)//2.
const dynClsPos1D = "cls_token/position_1d"

// MetaDynamicSize is the metadata key set to "true" on a dynamic-size
// model (Options.DynamicSize): its input takes any height and width that
// fit the patch size and stride (convert.CheckImageSide); the config's
// img_size is then the size of the checkpoint's own pos_embed grid.
const MetaDynamicSize = "vimconvert.dynamic_size"

// Bicubic resampling in the graph: ONNX Resize (opset 13+) with
// cubic_coeff_a = -0.75 and half_pixel coordinates is PyTorch's
// F.interpolate(mode="bicubic", align_corners=False) without antialiasing
// (source index (dst + 0.5)·in/out - 0.5, border taps clamped), which is
// what convert.BicubicResize computes in float64 for --img-size.
const (
	resizeCubicA     = -0.75
	resizeCoordinate = "half_pixel"
)

// dynamicEmbed emits, for a dynamic-size model, the cls insertion and the
// pos_embed add on the patch-embed conv output conv [B, D, gh, gw]
// (MM 385-422) and returns the tokens [B, L, D] and the scalar int64 value
// holding the (first) cls token's position ("" without a cls token).
//
// The patch rows of pos_embed are resampled to gh×gw (one Resize per run,
// before the blocks) and added to the patch tokens; each cls token gets
// its own pos_embed row added before it is inserted. Elementwise, that is
// the same sum as adding the whole resized pos_embed after the insertion.
func (b *builder) dynamicEmbed(m *convert.Model, conv string, perLayer bool) (tokens, clsPos string) {
	c := m.Config
	D := int64(c.EmbedDim)
	flat := b.op1("Reshape", "patch_embed/flatten", []string{conv, b.constI64(false, 0, D, -1)}, []int64{Batch, D, Patches}) // [B, D, gh, gw] -> [B, D, M]
	tokens = b.op1("Transpose", "patch_embed/transpose", []string{flat}, []int64{Batch, Patches, D},
		attrInts("perm", 0, 2, 1)) // [B, D, M] -> [B, M, D]
	if perLayer {
		b.output("patch_embed_out", tokens)
	}
	var clsRows []string
	if m.PosEmbed != nil {
		patchPos, rows := b.resizedPosEmbed(m, conv)
		clsRows = rows
		tokens = b.op1("Add", "pos_embed/add", []string{tokens, patchPos}, []int64{Batch, Patches, D}) // [B, M, D] + [1, M, D]
	}
	if c.ClsToken == convert.ClsNone {
		return tokens, ""
	}
	var shape string
	expand := func(name string, t *convert.Tensor, row int) string {
		if shape == "" {
			batch := b.shapeBatch("cls_token/batch", conv)
			shape = b.op1("Concat", "cls_token/expand_shape", []string{batch, b.constI64(false, 1, D)}, []int64{3}, attrInt("axis", 0))
		}
		v := b.initializer(t)
		if clsRows != nil {
			v = b.op1("Add", name+"/pos_embed", []string{v, clsRows[row]}, []int64{1, 1, D}) // [1, 1, D] + [1, 1, D]
		}
		return b.op1("Expand", name, []string{v, shape}, []int64{Batch, 1, D}) // [1, 1, D] -> [B, 1, D]
	}
	switch c.ClsToken {
	case convert.ClsMiddle:
		// cat(x[:, :M//2], cls, x[:, M//2:]) with M = gh·gw read from the
		// conv output's shape (MM 399-403).
		gh := b.shapeOf("cls_token/grid_rows", conv, 2, 3)                               // [gh]
		gw := b.shapeOf("cls_token/grid_cols", conv, 3, 4)                               // [gw]
		np := b.op1("Mul", "cls_token/num_patches", []string{gh, gw}, []int64{1})        // [M]
		pos := b.op1("Div", dynClsPos1D, []string{np, b.constI64(false, 2)}, []int64{1}) // [M // 2]
		cls := expand("cls_token/expand", m.ClsToken, 0)
		before := b.op1("Slice", "cls_token/before", []string{tokens, b.constI64(false, 0), pos, b.constI64(false, 1)}, []int64{Batch, Unnamed, D})
		after := b.op1("Slice", "cls_token/after", []string{tokens, pos, b.constI64(false, math.MaxInt64), b.constI64(false, 1)}, []int64{Batch, Unnamed, D})
		tokens = b.op1("Concat", "cls_token/insert", []string{before, cls, after}, []int64{Batch, Tokens, D}, attrInt("axis", 1))
		clsPos = b.op1("Squeeze", "cls_token/position", []string{pos, b.constI64(false, 0)}, []int64{})
	case convert.ClsHead:
		cls := expand("cls_token/expand", m.ClsToken, 0)
		tokens = b.op1("Concat", "cls_token/insert", []string{cls, tokens}, []int64{Batch, Tokens, D}, attrInt("axis", 1))
		clsPos = b.constI64(true, 0)
	case convert.ClsDouble:
		head := expand("cls_token_head/expand", m.ClsTokenHead, 0)
		tail := expand("cls_token_tail/expand", m.ClsTokenTail, 1)
		tokens = b.op1("Concat", "cls_token/insert", []string{head, tokens, tail}, []int64{Batch, Tokens, D}, attrInt("axis", 1))
		clsPos = b.constI64(true, 0)
	}
	return tokens, clsPos
}

// resizedPosEmbed returns the patch rows of pos_embed resampled to the
// grid of conv [B, D, gh, gw] as [1, gh·gw, D], and the cls rows
// ([1, 1, D] each, in placement order: the cls token, or head then tail).
// The split of pos_embed into cls and patch rows is the one
// convert.ResizePosEmbedHW makes.
func (b *builder) resizedPosEmbed(m *convert.Model, conv string) (patchPos string, clsRows []string) {
	c := m.Config
	D := int64(c.EmbedDim)
	pe := b.initializer(m.PosEmbed) // [1, L0, D]
	L0, M0 := int64(c.SeqLen()), int64(c.NumPatches())
	gh0, gw0 := c.GridHW()
	rows := func(name string, from, to int64) string {
		return b.op1("Slice", name, []string{pe, b.constI64(false, from), b.constI64(false, to), b.constI64(false, 1)}, []int64{1, to - from, D})
	}
	var patches string
	switch c.ClsToken {
	case convert.ClsMiddle:
		pos := M0 / 2
		clsRows = []string{rows("pos_embed/cls_row", pos, pos+1)}
		patches = b.op1("Concat", "pos_embed/patch_rows", []string{rows("pos_embed/rows_before_cls", 0, pos), rows("pos_embed/rows_after_cls", pos+1, L0)},
			[]int64{1, M0, D}, attrInt("axis", 1))
	case convert.ClsHead:
		clsRows = []string{rows("pos_embed/cls_row", 0, 1)}
		patches = rows("pos_embed/patch_rows", 1, L0)
	case convert.ClsDouble:
		clsRows = []string{rows("pos_embed/cls_head_row", 0, 1), rows("pos_embed/cls_tail_row", L0-1, L0)}
		patches = rows("pos_embed/patch_rows", 1, L0-1)
	default:
		patches = pe
	}
	grid := b.op1("Reshape", "pos_embed/grid", []string{patches, b.constI64(false, 1, int64(gh0), int64(gw0), D)},
		[]int64{1, int64(gh0), int64(gw0), D}) // [1, M0, D] -> [1, gh0, gw0, D]
	nchw := b.op1("Transpose", "pos_embed/to_nchw", []string{grid}, []int64{1, D, int64(gh0), int64(gw0)},
		attrInts("perm", 0, 3, 1, 2)) // [1, gh0, gw0, D] -> [1, D, gh0, gw0]
	hw := b.shapeOf("pos_embed/grid_size", conv, 2, 4) // [gh, gw]
	sizes := b.op1("Concat", "pos_embed/sizes", []string{b.constI64(false, 1, D), hw}, []int64{4}, attrInt("axis", 0))
	resized := b.op1("Resize", "pos_embed/resize", []string{nchw, "", "", sizes}, []int64{1, D, GridRows, GridCols},
		attrString("mode", "cubic"), attrFloat("cubic_coeff_a", resizeCubicA),
		attrString("coordinate_transformation_mode", resizeCoordinate), attrInt("exclude_outside", 0)) // [1, D, gh0, gw0] -> [1, D, gh, gw]
	flat := b.op1("Reshape", "pos_embed/flatten", []string{resized, b.constI64(false, 1, D, -1)}, []int64{1, D, Patches}) // [1, D, gh, gw] -> [1, D, M]
	patchPos = b.op1("Transpose", "pos_embed/patch_rows_resized", []string{flat}, []int64{1, Patches, D},
		attrInts("perm", 0, 2, 1)) // [1, D, M] -> [1, M, D]
	return patchPos, clsRows
}

// shapeOf returns x's shape dims [start, end) as a 1-D int64 value read at
// run time.
func (b *builder) shapeOf(name, x string, start, end int64) string {
	b.addNode("", "Shape", name, []string{x}, []string{name}, onnxpb.TensorProto_INT64, [][]int64{{end - start}},
		[]*onnxpb.AttributeProto{attrInt("start", start), attrInt("end", end)})
	return name
}

// IsDynamicSize reports whether mp was built with Options.DynamicSize.
func IsDynamicSize(mp *onnxpb.ModelProto) bool {
	return onnxfile.Metadata(mp)[MetaDynamicSize] == "true"
}

// CheckInputShape checks an image batch shape [B, C, H, W] against a model
// exported by vimconvert (name is used in messages) before it is run, so
// that a bad size is an error naming the sizes that fit rather than a
// shape error inside ONNX Runtime: a dynamic-size model takes every H×W
// that fits its patch and stride (convert.Config.CheckInputSize), a fixed
// one exactly its img_size. A model without vimconvert's config is not
// checked. It returns whether the model is dynamic-size.
func CheckInputShape(name string, mp *onnxpb.ModelProto, shape []int) (dynamic bool, err error) {
	if arch, _, _, _ := BuiltArchitecture(mp); arch == mambaout.Architecture {
		return true, nil // fully convolutional: any H×W; ONNX Runtime checks the rank and channels
	}
	c, ok, err := BuiltConfig(name, mp)
	if err != nil || !ok {
		return false, err
	}
	dynamic = IsDynamicSize(mp)
	if len(shape) != 4 || shape[0] < 1 || shape[1] != c.InChans {
		return dynamic, fmt.Errorf("%s: input shape %v, want [B, %d, H, W]%s", name, shape, c.InChans, convert.ChannelsLastHint(shape, c.InChans))
	}
	h, w := shape[2], shape[3]
	if dynamic {
		if err := c.CheckInputSize(h, w); err != nil {
			return true, fmt.Errorf("%s (dynamic size) cannot take a %d×%d input: %w", name, h, w, err)
		}
		return true, nil
	}
	if h != c.ImgSize || w != c.Width() {
		return false, fmt.Errorf("the input has shape %v, %s takes [B, %d, %d, %d] only (convert with --img-size HxW for another size, or --dynamic-size)", shape, name, c.InChans, c.ImgSize, c.Width())
	}
	return false, nil
}
