package graph_test

import (
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

// modelAndRecipe returns a small random model and the evaluation recipe
// of hustvl/Vim (crop VimEvalCropPct) at its image size.
func modelAndRecipe(t *testing.T) (*convert.Model, preprocess.Recipe) {
	t.Helper()
	m := graphtest.Model(graphtest.Spec{})
	rec, err := preprocess.ImageNetRecipe(m.Config.ImgSize, preprocess.VimEvalCropPct)
	if err != nil {
		t.Fatal(err)
	}
	return m, rec
}

// TestInputOptionsRejected checks the refusals of the input format and the
// preprocessing metadata options.
func TestInputOptionsRejected(t *testing.T) {
	m, ok := modelAndRecipe(t)
	other, _ := preprocess.ImageNetRecipe(m.Config.ImgSize*2, preprocess.VimEvalCropPct)
	bad := ok
	bad.Interpolation = "nearest"
	for _, tc := range []struct {
		reason string
		opts   graph.Options
		want   string
	}{
		{"unknown input format", graph.Options{InputFormat: "jpeg"}, `"jpeg"`},
		{"uint8 input needs the recipe's mean and std", graph.Options{InputFormat: graph.InputUint8NHWC}, "needs Options.Preprocess"},
		{"a recipe for another size would misfeed the model", graph.Options{Preprocess: &other}, "not the model's image size"},
		{"a recipe preprocess cannot apply exactly", graph.Options{Preprocess: &bad}, "preprocessing"},
		{"labels must name every class", graph.Options{Labels: []string{"a"}}, "labels"},
	} {
		if _, err := graph.Build(m, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Build error %v, want one mentioning %s", tc.reason, err, tc.want)
		}
	}
}

// TestInputMetadataAndUint8Input checks what a model records about its
// feeding and the uint8 NHWC input declaration.
func TestInputMetadataAndUint8Input(t *testing.T) {
	m, rec := modelAndRecipe(t)
	c := m.Config
	labels := make([]string, c.NumClasses)
	for i := range labels {
		labels[i] = "class " + string(rune('A'+i%26))
	}
	mp, err := graph.Build(m, graph.Options{InputFormat: graph.InputUint8NHWC, Preprocess: &rec, Labels: labels, LabelSet: "test-set"})
	if err != nil {
		t.Fatal(err)
	}
	meta := onnxfile.Metadata(mp)
	if meta[graph.MetaInputFormat] != string(graph.InputUint8NHWC) || meta[graph.MetaLabelSet] != "test-set" ||
		meta[graph.MetaLabels] != strings.Join(labels, "\n") {
		t.Errorf("metadata %q", meta)
	}
	back, err := preprocess.ParseRecipe([]byte(meta[graph.MetaPreprocessRecipe]))
	if err != nil || back != rec {
		t.Errorf("recorded recipe %+v (%v), want %+v", back, err, rec)
	}
	in := mp.GetGraph().GetInput()[0]
	tt := in.GetType().GetTensorType()
	var dims []int64
	for _, d := range tt.GetShape().GetDim() {
		dims = append(dims, d.GetDimValue())
	}
	s := int64(c.ImgSize)
	if in.GetName() != graph.InputName || tt.GetElemType() != int32(onnxpb.TensorProto_UINT8) || len(dims) != 4 || dims[1] != s || dims[2] != s || dims[3] != 3 {
		t.Errorf("input %s elem %d dims %v, want uint8 [batch, %d, %d, 3]", in.GetName(), tt.GetElemType(), dims, s, s)
	}
	// The default model records its format but no recipe or labels.
	mp, err = graph.Build(m, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	meta = onnxfile.Metadata(mp)
	if _, has := meta[graph.MetaPreprocessRecipe]; has || meta[graph.MetaInputFormat] != string(graph.InputFloatNCHW) {
		t.Errorf("default model metadata %q", meta)
	}
}
