package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/triton/third_party/tritonpb"
	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime/bench"
)

// argmaxRows returns the argmax of each row of a [rows, n] matrix.
func argmaxRows(v []float32, n int) []int {
	var out []int
	for r := 0; r+n <= len(v); r += n {
		best := r
		for i := r; i < r+n; i++ {
			if v[i] > v[best] {
				best = i
			}
		}
		out = append(out, best-r)
	}
	return out
}

// verifyJSON runs verify --json and decodes the report.
func verifyJSON(t *testing.T, args ...string) (code int, rep map[string]any, stderr string) {
	t.Helper()
	code, out, stderr := runCLI(t, append([]string{"verify", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --json output is not JSON (exit %d): %v\n%s\n%s", code, err, out, stderr)
	}
	return code, rep, stderr
}

// TestMambaOutFixturesCLI converts every official MambaOut fixture, checks
// it with verify (per stage) and checks predict --model and --checkpoint
// against the official logits (1e-5, same top-1).
func TestMambaOutFixturesCLI(t *testing.T) {
	needORT(t)
	root := repo.SharedFixture("mambaout")
	if root == "" {
		t.Skip("../shared/fixtures/mambaout is absent (golden data of the official MambaOut code)")
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "*", "checkpoint.pth"))
	if len(dirs) == 0 {
		t.Fatalf("no */checkpoint.pth under %s", root)
	}
	for _, ckpt := range dirs {
		dir := filepath.Dir(ckpt)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tmp := t.TempDir()
			model := filepath.Join(tmp, "m.onnx")
			if code, _, e := runCLI(t, ckpt, "-o", model); code != 0 {
				t.Fatalf("convert: exit %d: %s", code, e)
			}
			input := filepath.Join(dir, "input.pth")
			code, rep, e := verifyJSON(t, ckpt, model, "--input", input, "--tol", "1e-5", "--per-layer")
			if code != 0 || rep["pass"] != true {
				t.Fatalf("verify: exit %d, pass %v: %s", code, rep["pass"], e)
			}
			if layers, _ := rep["layers"].([]any); len(layers) != 8 {
				t.Errorf("verify --per-layer compared %d stage tensors, want 8 (4 downsamplings, 4 stages)", len(layers))
			}
			exp, err := convert.ReadTensorFile(filepath.Join(dir, "expected.pth"))
			if err != nil {
				t.Fatal(err)
			}
			in, err := convert.ReadTensorFile(input)
			if err != nil {
				t.Fatal(err)
			}
			x := filepath.Join(tmp, "x.npy")
			if err := npy.WriteFileFloat32(x, in["x"].Shape, in["x"].Data); err != nil {
				t.Fatal(err)
			}
			want := exp["logits"]
			for _, src := range [][]string{{"--model", model}, {"--checkpoint", ckpt}} {
				y := filepath.Join(tmp, "y"+src[0]+".npy")
				if code, _, e := runCLI(t, "predict", src[0], src[1], "--input", x, "--output", y); code != 0 {
					t.Fatalf("predict %s: exit %d: %s", src[0], code, e)
				}
				got, err := npy.ReadFile(y)
				if err != nil {
					t.Fatal(err)
				}
				n := want.Shape[1]
				if d := maxAbs(got.Float32(), want.Data); d > 1e-5 {
					t.Errorf("predict %s: max |Δ| %.3g from the official logits, want ≤ 1e-5", src[0], d)
				}
				if g, w := argmaxRows(got.Float32(), n), argmaxRows(want.Data, n); !slices.Equal(g, w) {
					t.Errorf("predict %s: top-1 %v, official %v", src[0], g, w)
				}
			}
		})
	}
}

// TestMambaOutLayoutsCLI runs inspect, convert, verify and predict on the
// bundled synthetic MambaOut checkpoints in every released layout, at a
// non-square input size (the exported H and W are dynamic).
func TestMambaOutLayoutsCLI(t *testing.T) {
	needORT(t)
	tmp := t.TempDir()
	x := filepath.Join(tmp, "x.npy")
	shape := []int{1, 3, 40, 72}
	data := make([]float32, 40*72*3)
	for i := range data {
		data[i] = float32((i*7919)%997)/500 - 1
	}
	if err := npy.WriteFileFloat32(x, shape, data); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		file, layout, dtype, prefix string
	}{
		{"bare.pth", "bare", "float32", ""},
		{"training.pth", "training", "float32", ""},
		{"fp16.pth", "bare", "float16", ""},
		{"module_prefix.pth", "training", "float32", "module."},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			ckpt := repo.Fixture("mambaout_synthetic", tc.file)
			obj := inspectJSON(t, ckpt)
			for k, v := range map[string]any{"architecture": "mambaout", "layout": tc.layout, "dtype": tc.dtype, "stripped_prefix": tc.prefix, "num_classes": 5.0} {
				if obj[k] != v {
					t.Errorf("inspect --json %s = %v, want %v", k, obj[k], v)
				}
			}
			model := filepath.Join(tmp, tc.file+".onnx")
			extra := "--features"
			if tc.file == "bare.pth" {
				extra = "--per-layer" // the model's own per-stage outputs, no rebuilt copy
			}
			if code, _, e := runCLI(t, "convert", ckpt, "-o", model, extra); code != 0 {
				t.Fatalf("convert: exit %d: %s", code, e)
			}
			code, rep, e := verifyJSON(t, ckpt, model, "--input", x, "--per-layer", "--tol", "1e-5")
			if code != 0 || rep["pass"] != true {
				t.Fatalf("verify at 40×72: exit %d: %s", code, e)
			}
			if outs, _ := rep["outputs"].([]any); extra == "--features" && len(outs) != 2 {
				t.Errorf("verify compared %d outputs, want logits and features", len(outs))
			}
			if layers, _ := rep["layers"].([]any); len(layers) != 8 {
				t.Errorf("verify --per-layer compared %d stage tensors, want 8", len(layers))
			}
			if strings.Contains(e, "per-stage copy") != (extra != "--per-layer") {
				t.Errorf("convert %s: verify built a per-stage copy = %v, want it only without --per-layer: %s", extra, strings.Contains(e, "per-stage copy"), e)
			}
			y := filepath.Join(tmp, tc.file+".npy")
			if code, _, e := runCLI(t, "predict", "--model", model, "--input", x, "--output", y); code != 0 {
				t.Fatalf("predict --model at 40×72: exit %d: %s", code, e)
			}
			if a, err := npy.ReadFile(y); err != nil || len(a.Shape) != 2 || a.Shape[1] != 5 {
				t.Errorf("predict --model wrote %v (%v), want [1 5] logits", a, err)
			}
		})
	}
}

// TestMambaOutVerifyExpected checks that verify --expected holds a MambaOut
// model and its reference to the given outputs (it used to ignore them and
// PASS): the reference's own logits pass, the same logits moved by 1e-3 in
// one element fail for both sides.
func TestMambaOutVerifyExpected(t *testing.T) {
	needORT(t)
	tmp := t.TempDir()
	ckpt := repo.Fixture("mambaout_synthetic", "bare.pth")
	model := filepath.Join(tmp, "mo.onnx")
	if code, _, e := runCLI(t, ckpt, "-o", model); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, e)
	}
	x := filepath.Join(tmp, "x.npy")
	data := make([]float32, 2*3*48*64)
	for i := range data {
		data[i] = float32((i*7919)%997)/500 - 1
	}
	if err := npy.WriteFileFloat32(x, []int{2, 3, 48, 64}, data); err != nil {
		t.Fatal(err)
	}
	y := filepath.Join(tmp, "y.npy")
	if code, _, e := runCLI(t, "predict", "--checkpoint", ckpt, "--input", x, "--output", y, "--precision", "float64"); code != 0 {
		t.Fatalf("predict --checkpoint: exit %d: %s", code, e)
	}
	code, rep, e := verifyJSON(t, ckpt, model, "--input", x, "--expected", y, "--tol", "1e-5")
	if outs, _ := rep["expected_outputs"].([]any); code != 0 || rep["pass"] != true || len(outs) != 2 {
		t.Fatalf("verify --expected (the float64 reference's logits): exit %d, pass %v, %d expected comparisons (want 2): %s", code, rep["pass"], len(outs), e)
	}
	a, err := npy.ReadFile(y)
	if err != nil {
		t.Fatal(err)
	}
	off := a.Float32()
	off[3] += 1e-3
	bad := filepath.Join(tmp, "bad.npy")
	if err := npy.WriteFileFloat32(bad, a.Shape, off); err != nil {
		t.Fatal(err)
	}
	code, rep, e = verifyJSON(t, ckpt, model, "--input", x, "--expected", bad, "--tol", "1e-5")
	if code == 0 || rep["pass"] != false || !strings.Contains(e, "onnx logits vs expected "+bad) || !strings.Contains(e, "reference logits vs expected") {
		t.Errorf("verify --expected with one logit off by 1e-3: exit %d, pass %v: %s; want FAIL for onnx and reference", code, rep["pass"], e)
	}
}

// TestMambaOutVerifyRecordedWeights checks that verify compares a model
// converted from the EMA weights with those weights when --weights is not
// given (the weight set the model records, as for Vim; it used to load the
// "model" set and FAIL), names them, and warns when told another set.
func TestMambaOutVerifyRecordedWeights(t *testing.T) {
	needORT(t)
	ckpt := repo.Fixture("mambaout_synthetic", "training_ema.pth")
	model := filepath.Join(t.TempDir(), "mo.onnx")
	if code, _, e := runCLI(t, ckpt, "-o", model, "--weights", "model_ema"); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, e)
	}
	code, rep, e := verifyJSON(t, ckpt, model)
	if code != 0 || rep["pass"] != true || rep["weights"] != "model_ema" || rep["provenance"] == nil {
		t.Errorf("verify without --weights: exit %d, pass %v, weights %v, provenance %v: %s; want PASS with model_ema and the recorded provenance", code, rep["pass"], rep["weights"], rep["provenance"], e)
	}
	code, _, e = runCLI(t, "verify", ckpt, model, "--weights", "model")
	if code == 0 || !strings.Contains(e, "converted from the model_ema weights of this checkpoint, not model") {
		t.Errorf("verify --weights model of a model_ema model: exit %d: %s; want a FAIL with the weight-set warning", code, e)
	}
}

// TestMambaOutEvalArgs checks that the evaluation size and crop fraction a
// timm training checkpoint's args record (input_size [3, 64, 64] over
// img_size 48, crop_pct 0.9) are what inspect reports, the converted model
// records and classify feeds, from the checkpoint and from the model alike,
// each listed under "assumed" (they used to be replaced silently by the
// released models' 224 and 1.0).
func TestMambaOutEvalArgs(t *testing.T) {
	ckpt, model := evalArgsModel(t)
	for _, src := range []string{ckpt, model} {
		obj := inspectJSON(t, src)
		pre, _ := obj["preprocess"].(map[string]any)
		assumed := fmt.Sprint(obj["assumed"])
		if pre["input_size"] != 64.0 || pre["crop_pct"] != 0.9 || !strings.Contains(assumed, "evaluation size 64 from the training checkpoint's args") || !strings.Contains(assumed, "crop_pct 0.9 from") {
			t.Errorf("inspect %s: preprocess %v, assumed %s; want input_size 64, crop_pct 0.9, both listed", src, pre, assumed)
		}
	}
	photo := repo.Path("runtime", "preprocess", "testdata", "images", "photo_chelsea.png")
	x := filepath.Join(t.TempDir(), "x.npy")
	if code, _, e := runCLI(t, "preprocess", photo, "-o", x, "--img-size", "64", "--crop-pct", "0.9"); code != 0 {
		t.Fatalf("preprocess: exit %d: %s", code, e)
	}
	y := filepath.Join(t.TempDir(), "y.npy")
	if code, _, e := runCLI(t, "predict", "--checkpoint", ckpt, "--input", x, "--output", y); code != 0 {
		t.Fatalf("predict: exit %d: %s", code, e)
	}
	a, err := npy.ReadFile(y)
	if err != nil {
		t.Fatal(err)
	}
	logits := a.Float32()
	want := argmaxRows(logits, 5)[0]
	sum := 0.0
	for _, v := range logits {
		sum += math.Exp(float64(v - logits[want]))
	}
	for _, src := range []string{ckpt, model} {
		code, out, e := runCLI(t, "classify", src, photo, "--json", "--top", "1")
		var rep struct {
			Top []struct {
				Index int
				Prob  float64
			} `json:"top"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Top) != 1 || rep.Top[0].Index != want || math.Abs(rep.Top[0].Prob-1/sum) > 1e-5 {
			t.Errorf("classify %s: exit %d, %s%s; want top-1 %d with p %.6f (the 64×64 crop at 0.9)", src, code, out, e, want, 1/sum)
		}
	}
}

// TestArchitectureInInspect checks that inspect --json always names the
// architecture, Vim included.
func TestArchitectureInInspect(t *testing.T) {
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	obj := inspectJSON(t, ckpt)
	if obj["architecture"] != "vim" {
		t.Errorf("inspect --json architecture = %v, want vim", obj["architecture"])
	}
}

// TestInspectMambaOutModel converts the EMA set of a timm training
// checkpoint and inspects the model: it reports the source checkpoint's
// provenance and the evaluation preprocessing, like the checkpoint's own
// report.
func TestInspectMambaOutModel(t *testing.T) {
	ckpt := repo.Fixture("mambaout_synthetic", "training_ema.pth")
	model := filepath.Join(t.TempDir(), "mo.onnx")
	if code, _, e := runCLI(t, ckpt, "-o", model, "--weights", "model_ema"); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, e)
	}
	fromCkpt := inspectJSON(t, ckpt)
	obj := inspectJSON(t, model)
	pre, _ := obj["preprocess"].(map[string]any)
	if obj["architecture"] != "mambaout" || obj["weights"] != "model_ema" || obj["format"] != "onnx" || obj["layout"] != "training" ||
		obj["sha256"] != fromCkpt["sha256"] || fromCkpt["sha256"] == "" || pre["crop_pct"] != 1.0 || pre["interpolation"] != "bicubic" {
		t.Errorf("inspect --json of the model: %v; want mambaout, model_ema, onnx, training, the checkpoint's sha256 %v, crop_pct 1, bicubic", obj, fromCkpt["sha256"])
	}
	if src, _ := obj["source"].(string); !strings.Contains(src, "training_ema.pth") {
		t.Errorf("source %q does not name the checkpoint", src)
	}
	code, out, e := runCLI(t, "inspect", model)
	if code != 0 || !strings.Contains(out, "source        training_ema.pth") || !strings.Contains(out, "crop_pct 1, bicubic") {
		t.Errorf("inspect %s: exit %d, %s%s; want the source and the preprocessing", model, code, out, e)
	}
}

// TestMambaOutCLIErrors checks the refusals around MambaOut checkpoints.
func TestMambaOutCLIErrors(t *testing.T) {
	tmp := t.TempDir()
	mo := repo.Fixture("mambaout_synthetic", "bare.pth")
	vim := repo.Fixture("vim_t_d2", "checkpoint.pth")
	truncated := func(src string) string {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(tmp, "trunc_"+filepath.Base(filepath.Dir(src))+".pth")
		if err := os.WriteFile(p, b[:len(b)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	moModel := filepath.Join(tmp, "mo.onnx")
	if code, _, e := runCLI(t, mo, "-o", moModel); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, e)
	}
	_, vimModel := tinyONNX(t)
	cases := []struct {
		args []string
		code int
		in   []string
		why  string
	}{
		{[]string{"inspect", repo.Fixture("vim_t_d2", "expected.pth")}, 1,
			[]string{"neither a Vim nor a MambaOut", "not vim: missing", "not mambaout: missing downsample_layers.0.conv1.weight"},
			"a state dict of neither architecture lists what each lacks"},
		{[]string{"convert", repo.Fixture("vim_t_d2", "expected.pth"), "-o", filepath.Join(tmp, "n.onnx")}, 1,
			[]string{"neither a Vim nor a MambaOut"}, "convert refuses it the same way"},
		{[]string{"inspect", truncated(mo)}, 1, []string{"not a PyTorch checkpoint"}, "a truncated MambaOut checkpoint"},
		{[]string{"inspect", truncated(vim)}, 1, []string{"not a PyTorch checkpoint"}, "gets the error a truncated Vim one gets"},
		{[]string{"convert", mo, "-o", filepath.Join(tmp, "x.onnx"), "--img-size", "448"}, 2,
			[]string{"--img-size does not apply to a MambaOut checkpoint"}, "Vim-only flags are refused, not ignored"},
		{[]string{"convert", mo, "-o", filepath.Join(tmp, "x.onnx"), "--scan", "standard"}, 2,
			[]string{"--scan does not apply"}, "MambaOut has no scan to lower"},
		{[]string{"verify", mo, vimModel}, 1,
			[]string{"is not a MambaOut model"}, "a MambaOut checkpoint against a non-MambaOut model file"},
		{[]string{"convert", mo, "-o", filepath.Join(tmp, "x.onnx"), "--dtype", "float16"}, 2,
			[]string{"--dtype does not apply to a MambaOut checkpoint"}, "--dtype was ignored (a float32 model written)"},
		{[]string{"convert", mo, "-o", filepath.Join(tmp, "x.onnx"), "--input-format", "uint8-nhwc"}, 2,
			[]string{"--input-format does not apply"}, "--input-format was ignored (a float32 input)"},
		{[]string{"convert", mo, "-o", filepath.Join(tmp, "x.onnx"), "--crop-pct", "0.9"}, 2,
			[]string{"--crop-pct does not apply"}, "--crop-pct was ignored (crop_pct 1 recorded)"},
		{[]string{"convert", mo, "-o", filepath.Join(tmp, "x.onnx"), "--labels", repo.Path("runtime", "preprocess", "imagenet1k.txt")}, 2,
			[]string{"--labels does not apply"}, "--labels was ignored (no class names recorded)"},
		{[]string{"convert", mo, "-o", filepath.Join(tmp, "x.onnx"), "--out-indices", "1"}, 2,
			[]string{"--out-indices does not apply"}, "--out-indices was ignored (no feature maps)"},
		{[]string{"convert", mo, "-o", filepath.Join(tmp, "x.onnx"), "--max-batch", "4"}, 1,
			[]string{"apply only with --triton-repo"}, "Triton options without --triton-repo, as for Vim"},
		{[]string{"verify", vim, moModel}, 1,
			[]string{"is a mambaout model", "not a Vim one"}, "a Vim checkpoint against a MambaOut model"},
		{[]string{"verify", repo.Fixture("mambaout_synthetic", "training.pth"), moModel, "--input", repo.Fixture("vim_t_d2", "expected.pth")}, 1,
			[]string{"no tensor 'x'"}, "an --input without x is named"},
		{[]string{"convert", repo.Fixture("mambaout_synthetic", "training.pth"), "-o", filepath.Join(tmp, "x.onnx"), "--weights", "model_ema"}, 1,
			[]string{"--weights model_ema is not in this checkpoint", "no model_ema or state_dict_ema entry", "available: state_dict"},
			"an EMA set the checkpoint lacks is refused, naming what it holds"},
		{[]string{"inspect", moModel, "--weights", "model_ema"}, 2,
			[]string{"--weights applies to a checkpoint"}, "a converted MambaOut model fixes its weight set"},
	}
	for _, tc := range cases {
		code, _, e := runCLI(t, tc.args...)
		if code != tc.code {
			t.Errorf("%s: %v exit %d, want %d: %s", tc.why, tc.args, code, tc.code, e)
			continue
		}
		for _, s := range tc.in {
			if !strings.Contains(e, s) {
				t.Errorf("%s: stderr lacks %q:\n%s", tc.why, s, e)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "x.onnx")); err == nil {
		t.Error("a refused convert wrote its output")
	}
}

// TestMambaOutTritonRepo checks that convert --triton-repo writes a Triton
// entry for a MambaOut checkpoint (it used to be ignored silently): no
// plugin, H and W -1, the batch left to Triton, 1/model.onnx the converted
// model.
func TestMambaOutTritonRepo(t *testing.T) {
	tmp := t.TempDir()
	out, tr := filepath.Join(tmp, "mo.onnx"), filepath.Join(tmp, "repo")
	code, stdout, e := runCLI(t, "convert", repo.Fixture("mambaout_synthetic", "bare.pth"), "-o", out, "--triton-repo", tr, "--max-batch", "4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	cfg, err := os.ReadFile(filepath.Join(tr, "mo", "config.pbtxt"))
	if err != nil {
		t.Fatalf("no entry written: %v\n%s", err, stdout)
	}
	var c tritonpb.ModelConfig
	if err := prototext.Unmarshal(cfg, &c); err != nil {
		t.Fatalf("config.pbtxt: %v\n%s", err, cfg)
	}
	in, outs := c.GetInput(), c.GetOutput()
	if c.GetName() != "mo" || c.GetMaxBatchSize() != 4 || len(in) != 1 || !slices.Equal(in[0].GetDims(), []int64{3, -1, -1}) ||
		len(outs) != 1 || !slices.Equal(outs[0].GetDims(), []int64{5}) || c.GetModelOperations() != nil {
		t.Errorf("config.pbtxt: %v; want mo, max batch 4, input [3 -1 -1], logits [5], no plugin", &c)
	}
	a, _ := os.ReadFile(out)
	b, err := os.ReadFile(filepath.Join(tr, "mo", "1", "model.onnx"))
	if err != nil || len(a) == 0 || string(a) != string(b) {
		t.Errorf("1/model.onnx is not the converted model (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(tr, "mo", "libvimconvert_ops.so")); err == nil {
		t.Error("the plugin was copied for a MambaOut model")
	}
}

// TestBenchSideBySide times a Vim and a MambaOut model side by side at two
// sizes and checks the JSON report.
func TestBenchSideBySide(t *testing.T) {
	needORT(t)
	_, vim := tinyONNX(t)
	mo := repo.Fixture("mambaout_synthetic", "bare.pth")
	plot := filepath.Join(t.TempDir(), "side.svg")
	code, out, e := runCLI(t, "bench", vim, mo, "--json", "--runs", "2", "--warmup", "0", "--threads", "1", "--img-size", "16,32", "--plot", plot)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	if svg, err := os.ReadFile(plot); err != nil || !strings.Contains(string(svg), "bare (mambaout") || !strings.Contains(string(svg), "(vim, ") {
		t.Errorf("--plot: %v; want an SVG with a line for each model", err)
	}
	var rep bench.CompareReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not a CompareReport: %v\n%s", err, out)
	}
	if len(rep.Results) != 4 {
		t.Fatalf("%d results, want 4 (2 sizes × 2 models)", len(rep.Results))
	}
	for i, r := range rep.Results {
		wantArch, wantModel := "vim", vim
		if i%2 == 1 {
			wantArch, wantModel = "mambaout", mo
		}
		if r.Architecture != wantArch || r.Model != wantModel || r.ImgSize != []int{16, 32}[i/2] || r.Error != "" {
			t.Errorf("result %d: %s %s img %d error %q; want %s %s", i, r.Model, r.Architecture, r.ImgSize, r.Error, wantModel, wantArch)
		}
		if !(r.MedianMS > 0) || !(r.PeakRSSMB > 0) || r.Stats.Runs != 2 {
			t.Errorf("result %d: median %v ms, peak %v MB, %d runs; want both > 0 and 2 runs", i, r.MedianMS, r.PeakRSSMB, r.Stats.Runs)
		}
		first := rep.Results[i/2*2]
		if d := float64(r.OverFirstModel) - float64(r.MedianMS/first.MedianMS); d*d > 1e-18 {
			t.Errorf("result %d: ratio %v is not median/first median %v", i, r.OverFirstModel, r.MedianMS/first.MedianMS)
		}
	}
	if p := rep.Results[1].Params; p != 25819 {
		t.Errorf("MambaOut params %d, want the synthetic checkpoint's 25819", p)
	}
	if code, _, e := runCLI(t, "bench", vim, mo, "--variants", "plugin"); code != 2 || !strings.Contains(e, "--variants applies to one Vim model") {
		t.Errorf("--variants with several models: exit %d, %s; want a usage error", code, e)
	}
	if code, _, e := runCLI(t, "bench", vim, mo, "--plain", vim); code != 2 || !strings.Contains(e, "--plain applies to one Vim model") {
		t.Errorf("--plain with several models: exit %d, %s; want a usage error", code, e)
	}
	// A plot that cannot be written is refused before anything is timed.
	bad := filepath.Join(t.TempDir(), "no", "such", "dir", "p.svg")
	code, out, e = runCLI(t, "bench", vim, mo, "--runs", "1", "--warmup", "0", "--threads", "1", "--img-size", "16", "--plot", bad)
	if code == 0 || !strings.Contains(e, "--plot: output directory "+filepath.Dir(bad)) || out != "" {
		t.Errorf("--plot into a missing folder: exit %d, stdout %q, stderr %q; want it refused before the table, naming the folder", code, out, e)
	}
}

// evalArgsModel returns the MambaOut training checkpoint whose args record
// evaluation size 64 and crop_pct 0.9, and the model converted from it
// (into a temporary folder); it needs ONNX Runtime.
func evalArgsModel(t *testing.T) (ckpt, model string) {
	t.Helper()
	needORT(t)
	ckpt = repo.Fixture("mambaout_synthetic", "training_eval_args.pth")
	model = filepath.Join(t.TempDir(), "mo.onnx")
	if code, _, e := runCLI(t, ckpt, "-o", model); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, e)
	}
	return ckpt, model
}

// TestBenchEvalArgsSize checks that bench times a MambaOut training
// checkpoint whose args record evaluation size 64 (and the model converted
// from it) at 64 when no --img-size is given, saying so under "assumed"
// in the table and in the JSON (it timed them at the released models' 224
// silently), and that an explicit --img-size wins with no such note.
func TestBenchEvalArgsSize(t *testing.T) {
	ckpt, model := evalArgsModel(t)
	timed := []string{"--runs", "1", "--warmup", "0", "--threads", "1"}
	for _, src := range []string{ckpt, model} {
		code, out, e := runCLI(t, append([]string{"bench", src}, timed...)...)
		if code != 0 || !strings.Contains(out, "assumed: image size 64: the evaluation size") || !strings.Contains(e, "bench: assumed: image size 64") {
			t.Errorf("bench %s: exit %d, stdout %q, stderr %q; want an assumed line for size 64 in both", src, code, out, e)
		}
		for _, tc := range []struct {
			args     []string
			size     int
			wantNote bool
		}{{nil, 64, true}, {[]string{"--img-size", "32"}, 32, false}} {
			code, out, e := runCLI(t, append(append([]string{"bench", src, "--json"}, timed...), tc.args...)...)
			var rep bench.CompareReport
			if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Results) != 1 {
				t.Fatalf("bench %s --json %v: exit %d: %s%s", src, tc.args, code, out, e)
			}
			r := rep.Results[0]
			if r.ImgSize != tc.size || (r.ImgSizeNote != "") != tc.wantNote || tc.wantNote && !strings.Contains(r.ImgSizeNote, "training checkpoint's args") {
				t.Errorf("bench %s %v: img %d, note %q; want img %d, a note: %v", src, tc.args, r.ImgSize, r.ImgSizeNote, tc.size, tc.wantNote)
			}
		}
	}
}

// inspectJSON runs `vimconvert inspect --json` on ckpt and returns the
// decoded report; a failed run or undecodable output fails the test.
func inspectJSON(t *testing.T, ckpt string) map[string]any {
	t.Helper()
	code, out, e := runCLI(t, "inspect", "--json", ckpt)
	if code != 0 {
		t.Fatalf("inspect --json %s: exit %d: %s", ckpt, code, e)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatalf("inspect --json %s: output is not one JSON object: %v\n%s", ckpt, err, out)
	}
	return obj
}
