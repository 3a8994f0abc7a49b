package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/runtime/classify"
	"github.com/vimconvert/vimconvert/verify"
	vmo "github.com/vimconvert/vimconvert/verify/mambaout"
)

func init() {
	register(command{
		name:       "predict",
		summary:    "run a checkpoint (pure-Go reference) or an exported ONNX model on an input tensor or, with --model, an image",
		runContext: runPredict,
	})
}

// predictONNX runs an exported model in ONNX Runtime; set by predict_onnx.go (helper E).
//
// in is the model's input (classify.InputTensor); features asks for the
// pre-head features output instead of the logits (a model without a
// classification head, num_classes 0, gives its features either way, with
// a note). Progress, notes and warnings go to stderr. It returns the output
// data, its shape and which output it is ("logits" or "features").
var predictONNX func(modelPath string, in *runtime.Tensor, features bool, threads int, stderr io.Writer) (out []float32, outShape []int, what string, err error)

// noHeadNote tells, on stderr, that a model without a classification head
// gives its features where logits were asked for.
func noHeadNote(stderr io.Writer, what string) {
	fmt.Fprintf(stderr, "note: %s has no classification head (num_classes 0): writing its features [B, D] (pass --features to ask for them explicitly)\n", what)
}

// predictFlags are the flags of `vimconvert predict`.
type predictFlags struct {
	checkpoint string
	model      string
	input      string
	output     string
	features   bool
	precision  string
	threads    int
	load       *convert.Options // --weights, --cls-token, --img-size, --stride (--checkpoint only)
}

func newPredictFlagSet(stderr io.Writer) (*flag.FlagSet, *predictFlags) {
	f := &predictFlags{}
	fs := newFlagSet("predict", stderr, `Usage: vimconvert predict (--checkpoint CKPT.pth | --model OUT.onnx) --input x.npy --output y.npy [flags]

Runs a Vim model on a NumPy image batch (np.save of a float32 [B, 3, H, W]
array, H = W = the model's img_size, normalised as for training), or with
--model on an image file preprocessed as the model records (a model
converted with --input-format uint8-nhwc takes image files only), and writes
the logits [B, num_classes] (or with --features the head input [B, D]) as a
float32 .npy. A model without a classification head (num_classes 0) has no
logits: its features are written, with a note. --checkpoint uses the pure-Go reference forward pass of the
official model; --model runs an exported ONNX model in ONNX Runtime.`)
	fs.StringVar(&f.checkpoint, "checkpoint", "", "Vim checkpoint to run with the pure-Go reference forward pass")
	fs.StringVar(&f.model, "model", "", "exported ONNX model to run in ONNX Runtime (instead of --checkpoint)")
	fs.StringVar(&f.input, "input", "", "input images [B, 3, H, W]: a .npy, or a torch .pth dict holding 'x'; with --model also an image file (required)")
	fs.StringVar(&f.output, "output", "", "output .npy: float32 logits [B, num_classes] (required)")
	fs.BoolVar(&f.features, "features", false, "write the pre-head features [B, D] instead of the logits")
	fs.StringVar(&f.precision, "precision", "float32", "reference arithmetic: float32 or float64 (--checkpoint only; the output is float32 either way)")
	fs.IntVar(&f.threads, "threads", 0, "ONNX Runtime intra-op threads for --model (0 = ORT default; 1 on a busy machine; at most max(64, 4 × CPUs))")
	f.load = addCheckpointFlags(fs)
	return fs, f
}

// runPredict is `vimconvert predict`: flags, then the ONNX model or the
// reference on the --input batch, written to --output.
func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f, pos, err := parseCommand(newPredictFlagSet, args, stderr)
	if err != nil {
		return err
	}
	prec, err := f.check(fs, pos)
	if err != nil {
		return err
	}

	// Refuse a bad output before the (possibly long) run, and never
	// overwrite an input with it.
	if err := graph.CheckOutput(f.output, "y.npy", f.input, f.checkpoint, f.model); err != nil {
		return err
	}

	var x []float32
	var xShape []int
	var in *runtime.Tensor // --model: the input as the model declares it
	if f.model != "" && predictONNX == nil {
		return errors.New("this build has no ONNX Runtime support (use --checkpoint for the pure-Go reference)")
	} else if f.model != "" {
		in, err = classify.InputTensor(f.model, f.input) // its errors name the file
	} else if x, xShape, err = verify.ReadInput(f.input); err != nil {
		err = fmt.Errorf("reading input: %w", err)
	}
	if err != nil {
		return err
	}

	start := time.Now()
	var out []float32
	var outShape []int
	what := graph.LogitsName
	if f.features {
		what = graph.FeaturesName
	}
	var engine string
	if f.model != "" {
		out, outShape, what, err = predictONNX(f.model, in, f.features, f.threads, stderr)
		if err != nil {
			return err
		}
		engine = "ONNX Runtime"
	} else if ok, err := mambaOut(fs, f.checkpoint, f.load.Weights, func() (err error) {
		engine = "pure-Go reference (MambaOut), " + prec.String()
		out, outShape, err = vmo.PredictFile(f.checkpoint, f.load.Weights, x, xShape, vmo.Options{Precision: prec}, f.features)
		return err
	}); ok && err != nil {
		return err
	} else if !ok {
		m, info, err := convert.Load(f.checkpoint, *f.load)
		if err != nil {
			return err
		}
		printWarnings(stderr, info.Warnings) // the reference shares convert's guesses
		shape := [4]int{xShape[0], xShape[1], xShape[2], xShape[3]}
		res, err := verify.Forward(m, x, shape, verify.Options{Precision: prec})
		if err != nil {
			if errors.Is(err, verify.ErrInput) {
				return fmt.Errorf("input %s: %w (--img-size sets the size the checkpoint runs at)", f.input, err)
			}
			return err
		}
		t := res.Logits
		if m.Config.NumClasses == 0 && !f.features {
			// head = Identity: the model's output is its features.
			noHeadNote(stderr, f.checkpoint)
			what = graph.FeaturesName
		}
		if what == graph.FeaturesName {
			t = res.Features
		}
		out, outShape = t.Float32(), t.Shape
		engine = "pure-Go reference, " + prec.String()
	}
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err // interrupted: no output
	}
	if err := verify.CheckFinite(what, out); err != nil {
		return fmt.Errorf("%w; nothing written to %s", err, f.output)
	}
	if err := npy.WriteFileFloat32(f.output, outShape, out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s %v float32 (%s, %.2fs)\n", f.output, what, outShape, engine, elapsed.Seconds())
	return nil
}

// check refuses flags that do not go together and returns --precision.
func (f *predictFlags) check(fs *flag.FlagSet, pos []string) (verify.Precision, error) {
	if len(pos) > 0 {
		return 0, usageError(fs, "unexpected arguments %q (the files are given with --checkpoint/--model, --input and --output)", pos)
	}
	if (f.checkpoint == "") == (f.model == "") {
		return 0, usageError(fs, "exactly one of --checkpoint and --model is required")
	}
	if f.input == "" || f.output == "" {
		return 0, usageError(fs, "--input and --output are required")
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	prec, err := verify.ParsePrecision(f.precision)
	if err != nil {
		return prec, usageError(fs, "--precision: %v", err)
	}
	switch {
	case f.threads < 0 || f.threads > runtime.MaxThreads():
		return prec, usageError(fs, "--threads %d: want 0 to %d (max(64, 4 × CPUs))", f.threads, runtime.MaxThreads())
	case f.model == "" && set["threads"]:
		return prec, usageError(fs, "--threads applies to --model (ONNX Runtime) only")
	}
	if f.model != "" {
		for _, name := range append([]string{"precision"}, checkpointFlagNames...) {
			if set[name] {
				return prec, usageError(fs, "--%s applies to --checkpoint only; an ONNX model fixes it at export", name)
			}
		}
	}
	return prec, nil
}
