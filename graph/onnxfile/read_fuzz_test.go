package onnxfile_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
)

// FuzzModelFromProto (make fuzz) feeds arbitrary bytes to the ONNX read-back (the
// protobuf parse, the metadata config and the initializers): it must
// return a model or an error, never panic, and a model it returns must
// hold every tensor with as many values as its shape says.
func FuzzModelFromProto(f *testing.F) {
	for _, s := range []graphtest.Spec{
		{Seed: 1, EmbedDim: 4, Depth: 1, ImgSize: 8},
		{Seed: 2, EmbedDim: 4, Depth: 1, ImgSize: 8, Bimamba: convert.BimambaV1, ClsToken: convert.ClsHead, Gamma: true},
		{Seed: 3, EmbedDim: 4, Depth: 1, ImgSize: 8, ClsToken: convert.ClsDouble, LayerNorm: true, NoPosEmbed: true, NoHead: true},
	} {
		mp, err := graph.Build(graphtest.Model(s), graph.Options{})
		if err != nil {
			f.Fatal(err)
		}
		// The read-back uses the metadata and the initializers only: the
		// nodes would make the seeds ten times larger and the fuzzer slow.
		mp.Graph.Node, mp.Graph.ValueInfo = nil, nil
		data, err := proto.Marshal(mp)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("not a protobuf \xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mp, err := onnxfile.Parse("fuzz.onnx", data)
		if err != nil {
			return
		}
		m, err := graph.ModelFromProto("fuzz.onnx", mp)
		if err != nil {
			return
		}
		for _, tt := range graphtest.Tensors(m) {
			if n := tt.NumElements(); n != len(tt.Data) {
				t.Fatalf("%s: shape %v holds %d values, read %d", tt.Name, tt.Shape, n, len(tt.Data))
			}
		}
	})
}
