package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/vimconvert/vimconvert/convert"
	mo "github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
	vmo "github.com/vimconvert/vimconvert/verify/mambaout"
)

func init() {
	register(command{
		name:       "verify",
		summary:    "run an exported model in ONNX Runtime and compare it with the Go reference (CKPT OUT.onnx)",
		runContext: runVerify,
	})
}

// verifyFlags are the flags of `vimconvert verify`.
type verifyFlags struct {
	input     string
	batch     int
	seed      uint64
	tol       float64
	perLayer  bool
	json      bool
	weights   string
	precision string
	threads   int
	expected  string
	expKey    string
}

func newVerifyFlagSet(stderr io.Writer) (*flag.FlagSet, *verifyFlags) {
	f := &verifyFlags{}
	fs := newFlagSet("verify", stderr, `Usage: vimconvert verify CKPT.pth OUT.onnx [flags]

Runs OUT.onnx in ONNX Runtime with the vimconvert plugin and the pure-Go
reference forward pass of CKPT on the same input, prints how far apart they
are (max abs/rel error, cosine, top-1 agreement, worst element, error
histogram) and exits with status 1 when max |Δ| of the logits exceeds --tol or
a top-1 class differs. A model of a checkpoint without a classification head
(num_classes 0) outputs features only: those are checked against --tol.

The reference is loaded as the model was converted, so it shares the
converter's guesses (listed under the verdict as "assuming"). --expected
holds both to outputs produced elsewhere, typically by the official PyTorch
code on the same --input: that catches a misread architecture.`)
	fs.StringVar(&f.input, "input", "", "input batch [B, 3, H, W] float32: a .npy file, or a torch .pth dict holding 'x' (default: N(0,1) noise); for a --input-format uint8-nhwc model an image file (default: random pixels)")
	fs.IntVar(&f.batch, "batch", 2, "batch size of the random input (at most 1024, and batch×3×H×W at most 2^28)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the random input")
	fs.Float64Var(&f.tol, "tol", 1e-4, "tolerance on max |reference - onnx| of the logits, features and tokens (and of each per-layer tensor); unset: 1e-2 for a float16/bfloat16 model")
	fs.BoolVar(&f.perLayer, "per-layer", false, "compare every block's intermediates and say where the divergence starts (builds a per-layer copy of the model in a temp dir when needed)")
	fs.BoolVar(&f.json, "json", false, "print the reports as JSON")
	addWeightsFlag(fs, &f.weights, "default: the one the model records it was converted from, else model")
	f.weights, fs.Lookup("weights").DefValue = "", "" // "" = the model's own
	fs.StringVar(&f.precision, "precision", "float32", "arithmetic of the Go reference: float32 or float64")
	fs.IntVar(&f.threads, "threads", 0, "ONNX Runtime intra-op threads (0 = ORT default; at most max(64, 4 × CPUs))")
	fs.StringVar(&f.expected, "expected", "", "expected outputs of the official code for --input: a .npy [B, N], or a torch .pth dict holding 'logits' or 'features' (see --expected-key); the ONNX model and the reference must both match within --tol")
	fs.StringVar(&f.expKey, "expected-key", "", "key of the expected outputs in a .pth dict (default: logits, else features); a key containing 'features' is compared with the features output")
	return fs, f
}

// runVerify is `vimconvert verify`: flags, then verify.CheckFile, printed.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f, pos, err := parseCommand(newVerifyFlagSet, args, stderr)
	if err != nil {
		return err
	}
	prec, perr := verify.ParsePrecision(f.precision)
	switch {
	case len(pos) != 2:
		return usageError(fs, "want CKPT.pth and OUT.onnx, got %d arguments", len(pos))
	case f.batch < 1 || f.batch > runtime.MaxBatch:
		return usageError(fs, "--batch %d: want 1 to %d", f.batch, runtime.MaxBatch)
	case !(f.tol >= 0) || math.IsInf(f.tol, 0):
		return usageError(fs, "--tol %g: want a finite value >= 0", f.tol)
	case f.weights != "" && !validWeights(f.weights):
		return usageError(fs, "--weights %q: want model or model_ema", f.weights)
	case perr != nil:
		return usageError(fs, "--precision: %v", perr)
	case f.threads < 0 || f.threads > runtime.MaxThreads():
		return usageError(fs, "--threads %d: want 0 to %d (max(64, 4 × CPUs))", f.threads, runtime.MaxThreads())
	}
	var exp *verify.Expected
	switch {
	case f.expKey != "" && f.expected == "":
		return usageError(fs, "--expected-key needs --expected")
	case f.expected != "" && f.input == "":
		return usageError(fs, "--expected needs --input: the outputs are those of one input batch")
	case f.expected != "":
		if exp, err = verify.ReadExpected(f.expected, f.expKey); err != nil {
			return fmt.Errorf("--expected: %w", err)
		}
	}
	check := func(ckpt, model string, o verify.FileOptions) (*verify.FileReport, error) {
		return verify.CheckFileContext(ctx, ckpt, model, o)
	}
	if ok, err := mambaOut(fs, pos[0], convert.Weights(f.weights), func() error { check = vmo.CheckFile; return nil }); ok && err != nil {
		return err
	}
	res, err := check(pos[0], pos[1], verify.FileOptions{Expected: exp,
		Weights: convert.Weights(f.weights), Tol: f.tol, TolByDType: !flagSet(fs, "tol"), Precision: prec, PerLayer: f.perLayer,
		Runtime: runtime.Options{IntraOpThreads: f.threads}, Log: stderr,
		Input: func(c convert.Config, channels int) ([]float32, [4]int, string, error) {
			return verifyInput(fs, f, c, channels)
		},
		Pixels: verify.PixelInput(f.input, f.batch, f.seed, noiseStream),
	})
	if err != nil {
		return err
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("encode JSON: %w", err)
		}
	} else {
		res.WriteText(stdout)
	}
	return res.Failure()
}

// noiseStream is the PCG stream of verify's random input.
const noiseStream = 0x76696d63

// verifyInput returns the input batch: --input, or N(0,1) noise of shape
// [--batch, C, H, W] from --seed (C = the patch conv's input channels).
// c.ImgSize 0 (MambaOut, fully convolutional): any H×W, noise at 224.
func verifyInput(fs *flag.FlagSet, f *verifyFlags, c convert.Config, channels int) ([]float32, [4]int, string, error) {
	size := cmp.Or(c.ImgSize, mo.EvalPreprocess.InputSize)
	want := [4]int{f.batch, channels, size, cmp.Or(c.Width(), size)}
	if f.input == "" {
		if err := runtime.CheckInputSize(f.batch, channels, size); err != nil {
			return nil, want, "", usageError(fs, "--batch %d: %v", f.batch, err)
		}
		rng := rand.New(rand.NewPCG(f.seed, noiseStream))
		x := make([]float32, want[0]*want[1]*want[2]*want[3])
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x, want, fmt.Sprintf("N(0,1) noise, seed %d", f.seed), nil
	}
	x, shape, err := verify.ReadInput(f.input)
	if err != nil {
		return nil, want, "", fmt.Errorf("--input: %w", err)
	}
	if len(shape) != 4 || shape[0] < 1 || shape[1] != channels { // H×W: verify.CheckFile checks them against the model
		return nil, want, "", fmt.Errorf("--input %s has shape %v, the model takes [B, %d, H, W]%s", f.input, shape, channels, convert.ChannelsLastHint(shape, channels))
	}
	return x, [4]int{shape[0], shape[1], shape[2], shape[3]}, f.input, nil
}

// flagSet reports whether flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) (set bool) {
	fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}
