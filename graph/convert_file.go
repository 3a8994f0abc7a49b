package graph

import (
	"context"
	"fmt"
	"os"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
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
	// CropPct is the eval crop fraction recorded with the preprocessing when
	// Build.Preprocess is nil (0 = hustvl/Vim's preprocess.VimEvalCropPct,
	// listed in Info.Assumed).
	CropPct float64
	// LabelsFile names the class names (one per line) recorded when
	// Build.Labels is nil; "" = ImageNet-1k's for a 1000-class head (listed
	// in Info.Assumed), none for another head.
	LabelsFile string
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
	return ConvertFileContext(context.Background(), ckptPath, outPath, opts)
}

// checkConvertPaths refuses, before anything is read, a checkpoint that is
// missing or a directory and an output that CheckOutput refuses.
func checkConvertPaths(ckptPath, outPath string) error {
	in, err := os.Stat(ckptPath)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if in.IsDir() {
		return fmt.Errorf("checkpoint %s is a directory", ckptPath)
	}
	return CheckOutput(outPath, "model.onnx", ckptPath)
}

// ConvertFileContext is ConvertFile that stops when ctx is done (between
// reading, building and writing, and while writing: see WriteFileContext),
// returning ctx's error with outPath untouched.
func ConvertFileContext(ctx context.Context, ckptPath, outPath string, opts ConvertOptions) (*Converted, error) {
	if err := checkConvertPaths(ckptPath, outPath); err != nil {
		return nil, err
	}
	var labels []string
	if opts.LabelsFile != "" {
		var err error
		if labels, err = preprocess.ReadLabels(opts.LabelsFile); err != nil {
			return nil, err
		}
	}
	if opts.Loading != nil {
		opts.Loading()
	}
	m, info, err := convert.Load(ckptPath, opts.Load)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	if g := info.ResampledFrom; opts.Build.DynamicSize && g != nil {
		return nil, fmt.Errorf("--dynamic-size with --img-size %s is not supported: the dynamic-size model resamples pos_embed in the graph for every input size, and would resample the %s grid already resampled from the weights' %d×%d one (the logits move); leave --img-size out (the model takes any size), or export one model for that size without --dynamic-size",
			sizeName(m.Config), gridName(m.Config), g[0], g[1])
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := feedMetadata(&opts, labels, m.Config, info); err != nil {
		return nil, err
	}
	model, err := Build(m, opts.Build)
	if err != nil {
		return nil, fmt.Errorf("build graph for %s: %w", ckptPath, err)
	}
	size, err := writeConverted(ctx, model, info, outPath, opts.WriteProgress)
	if err != nil {
		return nil, err
	}
	return &Converted{Model: m, Info: info, ONNX: model, Size: size}, nil
}

// writeConverted records the Provenance of info in model, writes it to
// outPath (WriteFileContext) and returns the size written: the last step
// of ConvertFileContext and ConvertMambaOutFile.
func writeConverted(ctx context.Context, model *onnxpb.ModelProto, info *convert.Info, outPath string, progress func(written, total int64)) (int64, error) {
	if err := SetProvenance(model, NewProvenance(info)); err != nil {
		return 0, err
	}
	if err := WriteFileContext(ctx, model, outPath, progress); err != nil {
		return 0, err
	}
	fi, err := os.Stat(outPath)
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", outPath, err)
	}
	return fi.Size(), nil
}

// feedMetadata fills in the preprocessing and class names ConvertFile
// records when opts.Build does not set them, listing what it assumed in
// info.Assumed.
func feedMetadata(opts *ConvertOptions, labels []string, c convert.Config, info *convert.Info) error {
	if opts.Build.Preprocess == nil {
		crop := opts.CropPct
		if crop == 0 {
			crop = preprocess.VimEvalCropPct
			info.Assumed = append(info.Assumed, fmt.Sprintf("preprocessing recorded in the model: hustvl/Vim's eval transform (bicubic resize to %d, centre crop %d, ImageNet mean and std; --crop-pct to change)",
				preprocess.ResizeShortSide(c.ImgSize, crop), c.ImgSize))
		}
		r, err := preprocess.ImageNetRecipe(c.ImgSize, crop)
		if err != nil {
			return fmt.Errorf("preprocessing for %dx%d: %w", c.ImgSize, c.ImgSize, err)
		}
		opts.Build.Preprocess = &r
	}
	switch {
	case opts.Build.Labels != nil:
	case labels != nil:
		if err := preprocess.CheckLabels(labels, c.NumClasses); err != nil {
			return fmt.Errorf("%s: %w", opts.LabelsFile, err)
		}
		opts.Build.Labels = labels
	case c.NumClasses == 1000:
		opts.Build.Labels, opts.Build.LabelSet = preprocess.ImageNetLabels(), preprocess.ImageNetLabelSet
		info.Assumed = append(info.Assumed, "class names recorded in the model: ImageNet-1k's, for the 1000-class head (--labels FILE for others)")
	}
	return nil
}

// sizeName is the image size of c as --img-size takes it: N, or HxW.
func sizeName(c convert.Config) string {
	if c.Square() {
		return fmt.Sprint(c.ImgSize)
	}
	return fmt.Sprintf("%dx%d", c.ImgSize, c.Width())
}

// gridName is the patch grid of c, h×w.
func gridName(c convert.Config) string {
	h, w := c.GridHW()
	return fmt.Sprintf("%d×%d", h, w)
}
