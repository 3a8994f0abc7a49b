package graph

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// ScanInputNames are the graph input names of BuildScanOnly, in the input
// order of ai.vimconvert::SelectiveScanBidirectional (ops/README.md).
var ScanInputNames = []string{
	"u_f", "delta_f", "A_f", "B_f", "C_f", "D_f", "delta_bias_f",
	"u_b", "delta_b", "A_b", "B_b", "C_b", "D_b", "delta_bias_b", "z",
}

// ScanOutputName is the output of BuildScanOnly and BuildLinearAttentionCall.
const ScanOutputName = "y"

// ScanInputShape returns the shape of ScanInputNames[i] for batch, L tokens,
// din channels and n states: [batch, L, din] for u/delta/z, [batch, L, n] for
// B/C, [din, n] for A and [din] for D/delta_bias.
func ScanInputShape(name string, batch, L, din, n int64) []int64 {
	switch name {
	case "A_f", "A_b":
		return []int64{din, n}
	case "D_f", "D_b", "delta_bias_f", "delta_bias_b":
		return []int64{din}
	case "B_f", "C_f", "B_b", "C_b":
		return []int64{batch, L, n}
	}
	return []int64{batch, L, din}
}

// BuildScanOnly returns a model made of one bidirectional selective scan
// (bimamba v2 with divide_out) on L tokens, din channels and n states, lowered
// with the named scan lowering (ScanPlugin or ScanLinearAttention). Its
// inputs are ScanInputNames (batch symbolic), its output ScanOutputName
// [batch, L, din]. Used to time the scan alone on a model's shapes.
func BuildScanOnly(L, din, n int, lowering string) (*onnxpb.ModelProto, error) {
	lower, ok := scanLowerings[lowering]
	if !ok {
		return nil, fmt.Errorf("graph: unknown scan lowering %q (have %v)", lowering, ScanLowerings())
	}
	if L < 1 || din < 1 || n < 1 {
		return nil, fmt.Errorf("graph: scan shapes L=%d d_inner=%d d_state=%d must be positive", L, din, n)
	}
	b := newBuilder(DefaultOpset)
	in := map[string]string{}
	for _, name := range ScanInputNames {
		in[name] = b.input(name, ScanInputShape(name, Batch, int64(L), int64(din), int64(n)))
	}
	dir := func(sfx string) scanDirection {
		return scanDirection{U: in["u_"+sfx], Delta: in["delta_"+sfx], A: in["A_"+sfx], B: in["B_"+sfx],
			C: in["C_"+sfx], D: in["D_"+sfx], DeltaBias: in["delta_bias_"+sfx]}
	}
	bwd := dir("b")
	y, err := lower(b, scanArgs{Name: "selective_scan", Fwd: dir("f"), Bwd: &bwd, Z: in["z"], DivideOut: true,
		L: int64(L), DInner: int64(din), DState: int64(n)})
	if err != nil {
		return nil, err
	}
	b.output(ScanOutputName, y)
	return assembleModel(b, fmt.Sprintf("scan_only_%s_L%d_D%d_N%d", lowering, L, din, n), lowering)
}

// LinearAttentionInputNames are the graph inputs of BuildLinearAttentionCall.
var LinearAttentionInputNames = []string{"query", "key", "value", "decay"}

// BuildLinearAttentionCall returns a model made of one
// com.microsoft.LinearAttention node with the Vim mapping (see
// ScanLinearAttention): query, key [batch, L, n], value [batch, L, din],
// decay [batch, L, din·n] (log-space) -> ScanOutputName [batch, L, din].
// It is one direction of one block's scan without the glue ops.
func BuildLinearAttentionCall(L, din, n int) (*onnxpb.ModelProto, error) {
	if L < 1 || din < 1 || n < 1 {
		return nil, fmt.Errorf("graph: scan shapes L=%d d_inner=%d d_state=%d must be positive", L, din, n)
	}
	b := newBuilder(DefaultOpset)
	l, d, s := int64(L), int64(din), int64(n)
	q := b.input("query", batchOf(l, s))
	k := b.input("key", batchOf(l, s))
	v := b.input("value", batchOf(l, d))
	g := b.input("decay", batchOf(l, d*s))
	b.output(ScanOutputName, b.linearAttention("linear_attention", q, k, v, g, d))
	return assembleModel(b, fmt.Sprintf("linear_attention_L%d_D%d_N%d", L, din, n), ScanLinearAttention)
}

// assembleModel wraps a finished builder into a ModelProto importing the
// default domain and the custom domains its nodes use.
func assembleModel(b *builder, name, scan string) (*onnxpb.ModelProto, error) {
	g, err := b.finish(name, "vimconvert scan benchmark model")
	if err != nil {
		return nil, err
	}
	mp := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion(DefaultOpset)),
		ProducerName:    proto.String(ProducerName),
		ProducerVersion: proto.String(ProducerVersion),
		OpsetImport:     opsetImports(g, DefaultOpset),
		MetadataProps: []*onnxpb.StringStringEntryProto{
			{Key: proto.String(MetaScan), Value: proto.String(scan)},
		},
		Graph: g,
	}
	return mp, nil
}
