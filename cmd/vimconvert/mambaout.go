package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/arch"
	mo "github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
	vmo "github.com/vimconvert/vimconvert/verify/mambaout"
)

// mambaOutCheckpoint reports whether the checkpoint at path is a MambaOut
// one. A state dict of neither architecture is an error listing what it
// lacks for each; a file that cannot be read is left to the Vim path,
// which reports it.
func mambaOutCheckpoint(path string, w convert.Weights) (bool, error) {
	a, err := arch.DetectFile(path, w)
	if errors.Is(err, arch.ErrNotDetected) {
		return false, err
	}
	return err == nil && a == arch.MambaOut, nil
}

// notForMambaOut refuses, with usage, the first of the Vim-only flags
// names set on fs.
func notForMambaOut(fs *flag.FlagSet, names ...string) (bad error) {
	fs.Visit(func(fl *flag.Flag) {
		if bad == nil && slices.Contains(names, fl.Name) {
			bad = usageError(fs, "--%s does not apply to a MambaOut checkpoint", fl.Name)
		}
	})
	return bad
}

// convertMambaOut is `vimconvert convert` for a MambaOut checkpoint.
func convertMambaOut(fs *flag.FlagSet, f *convertFlags, ckpt string, stdout, stderr io.Writer) error {
	if err := notForMambaOut(fs, append([]string{"tokens", "scan", "conv"}, checkpointFlagNames[1:]...)...); err != nil {
		return err
	}
	opts := graph.MambaOutConvertOptions{Load: mo.Options{Weights: f.load.Weights},
		Build: graph.MambaOutOptions{Opset: f.opset, Features: f.features, PerStage: f.perLayer}}
	if isTerminal(stderr) {
		opts.WriteProgress = writeBar(stderr, filepath.Base(f.output))
	}
	res, err := graph.ConvertMambaOutFile(ckpt, f.output, opts)
	if err != nil {
		return err
	}
	printMambaOut(stdout, res.Model.Config, res.Info)
	for _, v := range res.ONNX.GetGraph().GetInput() {
		fmt.Fprintf(stdout, "input      %s %s float32\n", v.GetName(), shapeString(v))
	}
	for _, v := range res.ONNX.GetGraph().GetOutput() {
		fmt.Fprintf(stdout, "output     %s %s float32\n", v.GetName(), shapeString(v))
	}
	fmt.Fprintf(stdout, "opset      %d (IR %d), standard ONNX ops only\nwrote %s (%s)\n", f.opset, res.ONNX.GetIrVersion(), f.output, humanBytes(res.Size))
	return nil
}

// printMambaOut prints what inspect and convert tell about a MambaOut checkpoint.
func printMambaOut(w io.Writer, c mo.Config, info *convert.Info) {
	variant := info.Variant
	if variant == "" {
		variant = "custom (" + info.VariantNote + ")"
	}
	fmt.Fprintf(w, "checkpoint %s (%s format, %s layout, %q weights)\narchitecture %s, variant %s\n", info.Path, info.Format, info.Layout, info.Weights, mo.Architecture, variant)
	fmt.Fprintf(w, "config     dims %v, depths %v, hidden %v, kernel %d, head hidden %d, %d classes\n", c.Dims, c.Depths, c.Hidden, c.KernelSize, c.HeadHidden, c.NumClasses)
	fmt.Fprintf(w, "tensors    %d, %s parameters, storage dtype %s, loaded as float32\n", info.TensorCount, groupDigits(info.ParamCount), info.DType)
	for _, s := range info.Ignored {
		fmt.Fprintf(w, "ignored    %s\n", s)
	}
	for _, s := range info.Assumed {
		fmt.Fprintf(w, "assumed    %s\n", s)
	}
}

// inspectMambaOut is `vimconvert inspect` for a MambaOut checkpoint.
func inspectMambaOut(fs *flag.FlagSet, f *inspectFlags, ckpt string, stdout io.Writer) error {
	if err := notForMambaOut(fs, checkpointFlagNames[1:]...); err != nil {
		return err
	}
	m, info, err := mo.Load(ckpt, mo.Options{Weights: f.load.Weights})
	if err != nil {
		return err
	}
	if !f.json {
		printMambaOut(stdout, m.Config, info)
		return nil
	}
	obj, err := mo.InspectObject(m.Config, info)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(obj)
}

// verifyMambaOut is verify.CheckFile for a MambaOut checkpoint: the input
// is --input of any H×W, or noise at the evaluation size.
func verifyMambaOut(fs *flag.FlagSet, f *verifyFlags, prec verify.Precision, pos []string, stderr io.Writer) (*verify.FileReport, error) {
	return vmo.CheckFile(pos[0], pos[1], vmo.FileOptions{
		Weights: convert.Weights(f.weights), Tol: f.tol, Precision: prec, PerStage: f.perLayer,
		Runtime: runtime.Options{IntraOpThreads: f.threads}, Log: stderr,
		Input: func(ch int) ([]float32, [4]int, string, error) {
			if f.input == "" {
				return verifyInput(fs, f, convert.Config{ImgSize: mo.EvalPreprocess.InputSize}, ch)
			}
			shape, x, err := readInputTensor(f.input)
			if err != nil {
				return nil, [4]int{}, "", err
			}
			if len(shape) != 4 || shape[0] < 1 || shape[1] != ch || shape[2] < 1 || shape[3] < 1 {
				return nil, [4]int{}, "", fmt.Errorf("--input %s has shape %v, the model takes [B, %d, H, W]", f.input, shape, ch)
			}
			return x, [4]int{shape[0], shape[1], shape[2], shape[3]}, f.input, nil
		},
	})
}

// predictMambaOut runs `predict --checkpoint` on a MambaOut checkpoint;
// ok is false when the checkpoint is not one.
func predictMambaOut(fs *flag.FlagSet, f *predictFlags, prec verify.Precision, x []float32, shape []int) (out []float32, outShape []int, ok bool, err error) {
	if ok, err = mambaOutCheckpoint(f.checkpoint, f.load.Weights); !ok || err != nil {
		return nil, nil, ok, err
	}
	if err := notForMambaOut(fs, checkpointFlagNames[1:]...); err != nil {
		return nil, nil, true, err
	}
	m, _, err := mo.Load(f.checkpoint, mo.Options{Weights: f.load.Weights})
	if err != nil {
		return nil, nil, true, err
	}
	res, err := vmo.Forward(m, x, [4]int{shape[0], shape[1], shape[2], shape[3]}, vmo.Options{Precision: prec})
	if err != nil {
		return nil, nil, true, fmt.Errorf("input %s: %w", f.input, err)
	}
	t := res.Logits
	if f.features {
		t = res.Features
	}
	return t.Float32(), t.Shape, true, nil
}
