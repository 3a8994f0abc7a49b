package graph_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestOpset27Structure checks the --opset 27 export of the depth-2 Vim-T
// fixture by structure, since no runtime reads opset 27: opset and IR
// version, no plugin or contrib node, per block two LinearAttention nodes
// (attributes and input/output shapes of the opset-27 schema) and two
// CausalConvWithState nodes with fused SiLU.
func TestOpset27Structure(t *testing.T) {
	g := loadGolden(t, repo.Fixture("vim_t_d2"))
	mp, err := graph.Build(g.model, graph.Options{Opset: graph.OpsetLinearAttention})
	if err != nil {
		t.Fatal(err)
	}
	c := g.model.Config
	L, Din, N, K := int64(c.SeqLen()), int64(c.DInner), int64(c.DState), int64(4)
	if mp.GetIrVersion() != 13 {
		t.Errorf("IR version %d, want 13 (ONNX 1.22, opset 27)", mp.GetIrVersion())
	}
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() != "" {
			t.Errorf("imports domain %q: want only the default domain", o.GetDomain())
		} else if o.GetVersion() != 27 {
			t.Errorf("default opset %d, want 27", o.GetVersion())
		}
	}
	shapes := valueShapes(mp)
	counts := map[string]int{}
	for _, n := range mp.GetGraph().GetNode() {
		if n.GetDomain() != "" {
			t.Errorf("node %s has domain %q", n.GetName(), n.GetDomain())
		}
		counts[n.GetOpType()]++
		attrs := map[string]*onnxpb.AttributeProto{}
		for _, a := range n.GetAttribute() {
			attrs[a.GetName()] = a
		}
		switch n.GetOpType() {
		case "LinearAttention":
			tests := []struct {
				reason string
				ok     bool
			}{
				{"update_rule gated", string(attrs["update_rule"].GetS()) == "gated"},
				{"q_num_heads = kv_num_heads = d_inner", attrs["q_num_heads"].GetI() == Din && attrs["kv_num_heads"].GetI() == Din},
				{"scale 1 (0 would mean 1/sqrt(d_k))", attrs["scale"].GetF() == 1},
				{"5 inputs: query, key, value, no past_state, decay", len(n.GetInput()) == 5 && n.GetInput()[3] == ""},
				{"query [B, L, Din·N]", eqShape(shapes[n.GetInput()[0]], -1, L, Din*N)},
				{"key [B, L, Din·N]", eqShape(shapes[n.GetInput()[1]], -1, L, Din*N)},
				{"value [B, L, Din] (d_v = 1)", eqShape(shapes[n.GetInput()[2]], -1, L, Din)},
				{"decay per key [B, L, Din·N]", eqShape(shapes[n.GetInput()[4]], -1, L, Din*N)},
				{"output [B, L, Din], present_state [B, Din, N, 1]", len(n.GetOutput()) == 2 &&
					eqShape(shapes[n.GetOutput()[0]], -1, L, Din) && eqShape(shapes[n.GetOutput()[1]], -1, Din, N, 1)},
			}
			for _, tc := range tests {
				if !tc.ok {
					t.Errorf("%s: want %s", n.GetName(), tc.reason)
				}
			}
		case "CausalConvWithState":
			if string(attrs["activation"].GetS()) != "silu" || len(n.GetInput()) != 3 ||
				!eqShape(shapes[n.GetInput()[0]], -1, Din, L) || !eqShape(shapes[n.GetInput()[1]], Din, 1, K) ||
				!eqShape(shapes[n.GetOutput()[0]], -1, Din, L) || !eqShape(shapes[n.GetOutput()[1]], -1, Din, K-1) {
				t.Errorf("%s: want activation silu, input [B, %d, %d], weight [%d, 1, %d], bias, outputs [B, %d, %d] and [B, %d, %d]",
					n.GetName(), Din, L, Din, K, Din, L, Din, K-1)
			}
		}
	}
	depth := len(g.model.Layers)
	if counts["LinearAttention"] != 2*depth || counts["CausalConvWithState"] != 2*depth || counts["Conv"] != 1 {
		t.Errorf("%d LinearAttention, %d CausalConvWithState, %d Conv: want %d, %d and 1 (patch embed)",
			counts["LinearAttention"], counts["CausalConvWithState"], counts["Conv"], 2*depth, 2*depth)
	}
}

// TestOpset27Refusals: opset 27 exports only the standard ops, and those
// ops only exist at opset 27.
func TestOpset27Refusals(t *testing.T) {
	g := loadGolden(t, repo.Fixture("vim_t_d2"))
	tests := []struct {
		reason string
		opts   graph.Options
	}{
		{"the plugin scan is for opsets 17-23", graph.Options{Opset: 27, Scan: graph.ScanPlugin}},
		{"the ONNX Conv is for opsets 17-23", graph.Options{Opset: 27, DepthwiseConv: graph.ConvONNX}},
		{"standard LinearAttention does not exist at opset 23", graph.Options{Opset: 23, Scan: graph.ScanONNXLinearAttention}},
		{"opsets 24-26 are not offered", graph.Options{Opset: 26}},
		{"16-bit needs the plugin scan", graph.Options{Opset: 27, DType: graph.DTypeFloat16}},
	}
	for _, tc := range tests {
		if _, err := graph.Build(g.model, tc.opts); err == nil {
			t.Errorf("%s: Build accepted %+v", tc.reason, tc.opts)
		}
	}
}

// TestOpset27NumericViaContribORT runs the opset-27 graph in ONNX Runtime
// 1.29 by moving its two new nodes to ONNX Runtime's contrib ops of the
// same name and schema (com.microsoft LinearAttention and
// CausalConvWithState) and the default domain to opset 23: every other
// node is unchanged, so the logits meeting the official ones checks the
// graph's wiring (shapes, per-channel heads, decay layout, flips).
func TestOpset27NumericViaContribORT(t *testing.T) {
	g := loadGolden(t, repo.Fixture("vim_t_d2"))
	mp, err := graph.Build(g.model, graph.Options{Opset: graph.OpsetLinearAttention})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range mp.GetGraph().GetNode() {
		if n.GetOpType() == "LinearAttention" || n.GetOpType() == "CausalConvWithState" {
			n.Domain = proto.String("com.microsoft")
		}
	}
	mp.IrVersion = proto.Int64(graph.IRVersion(23))
	mp.OpsetImport = []*onnxpb.OperatorSetIdProto{
		{Domain: proto.String(""), Version: proto.Int64(23)},
		{Domain: proto.String("com.microsoft"), Version: proto.Int64(1)},
	}
	s := ortSessionNoPlugin(t, writeModel(t, mp, "opset27_as_contrib.onnx"))
	out := runInput(t, s, g.x)
	checkExpected(t, "opset-27 graph on contrib ops", graph.LogitsName, out, g.exp)
}

// valueShapes maps every value of mp's graph with a known shape to it
// (-1 for the symbolic batch).
func valueShapes(mp *onnxpb.ModelProto) map[string][]int64 {
	out := map[string][]int64{}
	add := func(vs []*onnxpb.ValueInfoProto) {
		for _, v := range vs {
			var dims []int64
			for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
				if d.GetDimParam() != "" {
					dims = append(dims, -1)
				} else {
					dims = append(dims, d.GetDimValue())
				}
			}
			out[v.GetName()] = dims
		}
	}
	gr := mp.GetGraph()
	add(gr.GetValueInfo())
	add(gr.GetInput())
	add(gr.GetOutput())
	for _, in := range gr.GetInitializer() {
		out[in.GetName()] = in.GetDims()
	}
	return out
}

func eqShape(got []int64, want ...int64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
