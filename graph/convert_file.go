package graph

import (
	"fmt"
	"os"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// ConvertOptions controls ConvertFile. The zero value converts the
// checkpoint's model weights at its own geometry to the default model.
type ConvertOptions struct {
	// Load picks what is read from the checkpoint (convert.Load).
	Load convert.Options
	// Build picks the exported graph (Build); Build.Progress reports the
	// blocks built.
	Build Options
	// Loading, when set, is called once the paths are checked, before the
	// checkpoint is read.
	Loading func()
	// WriteProgress, when set, is called as the file is written (see
	// WriteFileProgress).
	WriteProgress func(written, total int64)
}

// Converted is what ConvertFile did.
type Converted struct {
	Model *convert.Model     // the checkpoint as loaded
	Info  *convert.Info      // how it was read (layout, weight set, assumptions)
	ONNX  *onnxpb.ModelProto // the model written
	Size  int64              // bytes written
}

// ConvertFile converts the checkpoint at ckptPath to an ONNX model written
// atomically to outPath. Before reading anything it refuses a checkpoint
// that is missing or a directory and an output that CheckOutput refuses
// (a directory, a missing directory, the checkpoint itself); on any error
// outPath is left untouched.
func ConvertFile(ckptPath, outPath string, opts ConvertOptions) (*Converted, error) {
	in, err := os.Stat(ckptPath)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if in.IsDir() {
		return nil, fmt.Errorf("checkpoint %s is a directory", ckptPath)
	}
	if err := CheckOutput(outPath, "model.onnx", ckptPath); err != nil {
		return nil, err
	}
	if opts.Loading != nil {
		opts.Loading()
	}
	m, info, err := convert.Load(ckptPath, opts.Load)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	model, err := Build(m, opts.Build)
	if err != nil {
		return nil, fmt.Errorf("build graph for %s: %w", ckptPath, err)
	}
	if err := WriteFileProgress(model, outPath, opts.WriteProgress); err != nil {
		return nil, err
	}
	fi, err := os.Stat(outPath)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", outPath, err)
	}
	return &Converted{Model: m, Info: info, ONNX: model, Size: fi.Size()}, nil
}
