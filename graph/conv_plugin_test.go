package graph_test

import (
	"fmt"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
)

// TestConvPluginStructure checks the nodes the ConvPlugin formulation
// emits: in a bimamba-v2 model one CausalConv1dSiLUBidirectional node per
// block reading xz and the four official conv initializers as-is, and no
// Conv, Split or Transpose of activations left in the mixers; bimamba v1
// and none keep the ONNX Conv path (their blocks have one conv each).
func TestConvPluginStructure(t *testing.T) {
	tests := []struct {
		reason    string
		bimamba   convert.BimambaType
		wantFused int // fused nodes per block
		wantConvs int // ONNX Conv nodes per block
	}{
		{"v2: both convs fused", convert.BimambaV2, 1, 0},
		{"v1: causal conv only, ONNX Conv", convert.BimambaV1, 0, 1},
		{"none: causal conv only, ONNX Conv", convert.BimambaNone, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			m := graphtest.Model(graphtest.Spec{Bimamba: tc.bimamba, Depth: 2})
			mp, err := graph.Build(m, graph.Options{DepthwiseConv: graph.ConvPlugin})
			if err != nil {
				t.Fatal(err)
			}
			fused, convs, splits := 0, 0, 0
			for _, n := range mp.GetGraph().GetNode() {
				switch n.GetOpType() {
				case graph.OpConvSiLUBidirectional:
					fused++
					if n.GetDomain() != graph.Domain {
						t.Errorf("node %s: domain %q, want %q", n.GetName(), n.GetDomain(), graph.Domain)
					}
					var layer int
					if _, err := fmt.Sscanf(n.GetName(), "layers.%d/", &layer); err != nil {
						t.Fatalf("node name %q: %v", n.GetName(), err)
					}
					p := fmt.Sprintf("layers.%d.mixer.", layer)
					want := fmt.Sprint([]string{fmt.Sprintf("layers.%d/mixer/in_proj", layer),
						p + "conv1d.weight", p + "conv1d.bias", p + "conv1d_b.weight", p + "conv1d_b.bias"})
					if got := fmt.Sprint(n.GetInput()); got != want {
						t.Errorf("node %s inputs %s, want %s", n.GetName(), got, want)
					}
					if len(n.GetOutput()) != 2 {
						t.Errorf("node %s has %d outputs, want 2", n.GetName(), len(n.GetOutput()))
					}
				case "Conv":
					if n.GetName() != "patch_embed/proj" {
						convs++
					}
				case "Split":
					splits++
				}
			}
			depth := len(m.Layers)
			if fused != tc.wantFused*depth || convs != tc.wantConvs*depth {
				t.Errorf("%d fused nodes and %d mixer Conv nodes, want %d and %d", fused, convs, tc.wantFused*depth, tc.wantConvs*depth)
			}
			// v2: the two x_dbl splits per block, no xz split (z is a Slice);
			// v1 and none: the xz split and one x_dbl split per block.
			wantSplits := 2 * depth
			if splits != wantSplits {
				t.Errorf("%d Split nodes, want %d", splits, wantSplits)
			}
			meta := map[string]string{}
			for _, e := range mp.GetMetadataProps() {
				meta[e.GetKey()] = e.GetValue()
			}
			if meta[graph.MetaDepthwiseConv] != string(graph.ConvPlugin) {
				t.Errorf("metadata %s = %q, want %q", graph.MetaDepthwiseConv, meta[graph.MetaDepthwiseConv], graph.ConvPlugin)
			}
		})
	}
}
