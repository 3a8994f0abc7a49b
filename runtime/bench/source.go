package bench

import (
	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/arch"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// Source is a model given to bench, read once by ReadSource: an ONNX file
// (onnxfile.IsModelPath) is parsed and kept, a checkpoint's architecture is
// detected from its tensor names. Compare and Model use what was read
// instead of reading the file again.
type Source struct {
	// Path is the file as given.
	Path string
	// MambaOut is set for a MambaOut checkpoint or an ONNX file exported
	// from one; false for Vim and for a file that could not be read or
	// recognised (Err says why).
	MambaOut bool
	model    *onnxpb.ModelProto // the parsed ONNX file; nil for a checkpoint
	err      error
}

// ReadSource reads the file at path (weights: the weight set of a training
// checkpoint) once. A file that cannot be read or recognised is no error
// here but a Source with Err set, so that a caller can route it to the Vim
// path, whose loader reports the problem as it does for any checkpoint.
func ReadSource(path, weights string) *Source {
	s := &Source{Path: path}
	if !onnxfile.IsModelPath(path) {
		s.MambaOut, s.err = arch.IsMambaOut(path, convert.Weights(weights))
		return s
	}
	if s.model, s.err = onnxfile.ReadFile(path); s.err != nil {
		return s
	}
	a, _, _, err := graph.BuiltArchitecture(s.model)
	s.MambaOut, s.err = err == nil && a == mambaout.Architecture, err
	return s
}

// ReadSources is ReadSource of every path.
func ReadSources(paths []string, weights string) []*Source {
	srcs := make([]*Source, len(paths))
	for i, p := range paths {
		srcs[i] = ReadSource(p, weights)
	}
	return srcs
}

// Err is why the source could not be read, or its architecture told
// (convert/arch.ErrNotDetected for a state dict of neither); nil otherwise.
func (s *Source) Err() error { return s.err }

// Model returns the Vim model of the source: an ONNX file read back from
// what ReadSource parsed (graph.ModelFromProto), or the checkpoint loaded
// (LoadModel).
func (s *Source) Model(weights string) (*convert.Model, error) {
	if !onnxfile.IsModelPath(s.Path) {
		return LoadModel(s.Path, weights)
	}
	if s.model == nil {
		return nil, s.err
	}
	return graph.ModelFromProto(s.Path, s.model)
}
