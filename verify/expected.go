package verify

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vimconvert/vimconvert/convert/torchfile"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

// Expected holds outputs produced elsewhere (typically by the official
// PyTorch code) that CheckFile holds the ONNX model and the Go reference
// to.
type Expected struct {
	// Source describes where they came from ("y.pth[logits]").
	Source string
	// Output names the model output they are: graph.LogitsName or
	// graph.FeaturesName, or "" for the model's main output (logits, or
	// the features of a model without a head).
	Output string
	// Shape and Data are the float32 values, [batch, N] row-major.
	Shape []int
	Data  []float32
}

// ReadArray reads a float32 array from a NumPy .npy file, a NumPy .npz
// archive, or a torch.save'd file (any other extension): a bare tensor
// (with key ""), or a dict of tensors. Of a .npz or a dict it reads the
// array under key, or, with key "", under the first of defaults it holds,
// or its only array; anything else is an error naming the keys it holds.
// It returns the key read ("" for .npy and a bare tensor). float64 values
// are rounded to float32.
func ReadArray(path, key string, defaults ...string) (data []float32, shape []int, used string, err error) {
	switch ext := strings.ToLower(filepath.Ext(path)); {
	case ext == ".npy":
		if key != "" {
			return nil, nil, "", fmt.Errorf("%s: a .npy file holds one array; a key (%q) applies to a .npz or a torch .pth dict only", path, key)
		}
		a, err := npy.ReadFile(path)
		if err != nil {
			return nil, nil, "", err
		}
		return a.Float32(), a.Shape, "", nil
	case ext == ".npz":
		z, err := npy.OpenArchive(path)
		if err != nil {
			return nil, nil, "", err
		}
		defer z.Close()
		if key, err = pickKey(key, z.Names(), defaults); err != nil {
			return nil, nil, "", fmt.Errorf("%s: %w", path, err)
		}
		a, err := z.Read(key)
		if err != nil {
			return nil, nil, "", err
		}
		return a.Float32(), a.Shape, key, nil
	}
	var pickErr error
	t, used, err := torchfile.ReadTensorEntry(path, func(keys []string) (string, error) {
		keys = slices.Sorted(slices.Values(keys))
		k, err := pickKey(key, keys, defaults)
		pickErr = err
		return k, err
	})
	switch {
	case pickErr != nil:
		return nil, nil, "", fmt.Errorf("%s: %w", path, pickErr)
	case err != nil:
		return nil, nil, "", fmt.Errorf("%s (want .npy, .npz, or a torch .pth tensor or dict of tensors): %w", path, err)
	case used == torchfile.BareTensorKey && key != "":
		return nil, nil, "", fmt.Errorf("%s holds one bare tensor (torch.save(tensor)), not a dict; a key (%q) applies to a dict only", path, key)
	}
	return t.Data, t.Shape, used, nil
}

// pickKey chooses the entry of a dict or .npz holding keys (sorted): key
// when given, else the first of defaults it holds, else its only entry.
// A missing key, or several entries and none of defaults, is an error
// naming the keys the file holds.
func pickKey(key string, keys, defaults []string) (string, error) {
	if key == "" {
		for _, d := range defaults {
			if slices.Contains(keys, d) {
				return d, nil
			}
		}
		if len(keys) == 1 {
			return keys[0], nil
		}
	} else if slices.Contains(keys, key) {
		return key, nil
	}
	want := fmt.Sprintf("%q", key)
	switch {
	case key == "" && len(defaults) == 1:
		want = "'" + defaults[0] + "'" // as verify --input always said
	case key == "" && len(defaults) == 0:
		want = "to pick: it holds several"
	case key == "":
		q := make([]string, len(defaults))
		for i, d := range defaults {
			q[i] = strconv.Quote(d)
		}
		want = strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
	}
	return "", noTensorError(fmt.Sprintf("no tensor %s (keys: %v)", want, keys))
}

// noTensorError is pickKey's error: the file holds no entry it may pick.
type noTensorError string

func (e noTensorError) Error() string { return string(e) }

// ReadInput reads an input batch [B, C, H, W]: a .npy file, or a .npz
// archive or torch .pth file holding it as a bare tensor or under "x" (or
// as its only array). An empty batch (B = 0) is refused, and so is an
// image file, naming what to do instead, and a batch holding NaN or Inf
// (naming the first), which no model maps to meaningful outputs.
func ReadInput(path string) (x []float32, shape []int, err error) {
	if preprocess.IsImageName(path) || preprocess.IsImageFile(path) {
		return nil, nil, fmt.Errorf("%s is an image, but a tensor file is needed here (.npy, or a torch .pth dict holding x): write one with `vimconvert preprocess`, or give the image to an exported model (predict --model, classify)", path)
	}
	x, shape, _, err = ReadArray(path, "", "x")
	if err == nil && len(shape) != 4 {
		err = fmt.Errorf("%s has shape %v, want 4-D [B, C, H, W] (NCHW)", path, shape)
	} else if err == nil && shape[0] < 1 {
		err = fmt.Errorf("%s has an empty batch (shape %v)", path, shape)
	} else if n := countNonFinite(x); err == nil && n > 0 {
		i := slices.IndexFunc(x, func(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) })
		c := []int{i / (shape[1] * shape[2] * shape[3]), i / (shape[2] * shape[3]) % shape[1], i / shape[3] % shape[2], i % shape[3]}
		err = fmt.Errorf("%s holds %d NaN/Inf values of %d (the first, %v, at [b c h w] = %v): every output would be NaN; fix the input", path, n, len(x), x[i], c)
	}
	return x, shape, err
}

// ReadExpected reads expected outputs for CheckFile: a .npy file (the
// model's main output), or a torch .pth dict: the tensor under key, else
// under "logits" or "features". A key containing "features" is compared
// with the features output, any other with the logits.
func ReadExpected(path, key string) (*Expected, error) {
	data, shape, used, err := ReadArray(path, key, graph.LogitsName, graph.FeaturesName)
	if noTensor := noTensorError(""); key == "" && errors.As(err, &noTensor) {
		return nil, fmt.Errorf("%w; name the one to compare with --expected-key", err)
	}
	if err != nil {
		return nil, err
	}
	e := &Expected{Source: path, Shape: shape, Data: data}
	if used != "" {
		e.Source = fmt.Sprintf("%s[%s]", path, used)
		e.Output = graph.LogitsName
		if strings.Contains(used, graph.FeaturesName) {
			e.Output = graph.FeaturesName
		}
	}
	if len(shape) != 2 {
		return nil, fmt.Errorf("expected outputs %s have shape %v, want [batch, N] (logits or features)", e.Source, shape)
	}
	return e, nil
}

// compareExpected compares the ONNX output and the reference with the
// expected outputs and records the comparisons and failures.
func (fc *fileCheck) compareExpected(got map[string]*runtime.Tensor, ref *Result) error {
	logits := ref.Logits
	if fc.m.Config.NumClasses == 0 {
		logits = nil
	}
	return fc.res.CompareExpected(fc.opts.Expected, got, logits, ref.Features, fc.shape[:])
}

// CompareExpected holds the ONNX outputs got and the reference's logits and
// features (logits nil for a model without a head) to e, the outputs
// produced elsewhere for the same input of shape input: it records both
// comparisons in r.ExpectedOutputs and a failure for each beyond r.Tol or
// with another top-1 (logits only). Expected outputs the model does not
// have, or of another shape, are an error.
func (r *FileReport) CompareExpected(e *Expected, got map[string]*runtime.Tensor, logits, features *Tensor, input []int) error {
	name := e.Output
	if name == "" {
		name = graph.LogitsName
		if logits == nil {
			name = graph.FeaturesName
		}
	}
	onnx, ok := got[name]
	want := logits
	if name == graph.FeaturesName {
		want = features
	}
	if !ok || want == nil {
		return fmt.Errorf("expected outputs %s are %s, but %s has no %q output (convert with --features to add it)", e.Source, name, r.Model, name)
	}
	r.Expected = e.Source
	if !slices.Equal(e.Shape, want.Shape) {
		return fmt.Errorf("expected outputs %s have shape %v, but the model's %s for the input %v are %v (another batch or input?)", e.Source, e.Shape, name, input, want.Shape)
	}
	for _, side := range []struct {
		who string
		rep Report
	}{{"onnx", Compare(e.Data, onnx.Data, e.Shape)}, {"reference", Compare(e.Data, want.Data, e.Shape)}} {
		rep := side.rep
		if name != graph.LogitsName {
			rep = rep.WithoutTop1()
		}
		r.ExpectedOutputs = append(r.ExpectedOutputs, Named{side.who + " " + name, rep})
		if !rep.Pass(r.Tol) {
			r.Failures = append(r.Failures, fmt.Sprintf("%s %s vs expected %s: max |Δ| %.3g > tol %g", side.who, name, e.Source, rep.MaxAbs, r.Tol))
		}
		if !rep.Top1Within(r.Tol) {
			r.Failures = append(r.Failures, fmt.Sprintf("%s %s vs expected %s: top-1 differs in %d of %d rows (expected margin up to %.3g > tol %g)", side.who, name, e.Source, rep.Top1Rows-rep.Top1Agree, rep.Top1Rows, rep.Top1DiffMargin, r.Tol))
		}
	}
	if n := countNonFinite(e.Data); n > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("expected %s holds %d NaN/Inf values", e.Source, n))
	}
	return nil
}

// countNonFinite counts the NaN and ±Inf values of v.
func countNonFinite(v []float32) int {
	n := 0
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			n++
		}
	}
	return n
}

// CheckFinite returns an error naming what (e.g. "onnx logits") when v
// holds NaN or Inf values, else nil.
func CheckFinite(what string, v []float32) error {
	if n := countNonFinite(v); n > 0 {
		return fmt.Errorf("%s hold %d NaN/Inf values of %d: the model or its input is broken", what, n, len(v))
	}
	return nil
}
