package graph

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/benchgraph"
)

func init() {
	benchgraph.Register(benchgraph.Builders{
		ScanOnly:            buildScanOnly,
		LinearAttentionCall: buildLinearAttentionCall,
		NoScanFloor:         buildNoScanFloor,
	})
}

// buildScanOnly implements benchgraph.Builders.ScanOnly.
func buildScanOnly(L, din, n int, lowering string) (*onnxpb.ModelProto, error) {
	lower, ok := scanLowerings[ScanLowering(lowering)]
	if !ok {
		return nil, fmt.Errorf("graph: unknown scan lowering %q (have %v)", lowering, ScanLowerings())
	}
	if L < 1 || din < 1 || n < 1 {
		return nil, fmt.Errorf("graph: scan shapes L=%d d_inner=%d d_state=%d must be positive", L, din, n)
	}
	b := newBuilder(DefaultOpset)
	in := map[string]string{}
	for _, name := range benchgraph.ScanInputNames {
		in[name] = b.input(name, benchgraph.ScanInputShape(name, Batch, int64(L), int64(din), int64(n)))
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
	b.output(benchgraph.OutputName, y)
	return assembleModel(b, fmt.Sprintf("scan_only_%s_L%d_D%d_N%d", lowering, L, din, n), lowering)
}

// buildLinearAttentionCall implements benchgraph.Builders.LinearAttentionCall:
// one direction of one block's scan without the glue ops (see
// ScanLinearAttention for the mapping).
func buildLinearAttentionCall(L, din, n int) (*onnxpb.ModelProto, error) {
	if L < 1 || din < 1 || n < 1 {
		return nil, fmt.Errorf("graph: scan shapes L=%d d_inner=%d d_state=%d must be positive", L, din, n)
	}
	b := newBuilder(DefaultOpset)
	l, d, s := int64(L), int64(din), int64(n)
	q := b.input("query", batchOf(l, s))
	k := b.input("key", batchOf(l, s))
	v := b.input("value", batchOf(l, d))
	g := b.input("decay", batchOf(l, d*s))
	b.output(benchgraph.OutputName, b.linearAttention("linear_attention", q, k, v, g, d))
	return assembleModel(b, fmt.Sprintf("linear_attention_L%d_D%d_N%d", L, din, n), string(ScanLinearAttention))
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
