package graph_test

import (
	"encoding/json"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/fixturetest"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
	moref "github.com/vimconvert/vimconvert/verify/mambaout"
)

// mambaOutTol is MambaOut's fp32 tolerance against the official outputs:
// the tanh GELU approximation is 3.8e-5 off in the logits, so the Vim
// tolerance (1e-4) would not catch it (fixtures/mambaout/README.md).
const mambaOutTol = 1e-5

// buildMambaOutFile builds m and writes it to a temp file.
func buildMambaOutFile(t *testing.T, m *mambaout.Model, opts graph.MambaOutOptions) string {
	t.Helper()
	mp, err := graph.BuildMambaOut(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range mp.GetGraph().GetNode() {
		if n.GetDomain() != "" {
			t.Fatalf("node %s has domain %q; MambaOut must use standard ONNX ops only", n.GetName(), n.GetDomain())
		}
	}
	return writeModel(t, mp, "mambaout_"+opts.Layout+".onnx")
}

// stageTol is the tolerance of a per-stage intermediate: mambaOutTol
// relative to the tensor's scale. The official fp32 intermediates are
// themselves up to 9.3e-6 off their exact (float64) values at a scale of
// about 5 (downsample_layers.3 of mambaout_femto_d1121), so an absolute
// 1e-5 would sit on the reference data's own rounding noise.
func stageTol(want []float32) float64 {
	s := 1.0
	for _, v := range want {
		s = max(s, math.Abs(float64(v)))
	}
	return mambaOutTol * s
}

// compareOutput compares an ORT output with the expected values and fails
// above tol (and, with top1, when a top-1 class differs).
func compareOutput(t *testing.T, label string, got *runtime.Tensor, want []float32, shape []int, top1 bool, tol float64) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: output missing", label)
	}
	if len(got.Shape) != len(shape) {
		t.Fatalf("%s: shape %v, want %v", label, got.Shape, shape)
	}
	for i := range shape {
		if got.Shape[i] != int64(shape[i]) {
			t.Fatalf("%s: shape %v, want %v", label, got.Shape, shape)
		}
	}
	rep := verify.Compare(want, got.Data, shape)
	t.Logf("%s: max|d| %.3g", label, rep.MaxAbs)
	if !rep.Pass(tol) || (top1 && !rep.Top1OK()) {
		t.Errorf("%s: %s", label, rep)
	}
}

// TestMambaOutParityORT converts every MambaOut fixture in every layout
// and runs it in ONNX Runtime (no plugin): logits within 1e-5 of the
// official ones with identical top-1, features, and on the fixture that
// has them every per-stage intermediate (within stageTol).
func TestMambaOutParityORT(t *testing.T) {
	for _, name := range []string{"mambaout_femto_d1121", "mambaout_femto"} {
		f := fixturetest.LoadMambaOut(t, name)
		for _, layout := range graph.MambaOutLayouts {
			t.Run(name+"/"+layout, func(t *testing.T) {
				path := buildMambaOutFile(t, f.Model, graph.MambaOutOptions{Layout: layout, Features: true, PerStage: true})
				s := ortSessionNoPlugin(t, path)
				out := runInput(t, s, f.X)
				compareOutput(t, "logits", out[graph.LogitsName], f.Exp["logits"].Data, f.Exp["logits"].Shape, true, mambaOutTol)
				compareOutput(t, "features", out[graph.FeaturesName], f.Exp["features"].Data, f.Exp["features"].Shape, false, mambaOutTol)
				for i := 0; i < f.Model.Config.NumStages(); i++ {
					for _, key := range []string{moref.KeyDownsample(i), moref.KeyStage(i)} {
						if e := f.Exp[key]; e != nil {
							compareOutput(t, key, out[key], e.Data, e.Shape, false, stageTol(e.Data))
						}
					}
				}
			})
		}
	}
}

// TestMambaOutOtherSizes runs the model at sizes other than 224 (square,
// non-square, odd) and checks it against the Go reference on the same
// input: the input height and width are dynamic.
func TestMambaOutOtherSizes(t *testing.T) {
	f := fixturetest.LoadMambaOut(t, "mambaout_femto_d1121")
	path := buildMambaOutFile(t, f.Model, graph.MambaOutOptions{})
	s := ortSessionNoPlugin(t, path)
	rng := rand.New(rand.NewSource(17))
	for _, size := range [][2]int{{160, 160}, {192, 256}, {97, 131}} {
		shape := [4]int{1, 3, size[0], size[1]}
		x := make([]float32, 3*size[0]*size[1])
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: {Shape: []int64{1, 3, int64(size[0]), int64(size[1])}, Data: x}})
		if err != nil {
			t.Fatalf("%v: %v", size, err)
		}
		ref, err := moref.Forward(f.Model, x, shape, moref.Options{})
		if err != nil {
			t.Fatal(err)
		}
		compareOutput(t, "logits at "+strings.Trim(strings.ReplaceAll(fmtInts(size[:]), " ", "x"), "[]"),
			out[graph.LogitsName], ref.Logits.Float32(), ref.Logits.Shape, true, mambaOutTol)
	}
}

func fmtInts(v []int) string {
	b, _ := json.Marshal(v)
	return strings.ReplaceAll(string(b), ",", " ")
}

// TestMambaOutModelProto checks the exported model's interface and
// metadata: symbolic batch/height/width, architecture, config, layout,
// preprocessing recipe and variant, and that onnx.checker accepts it.
func TestMambaOutModelProto(t *testing.T) {
	f := fixturetest.LoadMambaOut(t, "mambaout_femto")
	mp, err := graph.BuildMambaOut(f.Model, graph.MambaOutOptions{Features: true})
	if err != nil {
		t.Fatal(err)
	}
	in := mp.GetGraph().GetInput()
	if len(in) != 1 || in[0].GetName() != graph.InputName {
		t.Fatalf("inputs %v, want one %s", in, graph.InputName)
	}
	var dims []string
	for _, d := range in[0].GetType().GetTensorType().GetShape().GetDim() {
		if d.GetDimParam() != "" {
			dims = append(dims, d.GetDimParam())
		} else {
			dims = append(dims, fmtInts([]int{int(d.GetDimValue())}))
		}
	}
	if got := strings.Join(dims, ","); got != "batch,[3],height,width" {
		t.Errorf("input dims %s, want batch,[3],height,width", got)
	}
	meta := map[string]string{}
	for _, p := range mp.GetMetadataProps() {
		meta[p.GetKey()] = p.GetValue()
	}
	if meta[graph.MetaArchitecture] != mambaout.Architecture {
		t.Errorf("architecture %q, want %q", meta[graph.MetaArchitecture], mambaout.Architecture)
	}
	if meta[graph.MetaVariant] != "mambaout_femto" {
		t.Errorf("variant %q, want mambaout_femto", meta[graph.MetaVariant])
	}
	if meta[graph.MetaLayout] != graph.MambaOutLayouts[0] {
		t.Errorf("layout %q, want the default %q", meta[graph.MetaLayout], graph.MambaOutLayouts[0])
	}
	var pre mambaout.Preprocess
	if err := json.Unmarshal([]byte(meta[graph.MetaPreprocess]), &pre); err != nil {
		t.Fatalf("preprocess metadata %q: %v", meta[graph.MetaPreprocess], err)
	}
	if pre != mambaout.EvalPreprocess || pre.CropPct != 1.0 || pre.Interpolation != "bicubic" || pre.InputSize != 224 {
		t.Errorf("preprocess %+v, want %+v (crop_pct 1.0, bicubic, 224)", pre, mambaout.EvalPreprocess)
	}
	var cfg mambaout.Config
	if err := json.Unmarshal([]byte(meta[graph.MetaConfig]), &cfg); err != nil {
		t.Fatal(err)
	}
	if fmtInts(cfg.Dims) != "[48 96 192 288]" || fmtInts(cfg.Depths) != "[3 3 9 3]" || cfg.NumClasses != 1000 || cfg.NormEps != 1e-6 {
		t.Errorf("config metadata %+v", cfg)
	}
	inits := map[string]bool{}
	for _, in := range mp.GetGraph().GetInitializer() {
		inits[in.GetName()] = true
	}
	want := mambaout.TensorNames(&f.Model.Config)
	if len(inits) != len(want) {
		t.Errorf("%d initializers, want the %d state-dict tensors", len(inits), len(want))
	}
	for _, k := range want {
		if !inits[k] {
			t.Errorf("initializer %s missing", k)
		}
	}
	small := fixturetest.LoadMambaOut(t, "mambaout_femto_d1121")
	var paths []string
	for _, layout := range graph.MambaOutLayouts {
		paths = append(paths, buildMambaOutFile(t, small.Model, graph.MambaOutOptions{Layout: layout, PerStage: true, Features: true}))
	}
	onnxChecker(t, paths...)
}

// TestMambaOutBuildErrors checks that bad options and inconsistent models
// are refused with an error naming the problem.
func TestMambaOutBuildErrors(t *testing.T) {
	f := fixturetest.LoadMambaOut(t, "mambaout_femto_d1121")
	broken := *f.Model
	broken.HeadFC2W = &convert.Tensor{Name: "head.fc2.weight", Shape: []int{10, 1152}, Data: make([]float32, 10*1152)}
	tests := []struct {
		reason string
		model  *mambaout.Model
		opts   graph.MambaOutOptions
		want   string
	}{
		{"unknown layout", f.Model, graph.MambaOutOptions{Layout: "nchwc"}, `unknown MambaOut layout "nchwc"`},
		{"opset without LayerNormalization", f.Model, graph.MambaOutOptions{Opset: 16}, "opset 16 not supported"},
		{"a tensor disagrees with the config", &broken, graph.MambaOutOptions{}, "head.fc2.weight has shape [10 1152], want [1000 1152]"},
		{"no model", nil, graph.MambaOutOptions{}, "nil MambaOut model"},
	}
	for _, tc := range tests {
		_, err := graph.BuildMambaOut(tc.model, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.reason, err, tc.want)
		}
	}
}

// TestMambaOutSyntheticORT runs the torch-made toy checkpoints (bundled, so
// this runs without the shared fixtures) in every layout, at opset 17 and
// the newest supported opset, and at 224 and a non-square size, against
// the Go reference on the same input.
func TestMambaOutSyntheticORT(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, file := range []string{"bare.pth", "fp16.pth"} {
		m, _, err := mambaout.Load(repo.Fixture("mambaout_synthetic", file), mambaout.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, layout := range graph.MambaOutLayouts {
			for _, opset := range []int{graph.DefaultOpset, graph.MaxOpset} {
				path := buildMambaOutFile(t, m, graph.MambaOutOptions{Layout: layout, Opset: opset})
				s := ortSessionNoPlugin(t, path)
				for _, size := range [][2]int{{224, 224}, {64, 48}} {
					x := make([]float32, 2*3*size[0]*size[1])
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: {Shape: []int64{2, 3, int64(size[0]), int64(size[1])}, Data: x}})
					if err != nil {
						t.Fatal(err)
					}
					ref, err := moref.Forward(m, x, [4]int{2, 3, size[0], size[1]}, moref.Options{})
					if err != nil {
						t.Fatal(err)
					}
					label := strings.Join([]string{file, layout, "opset", fmtInts([]int{opset, size[0], size[1]})}, " ")
					compareOutput(t, label, out[graph.LogitsName], ref.Logits.Float32(), ref.Logits.Shape, true, mambaOutTol)
				}
			}
		}
	}
}
