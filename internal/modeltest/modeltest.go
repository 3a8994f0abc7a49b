// Package modeltest builds ONNX model files for the tests of several
// packages (graph, cmd/vimconvert, runtime/bench, e2e): one place for
// "build this model and write it where the test can read it".
package modeltest

import (
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// File builds m with opts (graph.Build) and writes it as model.onnx in a
// fresh temp dir of tb (Write), returning the path; an error fails tb.
func File(tb testing.TB, m *convert.Model, opts graph.Options) string {
	tb.Helper()
	mp, err := graph.Build(m, opts)
	if err != nil {
		tb.Fatalf("graph.Build: %v", err)
	}
	return Write(tb, mp)
}

// Write writes mp as model.onnx in a fresh temp dir of tb and returns the
// path; an error fails tb.
func Write(tb testing.TB, mp *onnxpb.ModelProto) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "model.onnx")
	if err := graph.WriteFile(mp, p); err != nil {
		tb.Fatalf("graph.WriteFile: %v", err)
	}
	return p
}

// MambaOutFile loads the MambaOut checkpoint at ckpt (its model weights),
// builds it with the default options (graph.BuildMambaOut) and writes it
// with Write, returning the model and its path; an error fails tb.
func MambaOutFile(tb testing.TB, ckpt string) (*onnxpb.ModelProto, string) {
	tb.Helper()
	m, _, err := mambaout.Load(ckpt, mambaout.Options{})
	if err != nil {
		tb.Fatalf("mambaout.Load: %v", err)
	}
	mp, err := graph.BuildMambaOut(m, graph.MambaOutOptions{})
	if err != nil {
		tb.Fatalf("graph.BuildMambaOut: %v", err)
	}
	return mp, Write(tb, mp)
}
