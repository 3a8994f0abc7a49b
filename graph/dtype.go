package graph

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/x448/float16"
	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// DType names the element type of a model's weights and activations
// (Options.DType): DTypeFloat32, DTypeFloat16 or DTypeBFloat16.
type DType string

// Model element types (Options.DType).
//
// A 16-bit model follows the official mixed-precision (AMP) path: the
// projections, the patch conv, the head and the mixer's activations are
// 16-bit, while the fp32 islands of the official code stay float32: the
// residual stream, the norms and everything between them
// (residual_in_fp32, LN 231 and 258-261), the patch/position embedding
// sum, the depthwise conv1d's weight and bias with conv + SiLU computed in
// float32 and rounded once (causal_conv1d_fwd; SSI 174-176 casts only
// x_proj and dt_proj), A = -exp(A_log) (MS 192, 214), D and delta_bias,
// and the scan state (the plugin op computes in float32 and rounds y
// once). Inputs and outputs stay float32: the casts are in the graph.
const (
	// DTypeFloat32 is the default: everything float32.
	DTypeFloat32 DType = "float32"
	// DTypeFloat16 stores the 16-bit weights and activations as IEEE
	// binary16.
	DTypeFloat16 DType = "float16"
	// DTypeBFloat16 stores them as bfloat16.
	DTypeBFloat16 DType = "bfloat16"
)

// MetaDType is the metadata key holding Options.DType ("float32" when
// absent, as in models written before it existed).
const MetaDType = "vimconvert.dtype"

var dtypeElems = map[DType]onnxpb.TensorProto_DataType{
	DTypeFloat32:  onnxpb.TensorProto_FLOAT,
	DTypeFloat16:  onnxpb.TensorProto_FLOAT16,
	DTypeBFloat16: onnxpb.TensorProto_BFLOAT16,
}

// DTypes lists the accepted values of Options.DType, sorted.
func DTypes() []DType {
	return slices.Sorted(maps.Keys(dtypeElems))
}

// ParseDType returns the DType named s ("" = DTypeFloat32), or an error
// listing the accepted names.
func ParseDType(s string) (DType, error) {
	if s == "" {
		return DTypeFloat32, nil
	}
	if _, ok := dtypeElems[DType(s)]; !ok {
		return "", fmt.Errorf("unknown dtype %q (have %v)", s, DTypes())
	}
	return DType(s), nil
}

// Is16Bit reports whether d stores weights and activations in 16 bits.
func (d DType) Is16Bit() bool { return d == DTypeFloat16 || d == DTypeBFloat16 }

// ModelDType returns the DType recorded in a model's metadata
// (DTypeFloat32 when it has none), or an error for an unknown value.
func ModelDType(mp *onnxpb.ModelProto) (DType, error) {
	for _, e := range mp.GetMetadataProps() {
		if e.GetKey() == MetaDType {
			d, err := ParseDType(e.GetValue())
			if err != nil {
				return "", fmt.Errorf("metadata %s: %w", MetaDType, err)
			}
			return d, nil
		}
	}
	return DTypeFloat32, nil
}

// checkDType refuses combinations Build does not implement: the 16-bit
// kernels exist only in the plugin's scan op.
func checkDType(opts Options) error {
	if _, ok := dtypeElems[opts.DType]; !ok {
		return fmt.Errorf("graph: unknown dtype %q (have %v)", opts.DType, DTypes())
	}
	if !opts.DType.Is16Bit() {
		return nil
	}
	if opts.Scan != ScanPlugin {
		return fmt.Errorf("graph: dtype %s is implemented only with scan lowering %q (not %q)", opts.DType, ScanPlugin, opts.Scan)
	}
	if opts.DepthwiseConv == ConvPlugin {
		return fmt.Errorf("graph: dtype %s cannot be combined with depthwise conv %q (its op is float32 only)", opts.DType, ConvPlugin)
	}
	return nil
}

// precision says how a model's 16-bit regions are written. Its zero value
// is a float32 model.
//
// float16 regions are float16 in the graph (ONNX Runtime's CPU provider
// runs what it has no float16 kernel for in float32 with inserted casts).
// bfloat16 regions cannot be: ONNX has no bfloat16 Conv before opset 22
// and ONNX Runtime 1.29 has no bfloat16 Conv or CPU MatMul kernel at all.
// They are float32 in the graph with every op output rounded to bfloat16
// (a Cast to bfloat16 and back) and the weights stored as bfloat16 and
// widened by a Cast that ONNX Runtime folds at load. Since the product of
// two bfloat16 values is exact in float32, a float32 MatMul or Conv of
// bfloat16-rounded operands with its output rounded to bfloat16 is a
// bfloat16 GEMM with float32 accumulation, as GPUs compute it (up to the
// order of the sums). The scan op gets real bfloat16 inputs.
type precision struct {
	store   onnxpb.TensorProto_DataType // initializer type of the 16-bit weights (0 = float32)
	compute onnxpb.TensorProto_DataType // element type of 16-bit region values in the graph (0 = float32)
	round   onnxpb.TensorProto_DataType // type each 16-bit op output is rounded through (0 = none)
	// rounded maps a rounded float32 value to its 16-bit twin (the Cast
	// between), so that the scan reuses it.
	rounded map[string]string
}

func precisionOf(d DType) precision {
	switch d {
	case DTypeFloat16:
		return precision{store: onnxpb.TensorProto_FLOAT16, compute: onnxpb.TensorProto_FLOAT16}
	case DTypeBFloat16:
		return precision{store: onnxpb.TensorProto_BFLOAT16, compute: onnxpb.TensorProto_FLOAT,
			round: onnxpb.TensorProto_BFLOAT16, rounded: map[string]string{}}
	}
	return precision{}
}

// weight adds a checkpoint tensor that the official AMP path uses in 16
// bits (projection, patch conv and head weights): an initializer of the 16-bit
// type, rounded to nearest even, widened to float32 by a Cast for bfloat16
// models. For float32 models it is initializer.
func (b *builder) weight(t *convert.Tensor) string {
	if b.prec.store == 0 || t == nil {
		return b.initializer(t)
	}
	name := b.initializer(t)
	if b.err != nil {
		return name
	}
	last := b.initializers[len(b.initializers)-1]
	last.DataType = proto.Int32(int32(b.prec.store))
	last.RawData = encode16(b.prec.store, t.Data)
	v := b.values[name]
	v.elem = b.prec.store
	b.values[name] = v
	if b.prec.compute == onnxpb.TensorProto_FLOAT {
		return b.castTo(name+"/to_float32", name, onnxpb.TensorProto_FLOAT)
	}
	return name
}

// encode16 rounds float32 values to float16 or bfloat16 (nearest even)
// as little-endian raw data.
func encode16(elem onnxpb.TensorProto_DataType, data []float32) []byte {
	raw := make([]byte, 2*len(data))
	for i, v := range data {
		var h uint16
		if elem == onnxpb.TensorProto_BFLOAT16 {
			h = BFloat16Bits(v)
		} else {
			h = float16.Fromfloat32(v).Bits()
		}
		binary.LittleEndian.PutUint16(raw[2*i:], h)
	}
	return raw
}

// BFloat16Bits rounds v to bfloat16 (nearest, ties to even; NaN stays a
// quiet NaN) and returns its bits.
func BFloat16Bits(v float32) uint16 {
	x := math.Float32bits(v)
	if x&0x7fffffff > 0x7f800000 {
		return uint16(x>>16) | 0x40
	}
	x += 0x7fff + (x>>16)&1
	return uint16(x >> 16)
}

// toCompute starts a 16-bit region at the float32 value x: a Cast to
// float16, or the bfloat16 rounding; x itself for float32 models.
func (b *builder) toCompute(name, x string) string {
	if b.prec.round != 0 {
		return b.round16(x)
	}
	return b.castTo(name, x, b.prec.compute)
}

// toFloat32 ends a 16-bit region: a Cast to float32, or the bfloat16
// rounding of x; x itself for float32 models.
func (b *builder) toFloat32(name, x string) string {
	if b.prec.round != 0 {
		return b.round16(x)
	}
	return b.castTo(name, x, onnxpb.TensorProto_FLOAT)
}

// widen casts the 16-bit value x to float32 for an op that the official
// AMP path computes in float32 from 16-bit inputs; x itself when it is
// float32 already (float32 and bfloat16 models).
func (b *builder) widen(name, x string) string {
	return b.castTo(name, x, onnxpb.TensorProto_FLOAT)
}

// round16 rounds the float32 op output x to bfloat16 (Cast there and
// back) in a bfloat16 model; elsewhere, and for a value already rounded,
// it returns x.
func (b *builder) round16(x string) string {
	if b.prec.round == 0 {
		return x
	}
	if _, done := b.prec.rounded[x]; done {
		return x
	}
	for _, twin := range b.prec.rounded {
		if twin == x {
			return x
		}
	}
	h := b.castTo(x+"/to_bfloat16", x, b.prec.round)
	r := b.castTo(x+"/rounded", h, onnxpb.TensorProto_FLOAT)
	b.prec.rounded[r] = h
	return r
}

// scanInput returns the value the plugin's scan op reads for activation x:
// x itself, or in a bfloat16 model its bfloat16 twin (a Cast, exact since
// x is already rounded or a slice of a rounded value).
func (b *builder) scanInput(x string) string {
	if b.prec.round == 0 {
		return x
	}
	if h, ok := b.prec.rounded[x]; ok {
		return h
	}
	if _, ok := b.values[x+"/to_bfloat16"]; ok {
		return x + "/to_bfloat16"
	}
	return b.castTo(x+"/to_bfloat16", x, b.prec.round)
}

// scanOutput widens the scan op's bfloat16 output y back to float32 in a
// bfloat16 model; elsewhere it returns y.
func (b *builder) scanOutput(y string) string {
	if b.prec.round == 0 {
		return y
	}
	return b.castTo(y+"/to_float32", y, onnxpb.TensorProto_FLOAT)
}

func (b *builder) castTo(name, x string, to onnxpb.TensorProto_DataType) string {
	v, ok := b.values[x]
	if !ok {
		b.fail("graph builder: cast %q: unknown value %q", name, x)
		return x
	}
	if to == 0 || v.elem == to {
		return x
	}
	b.addNode("", "Cast", name, []string{x}, []string{name}, to, [][]int64{v.shape},
		[]*onnxpb.AttributeProto{attrInt("to", int64(to))})
	return name
}
