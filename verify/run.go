package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

// FileOptions configures CheckFile.
type FileOptions struct {
	// Weights is the weight set of a training checkpoint the model was
	// converted from (convert.WeightsModel or convert.WeightsEMA); ""
	// takes the one the model's provenance records, else WeightsModel.
	Weights convert.Weights
	// Input returns the input batch [B, C, H, W] for the loaded checkpoint
	// (c, and channels = C of its patch conv) and a description of it for
	// the report. Its error is returned as is.
	Input func(c convert.Config, channels int) (x []float32, shape [4]int, desc string, err error)
	// Pixels returns the input of a model that takes 8-bit RGB crops
	// (graph.InputUint8NHWC) instead of Input: batch crops of r.InputSize
	// squared pixels, [batch, N, N, 3], for the recipe r the model records
	// (PixelInput makes one). The model is fed these bytes and the
	// reference the same pixels normalised as the graph does (r's mean and
	// std). Nil: such a model is refused. Its error is returned as is.
	Pixels func(r preprocess.Recipe) (pix []uint8, batch int, desc string, err error)
	// Tol bounds max |reference - onnx| of every compared output (and of
	// each per-layer tensor, for FirstDivergence).
	Tol float64
	// TolByDType replaces Tol by DTypeTolerance of the model's element type
	// (graph.MetaDType) for a 16-bit model, with a note in the report; set
	// it when Tol is a default rather than the user's choice.
	TolByDType bool
	// Precision is the arithmetic of the Go reference.
	Precision Precision
	// PerLayer compares every block's intermediates; a model without
	// per-layer outputs is rebuilt with them (in a temporary directory)
	// from the checkpoint's graph and the model's own initializers.
	PerLayer bool
	// Runtime opens the ONNX Runtime sessions.
	Runtime runtime.Options
	// Log receives "warning: ..." lines and notes as they arise (nil: none).
	Log io.Writer
	// Expected, when set, holds outputs produced elsewhere (the official
	// code): the ONNX output and the reference are also compared with them
	// (max |Δ| within Tol, same top-1 for logits). Unlike the reference,
	// they share none of the converter's assumptions.
	Expected *Expected
}

// fileCheck is the state of one CheckFile call.
type fileCheck struct {
	ctx      context.Context
	opts     FileOptions
	ckpt     string
	onnxPath string
	mp       *onnxpb.ModelProto
	built    convert.Config // the geometry recorded in the model's metadata
	info     *convert.Info  // how the checkpoint was read
	m        *convert.Model
	native   *convert.Model // a dynamic-size model's checkpoint before fitInput resized it
	res      *FileReport
	x        []float32
	shape    [4]int
	pix      []uint8 // a uint8-nhwc model's input [B, H, W, 3]; x is its normalised NCHW form
}

// CheckFile runs the ONNX model at onnxPath in ONNX Runtime and the Go
// reference forward pass of the checkpoint at ckptPath on the same input
// and compares them: the logits (max |Δ| within Tol and the same top-1),
// or the features of a checkpoint without a head, plus the features and
// tokens outputs when the model has them, and with PerLayer every block's
// intermediates. It first checks that the model was converted from this
// checkpoint (geometry and weights: a mismatch of geometry is an error, of
// weights a warning). A comparison that fails is a report with Pass false
// (see Failure), not an error.
func CheckFile(ckptPath, onnxPath string, opts FileOptions) (*FileReport, error) {
	return CheckFileContext(context.Background(), ckptPath, onnxPath, opts)
}

// CheckFileContext is CheckFile that stops when ctx is done, between its
// steps (reading, each ONNX Runtime session, the per-layer copy, the
// reference), and returns ctx's error. The per-layer copy's temporary
// directory ($TMPDIR/vimconvert-verify-PID-RAND) is removed either way and
// is registered with internal/cleanup for an interrupt.
func CheckFileContext(ctx context.Context, ckptPath, onnxPath string, opts FileOptions) (*FileReport, error) {
	res, err := NewFileReport(ckptPath, onnxPath, &opts)
	if err != nil {
		return nil, err
	}
	fc := &fileCheck{ctx: ctx, opts: opts, ckpt: ckptPath, onnxPath: onnxPath, res: res}
	if err := fc.load(); err != nil {
		return nil, err
	}
	if err := fc.applyDType(); err != nil {
		return nil, err
	}
	if err := fc.readInput(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := fc.fitInput(); err != nil {
		return nil, err
	}
	if err := fc.compare(); err != nil {
		return nil, err
	}
	fc.res.Pass = len(fc.res.Failures) == 0
	return fc.res, nil
}

// NewFileReport starts a check as CheckFile does: it refuses opts without
// an Input function, sets a nil opts.Log to io.Discard and returns the
// empty report of checking the model at onnxPath against the checkpoint at
// ckptPath with opts (for verify/mambaout's CheckFile, which starts alike).
func NewFileReport(ckptPath, onnxPath string, opts *FileOptions) (*FileReport, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Input == nil {
		return nil, errors.New("verify: no Input function")
	}
	return &FileReport{Checkpoint: ckptPath, Model: onnxPath, Weights: opts.Weights, Tol: opts.Tol, Precision: opts.Precision.String()}, nil
}

// load reads the model and the checkpoint at the model's geometry and
// checks that they belong together.
func (fc *fileCheck) load() error {
	var err error
	if fc.mp, err = onnxfile.ReadFile(fc.onnxPath); err != nil {
		return err
	}
	// The geometry the model was built for (stride and cls placement
	// cannot be seen in the weights) comes from the model's metadata.
	if fc.built, _, err = graph.BuiltConfig(fc.onnxPath, fc.mp); err != nil {
		return err
	}
	prov, recorded, provErr := graph.ReadProvenance(fc.onnxPath, fc.mp)
	if fc.opts.Weights == "" {
		if provErr != nil {
			return provErr
		}
		fc.opts.Weights = RecordedWeights(prov, recorded)
	}
	fc.res.Weights = fc.opts.Weights
	built := fc.built
	fc.m, fc.info, err = convert.Load(fc.ckpt, builtOptions(fc.opts.Weights, built))
	if err != nil {
		if built.ImgSize > 0 {
			if msg, sure := geometryMismatch(fc.ckpt, built, fc.opts.Weights); sure {
				return errors.New(msg)
			} else if msg != "" {
				return fmt.Errorf("load checkpoint: %s: %w", msg, err)
			}
		}
		return fmt.Errorf("load checkpoint: %w", err)
	}
	if err := checkSameArchitecture(fc.onnxPath, fc.ckpt, built, fc.m.Config); err != nil {
		return err
	}
	if err := checkSameGeometry(fc.mp, fc.m, built, fc.ckpt, fc.opts.Weights); err != nil {
		return err
	}
	if provErr != nil {
		return provErr
	}
	fc.checkProvenance(prov, recorded)
	if !recorded {
		// no provenance: infer another source from differing initializers
		if w := checkSameWeights(fc.mp, fc.m, fc.opts.Weights); w != "" {
			fc.warn(w)
		}
	}
	return nil
}

// warn records a warning and writes it to the log.
func (fc *fileCheck) warn(w string) {
	fc.res.Warnings = append(fc.res.Warnings, w)
	fmt.Fprintf(fc.opts.Log, "warning: %s\n", w)
}

// input is the model's input: the float32 batch [B, C, H, W], or a
// uint8-nhwc model's pixels [B, H, W, C].
func (fc *fileCheck) input() *runtime.Tensor {
	x4 := []int64{int64(fc.shape[0]), int64(fc.shape[1]), int64(fc.shape[2]), int64(fc.shape[3])}
	if fc.pix != nil {
		return &runtime.Tensor{Shape: []int64{x4[0], x4[2], x4[3], x4[1]}, Bytes: fc.pix}
	}
	return &runtime.Tensor{Shape: x4, Data: fc.x}
}

// compare runs the model (and its per-layer copy when needed) and the
// reference and fills the report's comparisons.
func (fc *fileCheck) compare() error {
	res, tol := fc.res, fc.opts.Tol
	outputNames := map[string]bool{}
	for _, o := range fc.mp.GetGraph().GetOutput() {
		outputNames[o.GetName()] = true
	}
	if err := fc.ctx.Err(); err != nil {
		return err
	}
	run, err := RunModel(fc.onnxPath, fc.input(), fc.opts.Runtime)
	if err != nil {
		return err
	}
	got := run.Outputs
	res.SessionMS, res.RunMS, res.ORTVersion = ms(run.Session), ms(run.Run), runtime.Version()
	for _, o := range fc.mp.GetOpsetImport() {
		res.Plugin = res.Plugin || o.GetDomain() == graph.Domain
	}
	layerGot := got
	if fc.opts.PerLayer && !outputNames[KeyHidden(0)] {
		if layerGot, err = fc.runPerLayerCopy(got, outputNames); err != nil {
			return err
		}
	}
	if err := fc.ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	ref, err := Forward(fc.m, fc.x, fc.shape, Options{Precision: fc.opts.Precision, Intermediates: fc.opts.PerLayer || outputNames[graph.TokensName] || len(fc.featureMapBlocks()) > 0})
	if err != nil {
		return fmt.Errorf("reference forward: %w", err)
	}
	res.ReferenceMS = ms(time.Since(start))
	if err := fc.compareOutputs(got, run.OutputNames, ref); err != nil {
		return err
	}
	if err := fc.compareFeatureMaps(got, ref); err != nil {
		return err
	}
	if fc.opts.Expected != nil {
		if err := fc.compareExpected(got, ref); err != nil {
			return err
		}
	}
	if fc.opts.PerLayer {
		for _, key := range perLayerKeys(len(fc.m.Layers)) {
			r, ok := CompareOutput(layerGot, key, ref.Intermediates[key])
			if !ok {
				continue
			}
			res.Layers = append(res.Layers, Named{key, r})
			if res.FirstDivergence == "" && !r.Pass(tol) {
				res.FirstDivergence = key
			}
		}
	}
	return nil
}

// runPerLayerCopy builds and runs a per-layer copy of the model: the graph
// from the checkpoint, the initializers from the model (so it computes
// with the same weights). It warns when the copy's logits differ from the
// model's (got).
func (fc *fileCheck) runPerLayerCopy(got map[string]*runtime.Tensor, outputNames map[string]bool) (map[string]*runtime.Tensor, error) {
	cp, err := buildPerLayerCopy(fc.perLayerModel(), fc.mp, outputNames)
	if err != nil {
		return nil, err
	}
	if err := fc.ctx.Err(); err != nil {
		return nil, err
	}
	fmt.Fprintf(fc.opts.Log, "%s has no per-layer outputs: built a per-layer copy (graph from %s, initializers from the model)\n", fc.onnxPath, fc.ckpt)
	layerRun, err := RunCopy(cp, "per_layer.onnx", fc.input(), fc.opts.Runtime)
	if err != nil {
		return nil, fmt.Errorf("per-layer copy: %w", err)
	}
	layerGot := layerRun.Outputs
	if a, b := got[graph.LogitsName], layerGot[graph.LogitsName]; a != nil && b != nil {
		if r := Compare(a.Data, b.Data, nil); !r.Pass(fc.opts.Tol) {
			fc.warn(fmt.Sprintf("the per-layer copy's logits differ from %s's by %.3g: the model's graph is not what this vimconvert builds, so the per-layer table describes the rebuilt graph", fc.onnxPath, r.MaxAbs))
		}
	}
	return layerGot, nil
}

// CompareOutput compares output name of from (an ONNX Runtime run) with
// the reference tensor want: a Report with Mismatch set when their shapes
// differ. ok is false when either is absent.
func CompareOutput(from map[string]*runtime.Tensor, name string, want *Tensor) (Report, bool) {
	g, ok := from[name]
	if !ok || want == nil {
		return Report{}, false
	}
	gs := make([]int, len(g.Shape))
	for i, d := range g.Shape {
		gs[i] = int(d)
	}
	if !slices.Equal(gs, want.Shape) {
		return Report{Shape: want.Shape, Mismatch: fmt.Sprintf("reference shape %v, onnx shape %v", want.Shape, gs)}, true
	}
	return Compare(want.Data, g.Data, want.Shape), true
}

// compareOutputs compares the logits (or the features of a checkpoint
// without a head), features and tokens outputs and records failures.
func (fc *fileCheck) compareOutputs(got map[string]*runtime.Tensor, outNames []string, ref *Result) error {
	res := fc.res
	// A model without a classification head (num_classes 0: head is
	// Identity) has no logits output; its output is the features, which
	// are then what is checked against Tol. Top-1 means nothing there.
	if _, ok := got[graph.LogitsName]; !ok && fc.m.Config.NumClasses == 0 {
		if _, ok := got[graph.FeaturesName]; !ok {
			return fmt.Errorf("%s has neither %q nor %q output (outputs: %v); the checkpoint has no head (num_classes 0), so the model should output its features", fc.onnxPath, graph.LogitsName, graph.FeaturesName, outNames)
		}
		res.Notes = append(res.Notes, "the checkpoint has no classification head (num_classes 0): compared the features output against --tol; top-1 is not checked")
	} else if !res.AddOutput(got, graph.LogitsName, ref.Logits, true) {
		return fmt.Errorf("%s has no output %q (outputs: %v)", fc.onnxPath, graph.LogitsName, outNames)
	}
	res.AddOutput(got, graph.FeaturesName, ref.Features, false)
	// "tokens" is every token after the final add + norm_f.
	res.AddOutput(got, graph.TokensName, ref.Intermediates[KeyFinalNormed], false)
	for _, name := range outNames {
		if t, ok := got[name]; ok {
			if err := CheckFinite("onnx "+name, t.Data); err != nil {
				res.Failures = append(res.Failures, err.Error())
			}
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// perLayerKeys lists the intermediate names in the order the network
// computes them.
func perLayerKeys(depth int) []string {
	keys := []string{KeyPatchEmbed, KeyEmbedTokens}
	for i := range depth {
		keys = append(keys, KeyResidual(i), KeyHidden(i))
	}
	return append(keys, KeyFinalNormed, KeyFeatures, KeyLogits)
}
