package graph_test

import (
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/fixturetest"
	"github.com/vimconvert/vimconvert/runtime"
)

// vimTinySpec is a random model of Vim-tiny shapes (depth 24, d 192,
// 224×224 input, 1000 classes) for the benchmarks.
var vimTinySpec = graphtest.Spec{EmbedDim: 192, Depth: 24, DState: 16, PatchSize: 16, ImgSize: 224, NumClasses: 1000}

// BenchmarkVimTinyORT times one batch-1 Vim-tiny (depth 24, L 197) forward
// pass in ONNX Runtime + plugin for each depthwise-conv formulation. It uses
// a random model with Vim-tiny shapes.
//
//	go test ./graph -run '^$' -bench VimTinyORT -benchtime 20x
func BenchmarkVimTinyORT(b *testing.B) {
	// Vim-tiny shapes (random weights; the cost does not depend on them).
	m := graphtest.Model(vimTinySpec)
	x := fixturetest.RandomImage(rand.New(rand.NewPCG(1, 2)), 3*224*224)
	variants := []struct {
		name   string
		conv   graph.DepthwiseConv
		storeT bool
	}{
		{"slice", graph.ConvSlice, false},
		{"conv", graph.ConvONNX, false},
		{"slice+stored-WT", graph.ConvSlice, true},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			mp, err := graph.Build(m, graph.Options{DepthwiseConv: v.conv})
			if err != nil {
				b.Fatal(err)
			}
			if v.storeT {
				storeTransposedWeights(b, mp)
			}
			benchSessionRun(b, writeModel(b, mp, "model.onnx"), runtime.Options{}, x)
		})
	}
}

// storeTransposedWeights rewrites every Transpose(perm=[1,0]) of a 2-D
// initializer into a stored initializer "<name>.T", the alternative layout
// to ORT's constant folding, for comparison.
func storeTransposedWeights(b *testing.B, mp *onnxpb.ModelProto) {
	g := mp.GetGraph()
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = t
	}
	var nodes []*onnxpb.NodeProto
	rename := map[string]string{}
	for _, n := range g.GetNode() {
		if n.GetOpType() != "Transpose" || len(n.GetInput()) == 0 {
			nodes = append(nodes, n)
			continue
		}
		src, ok := inits[n.GetInput()[0]]
		if !ok || len(src.GetDims()) != 2 {
			nodes = append(nodes, n)
			continue
		}
		r, c := int(src.GetDims()[0]), int(src.GetDims()[1])
		raw := src.GetRawData()
		out := make([]byte, len(raw))
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				copy(out[4*(j*r+i):4*(j*r+i)+4], raw[4*(i*c+j):4*(i*c+j)+4])
			}
		}
		name := src.GetName() + ".T"
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{
			Name: proto.String(name), Dims: []int64{int64(c), int64(r)}, DataType: src.DataType, RawData: out})
		rename[n.GetOutput()[0]] = name
	}
	for _, n := range nodes {
		for i, in := range n.Input {
			if to, ok := rename[in]; ok {
				n.Input[i] = to
			}
		}
	}
	g.Node = nodes
	var vi []*onnxpb.ValueInfoProto
	for _, v := range g.GetValueInfo() {
		if _, gone := rename[v.GetName()]; !gone {
			vi = append(vi, v)
		}
	}
	g.ValueInfo = vi
	if len(rename) == 0 {
		b.Fatal("no Transpose of an initializer found")
	}
}
