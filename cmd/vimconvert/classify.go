package main

import (
	"context"
	"fmt"
	"io"

	"github.com/vimconvert/vimconvert/internal/progress"
	"github.com/vimconvert/vimconvert/runtime/classify"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

func init() {
	register(command{name: "classify", summary: "top-K classes of images or folders of images (ONNX model or checkpoint)", runContext: runClassify})
	register(command{name: "preprocess", summary: "write an image's model input as .npy (IMAGE -o X.npy)", run: runPreprocess})
}

// runClassify is `vimconvert classify`: flags, classify.Open, one printed
// result per file.
func runClassify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("classify", stderr, `Usage: vimconvert classify MODEL.onnx|CKPT.pth IMAGE|DIR... [flags]

Prints each image's top-K classes (folders: their images, sorted), preprocessed as
the model records; a checkpoint runs in the pure-Go reference. A file that cannot be
classified gets an error line, the others go on, and the exit status is 1.`)
	mo, o := classify.ModelOptions{}, classify.Options{}
	fs.IntVar(&o.TopK, "top", 5, "classes per image")
	fs.StringVar(&mo.LabelsFile, "labels", "", "class names, one per line (default: the model's, else ImageNet-1k's for 1000 classes, else indices)")
	fs.IntVar(&o.Batch, "batch", 1, "images per model run")
	fs.IntVar(&mo.Threads, "threads", 0, "model and decoding threads (default: every core)")
	fs.IntVar(&mo.ImgSize, "img-size", 0, "input size (default: the model's)")
	fs.StringVar((*string)(&mo.Checkpoint.Weights), "weights", "", "weight set of a training checkpoint: model (default) or model_ema")
	fs.StringVar((*string)(&mo.Checkpoint.ClsToken), "cls-token", "", "with a checkpoint: cls token placement middle, head, double or none (as convert)")
	fs.Func("kwargs", "with a checkpoint: official VisionMamba arguments the weights cannot show, NAME=VALUE,... (as convert)", mo.SetKwargs)
	fs.Float64Var(&mo.CropPct, "crop-pct", 0, "resize to int(img-size / crop-pct) before the centre crop (default: the model's, else 0.875)")
	asJSON := fs.Bool("json", false, `one JSON object per file and line: {"file", "top": [{"index", "label", "prob"}]} or {"file", "error"}`)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	} else if len(pos) < 2 || o.TopK < 1 || o.Batch < 1 || mo.Threads < 0 {
		return usageError(fs, "need MODEL and at least one IMAGE or DIR; --top and --batch at least 1")
	}
	m, err := classify.Open(pos[0], mo)
	if err != nil {
		return err
	}
	defer m.Close()
	for _, n := range m.Notes {
		fmt.Fprintln(stderr, "warning:", n)
	}
	if o.Workers = mo.Threads; progress.IsTerminal(stderr) && !progress.IsTerminal(stdout) {
		bar := progress.Count(stderr, "classifying")
		o.Progress = func(done, total int) {
			if total >= 10 { // a bar for many files only
				bar(done, total)
			}
		}
	}
	st, err := m.Classify(ctx, pos[1:], o, func(r classify.Result) error { return classify.WriteResult(stdout, r, *asJSON) })
	if err == nil && st.Failed > 0 {
		err = fmt.Errorf("%d of %d files could not be classified", st.Failed, st.Files)
	}
	return err
}

// runPreprocess is `vimconvert preprocess`: one image's tensor as .npy.
func runPreprocess(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("preprocess", stderr, `Usage: vimconvert preprocess IMAGE -o X.npy [--img-size N] [--crop-pct P]

Writes the float32 [1, 3, N, N] tensor that PIL + torchvision make of IMAGE for hustvl/Vim
(RGB, bicubic resize of the short side to int(N / P), centre crop N, ImageNet mean and std).`)
	out := fs.String("o", "", "output .npy (required)")
	size := fs.Int("img-size", 224, "model input size N")
	crop := fs.Float64("crop-pct", preprocess.VimEvalCropPct, "crop fraction P")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	} else if len(pos) != 1 || *out == "" {
		return usageError(fs, "need one IMAGE and -o X.npy")
	}
	r, err := preprocess.ImageNetRecipe(*size, *crop)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	if err = classify.WriteTensorFile(r, pos[0], *out); err == nil {
		fmt.Fprintf(stdout, "wrote %s: float32 [1, 3, %d, %d] (resize %d, centre crop %d)\n", *out, *size, *size, r.ResizeShort, *size)
	}
	return err
}
