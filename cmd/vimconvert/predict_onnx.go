package main

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/runtime"
)

func init() {
	predictONNX = runONNXModel
}

// runONNXModel runs the ONNX model at modelPath in ONNX Runtime with the
// vimconvert plugin on in (classify.InputTensor: float32 [batch, 3, H, W],
// or uint8 [batch, H, W, 3] for a uint8-nhwc model) and returns the logits
// (or the features when features is set) with their shape and which of the
// two it is. A model without a logits output but with features (converted
// from a checkpoint without a head, num_classes 0) gives its features, as
// `predict --checkpoint` does for that checkpoint. threads sets ORT's
// intra-op threads (0 = its default). Timings go to stderr.
func runONNXModel(modelPath string, in *runtime.Tensor, features bool, threads int, stderr io.Writer) ([]float32, []int, string, error) {
	if mp, err := onnxfile.ReadFile(modelPath); err == nil && in.Bytes == nil {
		if _, err := graph.CheckInputShape(modelPath, mp, ints(in.Shape)); err != nil {
			return nil, nil, "", err
		}
	}
	start := time.Now()
	sess, err := runtime.NewSession(modelPath, runtime.Options{IntraOpThreads: threads})
	if err != nil {
		return nil, nil, "", err
	}
	defer sess.Destroy()
	created := time.Since(start)

	names := sess.OutputNames()
	want := graph.LogitsName
	if features {
		want = graph.FeaturesName
	} else if !slices.Contains(names, graph.LogitsName) && slices.Contains(names, graph.FeaturesName) {
		noHeadNote(stderr, modelPath)
		want = graph.FeaturesName
	}
	if !slices.Contains(names, want) {
		hint := ""
		if features {
			hint = " (convert with --features to add it)"
		}
		return nil, nil, "", fmt.Errorf("%s has no output %q%s; outputs: %v", modelPath, want, hint, names)
	}
	input := graph.InputName
	if names := sess.InputNames(); !slices.Contains(names, input) {
		if len(names) != 1 {
			return nil, nil, "", fmt.Errorf("%s has no input %q and %d inputs %v; cannot tell which is the image", modelPath, input, len(names), names)
		}
		input = names[0]
	}
	runStart := time.Now()
	out, err := sess.RunOutputs(map[string]*runtime.Tensor{input: in}, []string{want})
	if err != nil {
		return nil, nil, "", err
	}
	fmt.Fprintf(stderr, "onnxruntime %s: session %.0f ms, run %.1f ms\n", runtime.Version(),
		float64(created.Microseconds())/1e3, float64(time.Since(runStart).Microseconds())/1e3)
	t := out[want]
	return t.Data, ints(t.Shape), want, nil
}

// ints converts a tensor shape to ints.
func ints(shape []int64) []int {
	s := make([]int, len(shape))
	for i, d := range shape {
		s[i] = int(d)
	}
	return s
}
