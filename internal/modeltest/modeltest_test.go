package modeltest

import (
	"slices"
	"testing"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
)

// TestFileReadsBack: the file written is the model built with the options
// asked for (here the extra features output beside the logits).
func TestFileReadsBack(t *testing.T) {
	p := File(t, graphtest.Model(graphtest.Spec{Seed: 1}), graph.Options{Features: true})
	mp, err := onnxfile.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range mp.GetGraph().GetOutput() {
		names = append(names, o.GetName())
	}
	if want := []string{graph.LogitsName, graph.FeaturesName}; !slices.Equal(names, want) {
		t.Errorf("outputs %v, want %v", names, want)
	}
}
