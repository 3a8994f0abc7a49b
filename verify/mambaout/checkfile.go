package mambaout

import (
	"fmt"
	"reflect"
	"time"

	"github.com/vimconvert/vimconvert/convert"
	mo "github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
)

// CheckFile is verify.CheckFile for MambaOut, with the same options: it
// runs the ONNX model at onnxPath in ONNX Runtime and Forward on the
// checkpoint at ckptPath on the same input and compares the logits (max
// |Δ| within Tol and the same top-1), the features output when the model
// has it, and with PerLayer the output of every downsampling layer and
// stage (a model without those outputs is rebuilt with them from the
// checkpoint, in a temporary directory, at the model's layout and opset).
// opts.Input is called with a zero convert.Config: ImgSize 0 means that
// the model takes any H×W (it is fully convolutional; an input it makes up
// should be EvalPreprocess.InputSize square), and channels is InChans. A model that is not a MambaOut one, or was built
// from another configuration, is an error; one whose weights differ from
// the checkpoint's gets a warning. A failed comparison is a report with
// Pass false (see verify.FileReport.Failure), not an error.
func CheckFile(ckptPath, onnxPath string, opts verify.FileOptions) (*verify.FileReport, error) {
	res, err := verify.NewFileReport(ckptPath, onnxPath, &opts)
	if err != nil {
		return nil, err
	}
	mp, layout, err := readModel(ckptPath, onnxPath)
	if err != nil {
		return nil, err
	}
	prov, recorded, err := graph.ReadProvenance(onnxPath, mp)
	if err != nil {
		return nil, err
	}
	if opts.Weights == "" {
		opts.Weights = verify.RecordedWeights(prov, recorded)
	}
	res.Weights = opts.Weights
	m, info, err := loadCheckpoint(ckptPath, onnxPath, mp, opts.Weights)
	if err != nil {
		return nil, err
	}
	if recorded {
		res.Provenance = &prov
	}
	warn := func(w string) {
		if w != "" {
			res.Warnings = append(res.Warnings, w)
			fmt.Fprintf(opts.Log, "warning: %s\n", w)
		}
	}
	warn(verify.SourceWarning(onnxPath, ckptPath, prov, recorded, info))
	warn(weightsWarning(mp, m, opts.Weights))
	x, shape, desc, err := opts.Input(convert.Config{}, m.Config.InChans)
	if err != nil {
		return nil, err
	}
	res.Input, res.InputShape = desc, shape[:]
	run, err := verify.RunModel(onnxPath, nchw(x, shape), opts.Runtime)
	if err != nil {
		return nil, err
	}
	got := run.Outputs
	res.SessionMS, res.RunMS, res.ORTVersion = ms(run.Session), ms(run.Run), runtime.Version()
	start := time.Now()
	ref, err := Forward(m, x, shape, Options{Precision: opts.Precision, Intermediates: opts.PerLayer})
	if err != nil {
		return nil, fmt.Errorf("reference forward: %w", err)
	}
	res.ReferenceMS = ms(time.Since(start))
	if !res.AddOutput(got, graph.LogitsName, ref.Logits, true) {
		return nil, fmt.Errorf("%s has no output %q (outputs: %v)", onnxPath, graph.LogitsName, run.OutputNames)
	}
	res.AddOutput(got, graph.FeaturesName, ref.Features, false)
	if opts.Expected != nil {
		if err := res.CompareExpected(opts.Expected, got, ref.Logits, ref.Features, shape[:]); err != nil {
			return nil, err
		}
	}
	if opts.PerLayer {
		if err := compareStages(res, got, ref, m, mp, layout, x, shape, opts); err != nil {
			return nil, err
		}
	}
	res.Pass = len(res.Failures) == 0
	return res, nil
}

// readModel reads the model at onnxPath and checks that it is a MambaOut
// one; it returns the model and its layout.
func readModel(ckptPath, onnxPath string) (*onnxpb.ModelProto, string, error) {
	mp, err := onnxfile.ReadFile(onnxPath)
	if err != nil {
		return nil, "", err
	}
	arch, _, layout, err := graph.BuiltArchitecture(mp)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", onnxPath, err)
	}
	if arch != mo.Architecture {
		if arch == "" {
			arch = "vim, or not exported by vimconvert"
		}
		return nil, "", fmt.Errorf("%s is not a MambaOut model (architecture: %s) but %s is a MambaOut checkpoint: convert it with 'vimconvert convert %s -o OUT.onnx'", onnxPath, arch, ckptPath, ckptPath)
	}
	return mp, layout, nil
}

// loadCheckpoint loads the weight set weights of the checkpoint and checks
// that the model mp was built from its configuration.
func loadCheckpoint(ckptPath, onnxPath string, mp *onnxpb.ModelProto, weights convert.Weights) (*mo.Model, *convert.Info, error) {
	_, built, _, err := graph.BuiltArchitecture(mp)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", onnxPath, err)
	}
	m, info, err := mo.Load(ckptPath, mo.Options{Weights: weights})
	if err != nil {
		return nil, nil, fmt.Errorf("load checkpoint: %w", err)
	}
	if !reflect.DeepEqual(*built, m.Config) {
		return nil, nil, fmt.Errorf("%s was not converted from %s: the model has dims %v depths %v, %d classes; the checkpoint dims %v depths %v, %d classes",
			onnxPath, ckptPath, built.Dims, built.Depths, built.NumClasses, m.Config.Dims, m.Config.Depths, m.Config.NumClasses)
	}
	return m, info, nil
}

// weightsWarning returns a warning when an initializer named like a
// checkpoint tensor (the output norm, the head) differs from it, else "".
func weightsWarning(mp *onnxpb.ModelProto, m *mo.Model, weights convert.Weights) string {
	name, maxAbs, differs := verify.FirstDifferingInitializer(mp, m.NormW, m.HeadFC2B, m.HeadNormW)
	if !differs {
		return ""
	}
	return fmt.Sprintf("initializer %s of the model differs from the checkpoint's %q weights (max |Δ| %.3g): was it converted from another checkpoint or weight set?", name, weights, maxAbs)
}

// nchw is the float32 batch x of the given shape [B, C, H, W] as a model
// input.
func nchw(x []float32, shape [4]int) *runtime.Tensor {
	return &runtime.Tensor{Shape: []int64{int64(shape[0]), int64(shape[1]), int64(shape[2]), int64(shape[3])}, Data: x}
}

// stageKeys lists the per-stage outputs in the order the network computes
// them: downsample_layers.i, then stages.i.
func stageKeys(stages int) []string {
	var keys []string
	for i := range stages {
		keys = append(keys, KeyDownsample(i), KeyStage(i))
	}
	return keys
}

// compareStages compares every per-stage output (from the model, or from
// a per-stage copy built from the checkpoint at the model's layout) and
// records where the divergence starts.
func compareStages(res *verify.FileReport, got map[string]*runtime.Tensor, ref *Result, m *mo.Model, mp *onnxpb.ModelProto, layout string, x []float32, shape [4]int, opts verify.FileOptions) error {
	keys := stageKeys(m.Config.NumStages())
	stages := got
	if _, ok := got[keys[0]]; !ok {
		var err error
		if stages, err = runStageCopy(res, got, m, mp, layout, x, shape, opts); err != nil {
			return err
		}
	}
	for _, key := range keys {
		r, ok := verify.CompareOutput(stages, key, ref.Intermediates[key])
		if !ok {
			continue
		}
		res.Layers = append(res.Layers, verify.Named{Name: key, Report: r})
		if res.FirstDivergence == "" && (r.Mismatch != "" || !r.Pass(res.Tol)) {
			res.FirstDivergence = key
		}
	}
	return nil
}

// runStageCopy builds the checkpoint's model with per-stage outputs at the
// given layout and opset of mp, runs it on x and warns when its logits
// differ from the model's (got).
func runStageCopy(res *verify.FileReport, got map[string]*runtime.Tensor, m *mo.Model, mp *onnxpb.ModelProto, layout string, x []float32, shape [4]int, opts verify.FileOptions) (map[string]*runtime.Tensor, error) {
	opset := 0
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == "" {
			opset = int(o.GetVersion())
		}
	}
	cp, err := graph.BuildMambaOut(m, graph.MambaOutOptions{Opset: opset, Layout: layout, PerStage: true})
	if err != nil {
		return nil, fmt.Errorf("per-stage copy: %w", err)
	}
	fmt.Fprintf(opts.Log, "%s has no per-stage outputs: built a per-stage copy from %s\n", res.Model, res.Checkpoint)
	run, err := verify.RunCopy(cp, "per_stage.onnx", nchw(x, shape), opts.Runtime)
	if err != nil {
		return nil, fmt.Errorf("per-stage copy: %w", err)
	}
	out := run.Outputs
	if a, b := got[graph.LogitsName], out[graph.LogitsName]; a != nil && b != nil {
		if r := verify.Compare(a.Data, b.Data, nil); !r.Pass(res.Tol) {
			w := fmt.Sprintf("the per-stage copy's logits differ from %s's by %.3g: the per-stage table describes the checkpoint's rebuilt graph", res.Model, r.MaxAbs)
			res.Warnings = append(res.Warnings, w)
			fmt.Fprintf(opts.Log, "warning: %s\n", w)
		}
	}
	return out, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// PredictFile loads the MambaOut checkpoint at ckptPath (weight set
// weights) and runs Forward on x, a float32 NCHW batch of the given shape
// (any H and W): it returns the logits [B, NumClasses], or with features
// the head input [B, Dims[-1]], rounded to float32, and their shape.
func PredictFile(ckptPath string, weights convert.Weights, x []float32, shape []int, opts Options, features bool) ([]float32, []int, error) {
	if len(shape) != 4 {
		return nil, nil, fmt.Errorf("input shape %v: want [B, C, H, W]", shape)
	}
	m, _, err := mo.Load(ckptPath, mo.Options{Weights: weights})
	if err != nil {
		return nil, nil, err
	}
	res, err := Forward(m, x, [4]int{shape[0], shape[1], shape[2], shape[3]}, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("input %v: %w", shape, err)
	}
	t := res.Logits
	if features {
		t = res.Features
	}
	return t.Float32(), t.Shape, nil
}
