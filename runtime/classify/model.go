package classify

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/arch"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
	"github.com/vimconvert/vimconvert/verify"
	vmo "github.com/vimconvert/vimconvert/verify/mambaout"
)

// ModelOptions says how Open feeds a model where the model itself does not
// fix it. The zero value follows the model.
type ModelOptions struct {
	// ImgSize overrides the input size; a model built for one size accepts
	// only that one (0 = the model's own, or the size it was trained at).
	ImgSize int
	// CropPct overrides the crop fraction: the resize side is
	// int(ImgSize / CropPct) (0 = the model's recorded one, else hustvl/Vim's
	// preprocess.VimEvalCropPct).
	CropPct float64
	// LabelsFile names the class names, one per line ("" = those the model
	// records, else ImageNet-1k for a 1000-class head, else none).
	LabelsFile string
	// Threads bounds the threads of the model (ORT intra-op threads, or
	// the Go reference's workers); 0 = their defaults.
	Threads int
	// Runtime locates ONNX Runtime and the plugin for an ONNX model; its
	// IntraOpThreads is replaced by Threads when Threads is set.
	Runtime runtime.Options
	// Checkpoint picks what is read from a checkpoint (weight set, cls
	// token, stride); its ImgSize is replaced by ImgSize.
	Checkpoint convert.Options
}

// SetKwargs reads official VisionMamba constructor arguments into
// o.Checkpoint (convert.ParseKwargs), the form a flag.Func takes.
func (o *ModelOptions) SetKwargs(s string) error { return convert.ParseKwargs(s, &o.Checkpoint) }

// Model is a classifier ready to run: how to feed it and how to name its
// classes. Make it with Open; Close it when done.
type Model struct {
	// Path is the model or checkpoint file.
	Path string
	// Recipe is the preprocessing applied to every image.
	Recipe preprocess.Recipe
	// Format is the input the model takes: float32 NCHW or uint8 NHWC.
	Format graph.InputFormat
	// Classes is the number of outputs of the head.
	Classes int
	// Labels names the classes (len Classes), or is nil: results then
	// carry class indices only.
	Labels []string
	// Notes lists what was assumed because neither the model nor the
	// options said it, one sentence each, for the caller to show.
	Notes []string

	logits func(x []float32, u8 []uint8, n int) ([]float32, error)
	close  func() error
}

// Close releases the model's native resources. It is safe to call twice.
func (m *Model) Close() error {
	if m.close == nil {
		return nil
	}
	err := m.close()
	m.close = nil
	return err
}

// Open loads the model at path: an exported ONNX model (onnxfile.IsModelPath) run in ONNX
// Runtime with the plugin, or a Vim or MambaOut checkpoint run with the
// pure-Go reference. Errors name the file and the problem.
func Open(path string, o ModelOptions) (*Model, error) {
	if o.CropPct < 0 || o.CropPct > 1 || math.IsNaN(o.CropPct) {
		return nil, fmt.Errorf("crop pct %v: want a fraction in (0, 1]", o.CropPct)
	}
	if o.ImgSize < 0 {
		return nil, fmt.Errorf("image size %d: want a positive size", o.ImgSize)
	}
	var m *Model
	var err error
	if onnxfile.IsModelPath(path) {
		if o.Checkpoint != (convert.Options{}) {
			return nil, fmt.Errorf("%s is an exported model: the checkpoint options (--weights, --cls-token, stride, --kwargs) apply to a checkpoint only", path)
		}
		m, err = openONNX(path, o)
	} else {
		m, err = openCheckpoint(path, o)
	}
	if err != nil {
		return nil, err
	}
	if err := m.setLabels(o.LabelsFile, nil); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// openCheckpoint loads a Vim or MambaOut checkpoint for the Go reference
// forward pass.
func openCheckpoint(path string, o ModelOptions) (*Model, error) {
	if isMO, err := arch.IsMambaOut(path, o.Checkpoint.Weights); err != nil {
		return nil, err
	} else if isMO {
		return openMambaOutCheckpoint(path, o)
	}
	lo := o.Checkpoint
	lo.ImgSize = o.ImgSize
	cm, info, err := convert.Load(path, lo)
	if err != nil {
		return nil, err
	}
	c := cm.Config
	if c.NumClasses == 0 {
		return nil, fmt.Errorf("%s has no classification head (num_classes 0): nothing to classify with", path)
	}
	if c.FinalPoolType == "all" && c.ClsToken == convert.ClsNone {
		return nil, fmt.Errorf("%s: final_pool_type \"all\" gives per-token logits, not one class per image", path)
	}
	// the loader's guesses (a cls placement or readout nothing records)
	// change the classes: the caller shows them with the other notes
	m := &Model{Path: path, Format: graph.InputFloatNCHW, Classes: c.NumClasses, Notes: slices.Clone(info.Warnings)}
	if m.Recipe, err = resolveRecipe(path, nil, c.ImgSize, o, &m.Notes); err != nil {
		return nil, err
	}
	s := c.ImgSize
	m.logits = func(x []float32, _ []uint8, n int) ([]float32, error) {
		res, err := verify.Forward(cm, x, [4]int{n, 3, s, s}, verify.Options{Workers: o.Threads})
		if err != nil {
			return nil, err
		}
		return res.Logits.Float32(), nil
	}
	return m, nil
}

// openMambaOutCheckpoint loads a MambaOut checkpoint (the weight set of
// o.Checkpoint; its Vim geometry options are refused) for the Go
// reference forward pass, fed with MambaOut's evaluation preprocessing
// (mambaout.EvalRecipe: timm's default cfg, or what a training
// checkpoint's args record) at its size or o.ImgSize: the network takes
// any size.
func openMambaOutCheckpoint(path string, o ModelOptions) (*Model, error) {
	if vimOnly := (convert.Options{ClsToken: o.Checkpoint.ClsToken, Stride: o.Checkpoint.Stride, ImgWidth: o.Checkpoint.ImgWidth,
		FinalPoolType: o.Checkpoint.FinalPoolType, DivideOut: o.Checkpoint.DivideOut, NormEps: o.Checkpoint.NormEps}); vimOnly != (convert.Options{}) {
		return nil, fmt.Errorf("%s is a MambaOut checkpoint: the Vim options cls token, stride, width and --kwargs do not apply", path)
	}
	mm, _, err := mambaout.Load(path, mambaout.Options{Weights: o.Checkpoint.Weights})
	if err != nil {
		return nil, err
	}
	rec, err := mambaOutRecipe(mm.Preprocess)
	if err != nil {
		return nil, err
	}
	m := &Model{Path: path, Format: graph.InputFloatNCHW, Classes: mm.Config.NumClasses}
	if m.Recipe, err = resolveRecipe(path, &rec, -1, o, &m.Notes); err != nil {
		return nil, err
	}
	s, ch := m.Recipe.InputSize, mm.Config.InChans
	m.logits = func(x []float32, _ []uint8, n int) ([]float32, error) {
		res, err := vmo.Forward(mm, x, [4]int{n, ch, s, s}, vmo.Options{Workers: o.Threads})
		if err != nil {
			return nil, err
		}
		return res.Logits.Float32(), nil
	}
	return m, nil
}

// openONNX reads the metadata of an exported model and opens its session.
func openONNX(path string, o ModelOptions) (*Model, error) {
	m, err := describeONNX(path, o, true)
	if err != nil {
		return nil, err
	}
	ro := o.Runtime
	if o.Threads > 0 {
		ro.IntraOpThreads = o.Threads
	}
	sess, err := runtime.NewSession(path, ro)
	if err != nil {
		return nil, err
	}
	m.close = sess.Destroy
	m.logits = func(x []float32, u8 []uint8, n int) ([]float32, error) {
		out, err := sess.RunOutputs(map[string]*runtime.Tensor{graph.InputName: m.tensor(x, u8, n)}, []string{graph.LogitsName})
		if err != nil {
			return nil, err
		}
		return out[graph.LogitsName].Data, nil
	}
	return m, nil
}

// tensor is the model input of n images: the uint8 crops u8 [n, N, N, 3]
// when not nil, else the float32 x [n, 3, N, N] (N = Recipe.InputSize).
func (m *Model) tensor(x []float32, u8 []uint8, n int) *runtime.Tensor {
	s := int64(m.Recipe.InputSize)
	if u8 != nil {
		return &runtime.Tensor{Shape: []int64{int64(n), s, s, 3}, Bytes: u8}
	}
	return &runtime.Tensor{Shape: []int64{int64(n), 3, s, s}, Data: x}
}

// describeONNX reads an exported model without opening a session: how to
// feed it (Format, Recipe, Notes) and, with classes set, its number of
// classes and labels (a model without a logits output is then refused).
func describeONNX(path string, o ModelOptions, classes bool) (*Model, error) {
	mp, err := onnxfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	meta := onnxfile.Metadata(mp)
	info := runtime.ModelInfoOf(mp)
	in, err := imageInput(path, info)
	if err != nil {
		return nil, err
	}
	m := &Model{Path: path}
	if m.Format, _, err = graph.RecordedInput(path, meta); err != nil {
		return nil, err
	}
	if classes {
		if m.Classes, err = logitsClasses(path, info); err != nil {
			return nil, err
		}
		if err := m.setLabels("", meta); err != nil {
			return nil, err
		}
	}
	fixed := int(in.Shape[2]) // -1 for a model of any size
	if m.Format == graph.InputUint8NHWC {
		fixed = int(in.Shape[1])
	}
	rec, err := recordedRecipe(path, meta, fixed)
	if err != nil {
		return nil, err
	}
	if m.Recipe, err = resolveRecipe(path, rec, fixed, o, &m.Notes); err != nil {
		return nil, err
	}
	return m, nil
}

// InputTensor returns the input of the exported model at modelPath for the
// file at inputPath, in the type and layout the model declares. An image
// file (by its name, ImageExtensions, or its content) is decoded, resized and cropped with the
// preprocessing the model records (else hustvl/Vim's eval transform): the
// float32 [1, 3, N, N] tensor, or for a uint8-nhwc model the uint8 crop
// [1, N, N, 3] its graph normalises. Anything else is read as a float32
// [B, C, H, W] tensor file (verify.ReadInput), which a uint8-nhwc model
// cannot take: that is refused naming the model's input type.
func InputTensor(modelPath, inputPath string) (*runtime.Tensor, error) {
	if isImageName(inputPath) || preprocess.IsImageFile(inputPath) {
		m, err := describeONNX(modelPath, ModelOptions{}, false)
		if err != nil {
			return nil, err
		}
		b, err := preprocess.LoadBatch(m.Recipe, []string{inputPath}, 1)
		if err != nil {
			return nil, err
		}
		var x []float32
		var u8 []uint8
		if m.Format == graph.InputUint8NHWC {
			u8, err = b.NHWC()
		} else {
			x, err = b.NCHW()
		}
		return m.tensor(x, u8, 1), err
	}
	mp, err := onnxfile.ReadFile(modelPath)
	if err != nil {
		return nil, err
	}
	if f, _, err := graph.RecordedInput(modelPath, onnxfile.Metadata(mp)); err != nil {
		return nil, err
	} else if f == graph.InputUint8NHWC {
		return nil, fmt.Errorf("%s takes uint8 [B, H, W, 3] RGB pixels (input format %s), not a float32 tensor file such as %s: give an image file (%s) instead, or convert without --input-format %s to feed float32 tensors",
			modelPath, f, inputPath, strings.Join(ImageExtensions, ", "), f)
	}
	x, shape, err := verify.ReadInput(inputPath)
	if err != nil {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	return &runtime.Tensor{Shape: dims, Data: x}, nil
}

// imageInput finds the 4-D image input of an ONNX model.
func imageInput(path string, info *runtime.ModelInfo) (runtime.ValueInfo, error) {
	for _, v := range info.Inputs {
		if v.Name == graph.InputName && len(v.Shape) == 4 {
			return v, nil
		}
	}
	return runtime.ValueInfo{}, fmt.Errorf("%s has no 4-D input %q: not an image classifier exported by vimconvert", path, graph.InputName)
}

// logitsClasses returns the number of classes of the logits output of an
// ONNX model.
func logitsClasses(path string, info *runtime.ModelInfo) (int, error) {
	for _, v := range info.Outputs {
		if v.Name == graph.LogitsName {
			if len(v.Shape) != 2 || v.Shape[1] <= 0 {
				return 0, fmt.Errorf("%s: output %q has shape %v, want [batch, num_classes]", path, v.Name, v.Shape)
			}
			return int(v.Shape[1]), nil
		}
	}
	return 0, fmt.Errorf("%s has no %q output (a model without a classification head cannot classify)", path, graph.LogitsName)
}

// setLabels picks the class names: file, else meta's (when meta is not
// nil), else ImageNet-1k for a 1000-class head (with a note), else none.
// With meta nil and no file it keeps what is set, or applies the fallback.
func (m *Model) setLabels(file string, meta map[string]string) error {
	switch {
	case file != "":
		l, err := preprocess.ReadLabels(file)
		if err != nil {
			return err
		}
		if err := preprocess.CheckLabels(l, m.Classes); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		m.Labels = l
	case meta != nil:
		if s, ok := meta[graph.MetaLabels]; ok {
			l := strings.Split(s, "\n")
			if err := preprocess.CheckLabels(l, m.Classes); err != nil {
				return fmt.Errorf("%s: metadata %s: %w", m.Path, graph.MetaLabels, err)
			}
			m.Labels = l
		}
	case m.Labels != nil:
	case m.Classes == 1000:
		m.Labels = preprocess.ImageNetLabels()
		m.Notes = append(m.Notes, fmt.Sprintf("%s records no class names: using ImageNet-1k's for its 1000-class head (--labels FILE for others)", m.Path))
	default:
		m.Notes = append(m.Notes, fmt.Sprintf("%s records no class names for its %d classes: printing class indices (--labels FILE to name them)", m.Path, m.Classes))
	}
	return nil
}
