package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/internal/testutil"
	"github.com/vimconvert/vimconvert/verify"
)

// TestVerifyExpectedFixtures: on every Vim golden fixture, the converted
// model and the reference match the official logits (and, for vim_t_d2,
// the official EMA logits and features) through verify --expected.
func TestVerifyExpectedFixtures(t *testing.T) {
	needORT(t)
	type fixture struct {
		dir       string
		convert   []string
		verify    []string
		reason    string
		nameCheck string
		guess     bool // {'model': sd} without args: the cls placement is a guess
	}
	fixtures := []fixture{
		{repo.Fixture("vim_t_d2"), nil, nil, "training checkpoint: args.model settles the cls token", "logits", false},
		{repo.Fixture("vim_t_d2"), []string{"--weights", "model_ema"}, []string{"--weights", "model_ema", "--expected-key", "logits_model_ema"}, "the EMA weight set against the official EMA logits", "logits", false},
		{repo.Fixture("vim_t_d2"), []string{"--features"}, []string{"--expected-key", "features"}, "the features output against the official features", "features", false},
		{repo.Fixture("vim_t_stride8_d2"), nil, nil, "stride 8, 730 tokens", "logits", true},
	}
	if d := repo.SharedFixture("vim_t"); d != "" {
		fixtures = append(fixtures, fixture{d, nil, nil, "full depth-24 Vim-T", "logits", true})
	} else {
		t.Log("../shared/fixtures/vim_t absent: depth-24 fixture not checked")
	}
	for _, fx := range fixtures {
		model := filepath.Join(t.TempDir(), "m.onnx")
		ckpt := filepath.Join(fx.dir, "checkpoint.pth")
		code, _, stderr := runCLI(t, append([]string{"convert", ckpt, "-o", model}, fx.convert...)...)
		if code != 0 {
			t.Fatalf("%s: convert: exit %d\n%s", fx.reason, code, stderr)
		}
		if strings.Contains(stderr, "warning: cls token assumed") != fx.guess {
			t.Errorf("%s: convert stderr %q: a cls warning exactly when nothing records the placement", fx.reason, stderr)
		}
		args := append([]string{"verify", ckpt, model, "--json", "--input", filepath.Join(fx.dir, "input.pth"), "--expected", filepath.Join(fx.dir, "expected.pth")}, fx.verify...)
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Errorf("%s: verify --expected: exit %d\n%s", fx.reason, code, stderr)
			continue
		}
		var res verify.FileReport
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("%s: %v", fx.reason, err)
		}
		if !res.Pass || len(res.ExpectedOutputs) != 2 || (len(res.Assuming) != 0) != fx.guess || res.Provenance == nil || !res.Plugin {
			t.Errorf("%s: pass %v, expected comparisons %d, assuming %q, provenance %v, plugin %v", fx.reason, res.Pass, len(res.ExpectedOutputs), res.Assuming, res.Provenance, res.Plugin)
		}
		for _, o := range res.ExpectedOutputs {
			if !strings.HasSuffix(o.Name, fx.nameCheck) || o.Report.N == 0 || o.Report.MaxAbs > 1e-4 || o.Report.Mismatch != "" {
				t.Errorf("%s: %s: %s", fx.reason, o.Name, o.Report)
			}
			t.Logf("%s: %s vs official: max |Δ| %.3g", filepath.Base(fx.dir), o.Name, o.Report.MaxAbs)
		}
	}
}

// TestVerifyExpectedCatchesHeadCls: a checkpoint trained with the cls
// token at the head (use_middle_cls_token=False), converted without
// --cls-token head, is warned about at conversion; verify without
// --expected passes only "assuming" the guess, and verify --expected fails
// it. The Go reference run with the head placement stands in for the
// official outputs.
func TestVerifyExpectedCatchesHeadCls(t *testing.T) {
	needORT(t)
	ckpt := repo.Fixture("synthetic", "cls_head.pth") // made by torch: {'model': sd}, one cls_token
	dir := t.TempDir()
	m, _, err := convert.Load(ckpt, convert.Options{ClsToken: convert.ClsHead})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	shape := [4]int{2, c.InChans, c.ImgSize, c.ImgSize}
	rng := rand.New(rand.NewPCG(7, 7))
	x := make([]float32, shape[0]*shape[1]*shape[2]*shape[3])
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	official, err := verify.Forward(m, x, shape, verify.Options{Precision: verify.Float64})
	if err != nil {
		t.Fatal(err)
	}
	xPath, yPath := filepath.Join(dir, "x.npy"), filepath.Join(dir, "y.npy")
	if err := npy.WriteFileFloat32(xPath, shape[:], x); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFileFloat32(yPath, official.Logits.Shape, official.Logits.Float32()); err != nil {
		t.Fatal(err)
	}

	guessed := filepath.Join(dir, "guessed.onnx")
	code, _, stderr := runCLI(t, "convert", ckpt, "-o", guessed)
	if code != 0 || !strings.Contains(stderr, "warning: cls token assumed in the middle") || !strings.Contains(stderr, "--cls-token head") {
		t.Fatalf("convert without --cls-token: exit %d, stderr %q; want a warning naming the guess and --cls-token head", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "verify", ckpt, guessed, "--input", xPath)
	if code != 0 || !strings.Contains(stdout, "PASS against the Go reference (tol 0.0001), assuming:\n  - cls token assumed in the middle") || !strings.Contains(stderr, "warning: ") {
		t.Errorf("verify without --expected: exit %d\n%s%s\nwant a pass that names the guess it shares", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "verify", ckpt, guessed, "--input", xPath, "--expected", yPath)
	if code != 1 || !strings.Contains(stderr, "FAIL: ") || !strings.Contains(stderr, "onnx logits vs expected "+yPath) || !strings.Contains(stdout, "FAIL against the Go reference and "+yPath) {
		t.Errorf("verify --expected on the guessed model: exit %d\n%s%s\nwant FAIL against the official outputs", code, stdout, stderr)
	}

	settled := filepath.Join(dir, "head.onnx")
	if code, _, stderr := runCLI(t, "convert", ckpt, "-o", settled, "--cls-token", "head"); code != 0 || strings.Contains(stderr, "warning:") {
		t.Fatalf("convert --cls-token head: exit %d, stderr %q; want no warning", code, stderr)
	}
	code, stdout, stderr = runCLI(t, "verify", ckpt, settled, "--input", xPath, "--expected", yPath)
	if code != 0 || strings.Contains(stdout, "assuming") || strings.Contains(stderr, "warning:") {
		t.Errorf("verify --expected on the --cls-token head model: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestVerifyExpectedErrors: shape and batch mismatches and bad flags are
// clear errors, not comparisons.
func TestVerifyExpectedErrors(t *testing.T) {
	needORT(t)
	ckpt, model := verifyModel(t)
	dir := t.TempDir()
	in := filepath.Join(repo.Fixture("vim_t_d2"), "input.pth") // batch 2
	exp := filepath.Join(repo.Fixture("vim_t_d2"), "expected.pth")
	one := filepath.Join(dir, "one.npy")
	if err := npy.WriteFileFloat32(one, []int{1, 1000}, make([]float32, 1000)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		want   string
		reason string
	}{
		{[]string{"--input", in, "--expected", one}, 1, "have shape [1 1000], but the model's logits for the input [2 3 224 224] are [2 1000]", "batch 1 expected for a batch-2 input"},
		{[]string{"--input", in, "--expected", exp, "--expected-key", "nope"}, 1, `no tensor "nope"`, "a missing key names the keys there are"},
		{[]string{"--input", in, "--expected", exp, "--expected-key", "layers.0.residual"}, 1, "want [batch, N]", "a per-layer tensor is no output"},
		{[]string{"--input", in, "--expected", one, "--expected-key", "logits"}, 1, "a key (\"logits\") applies to a .npz or a torch .pth dict only", "a key for a .npy"},
		{[]string{"--expected", exp}, 2, "--expected needs --input", "outputs of noise nobody else has"},
		{[]string{"--expected-key", "logits"}, 2, "--expected-key needs --expected", "a key alone"},
	} {
		code, stdout, stderr := runCLI(t, append([]string{"verify", ckpt, model}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Contains(stdout, "PASS") {
			t.Errorf("%s: exit %d (want %d)\nstderr %q\nwant %q", tc.reason, code, tc.code, stderr, tc.want)
		}
	}
}

// TestVerifyProvenance: verify names, from the model's recorded sha256,
// a checkpoint that is not the one converted (here the same file with one
// weight edited), and a depth mismatch directly.
func TestVerifyProvenance(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	orig := repo.Fixture("synthetic", "model_legacy.pth") // legacy format: the file ends with the last storage's bytes
	model := filepath.Join(dir, "m.onnx")
	if code, _, stderr := runCLI(t, "convert", orig, "-o", model, "--cls-token", "middle"); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, stderr)
	}
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-2] ^= 0x40 // one weight of the last tensor
	edited := filepath.Join(dir, "edited.pth")
	if err := os.WriteFile(edited, data, 0o644); err != nil {
		t.Fatal(err)
	}
	a, _, err := convert.ReadStateDict(orig, convert.WeightsModel)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := convert.ReadStateDict(edited, convert.WeightsModel)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for k, ta := range a {
		for i := range ta.Data {
			if ta.Data[i] != b[k].Data[i] {
				changed++
			}
		}
	}
	if changed != 1 {
		t.Fatalf("the edit changed %d weights, want 1", changed)
	}
	sumA, sumB := sha256.Sum256(testutil.ReadFile(t, orig)), sha256.Sum256(data)
	_, _, stderr := runCLI(t, "verify", edited, model, "--batch", "1")
	want := "was converted from another checkpoint: it records model_legacy.pth with sha256 " + hex.EncodeToString(sumA[:]) + ", but " + edited + " has sha256 " + hex.EncodeToString(sumB[:])
	if !strings.Contains(stderr, want) {
		t.Errorf("verify with the edited checkpoint: stderr %q\nwant %q", stderr, want)
	}
	code, stdout, stderr := runCLI(t, "verify", orig, model, "--batch", "1")
	if code != 0 || strings.Contains(stderr, "warning") {
		t.Errorf("verify with the converted checkpoint: exit %d\n%s%s", code, stdout, stderr)
	}

	full := repo.SharedFixture("vim_t", "checkpoint.pth")
	if full == "" {
		t.Skip("../shared/fixtures/vim_t absent: depth mismatch not checked")
	}
	d2Model := filepath.Join(dir, "d2.onnx")
	if code, _, stderr := runCLI(t, "convert", repo.Fixture("vim_t_d2", "checkpoint.pth"), "-o", d2Model); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = runCLI(t, "verify", full, d2Model, "--batch", "1")
	if code != 1 || !strings.Contains(stderr, "was not converted from "+full+": depth 2 in the model, 24 in the checkpoint") || strings.Contains(stdout, "PASS") {
		t.Errorf("depth-24 checkpoint vs depth-2 model: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestNonFiniteOutputs: NaN outputs (here from a finite input too large
// for float32 arithmetic) are a failure of verify and an error of predict
// (nothing written), never a silent pass; a NaN in the input itself is
// refused when it is read, naming the file.
func TestNonFiniteOutputs(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	ckpt := repo.Fixture("synthetic", "cls_head.pth") // 8×8 images
	model := filepath.Join(dir, "m.onnx")
	if code, _, stderr := runCLI(t, "convert", ckpt, "-o", model, "--cls-token", "head"); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, stderr)
	}
	x := make([]float32, 3*8*8)
	x[5] = float32(math.NaN())
	in := filepath.Join(dir, "nan.npy")
	if err := npy.WriteFileFloat32(in, []int{1, 3, 8, 8}, x); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"verify", ckpt, model}, {"predict", "--model", model, "--output", filepath.Join(dir, "y.npy")}} {
		if code, _, stderr := runCLI(t, append(cmd, "--input", in)...); code != 1 || !strings.Contains(stderr, "nan.npy holds 1 NaN/Inf values of 192") {
			t.Errorf("%s on a NaN input: exit %d, stderr %q (want the input refused)", cmd[0], code, stderr)
		}
	}
	for i := range x { // the patch embedding's sums overflow to ±Inf, then NaN
		x[i] = math.MaxFloat32
	}
	in = filepath.Join(dir, "huge.npy")
	if err := npy.WriteFileFloat32(in, []int{1, 3, 8, 8}, x); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "verify", ckpt, model, "--input", in)
	if code != 1 || !strings.Contains(stderr, "onnx logits hold") || strings.Contains(stdout, "PASS") {
		t.Errorf("verify on a huge input: exit %d\n%s%s\nwant a failure naming the NaN outputs (both sides NaN must not pass)", code, stdout, stderr)
	}
	for _, src := range [][]string{{"--checkpoint", ckpt, "--cls-token", "head"}, {"--model", model}} {
		out := filepath.Join(dir, "y.npy")
		code, _, stderr := runCLI(t, append(append([]string{"predict"}, src...), "--input", in, "--output", out)...)
		if _, err := os.Stat(out); code != 1 || !strings.Contains(stderr, "logits hold 3 NaN/Inf values of 3") || err == nil {
			t.Errorf("predict %v on a huge input: exit %d, stderr %q, output written: %v", src, code, stderr, err == nil)
		}
	}
}

// TestPredictTorchInput: predict --input reads a torch .pth dict holding
// 'x', as verify --input does, and gives the official logits.
func TestPredictTorchInput(t *testing.T) {
	fx := repo.Fixture("vim_t_d2")
	out := filepath.Join(t.TempDir(), "y.npy")
	code, _, stderr := runCLI(t, "predict", "--checkpoint", filepath.Join(fx, "checkpoint.pth"), "--input", filepath.Join(fx, "input.pth"), "--output", out)
	if code != 0 {
		t.Fatalf("predict --input input.pth: exit %d\n%s", code, stderr)
	}
	got, err := npy.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := verify.ReadExpected(filepath.Join(fx, "expected.pth"), "logits")
	if err != nil {
		t.Fatal(err)
	}
	if r := verify.Compare(want.Data, got.F32, want.Shape); !r.Pass(1e-4) || !r.Top1OK() {
		t.Errorf("predict on the fixture's input.pth vs the official logits: %s", r)
	}
}

// TestInspectModelAndWarnings: inspect MODEL.onnx prints the checkpoint's
// summary read back from the model with its provenance; inspect of a
// checkpoint whose cls placement is a guess warns on stderr.
func TestInspectModelAndWarnings(t *testing.T) {
	dir := t.TempDir()
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	model := filepath.Join(dir, "m.onnx")
	if code, _, stderr := runCLI(t, "convert", ckpt, "-o", model, "--weights", "model_ema"); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, stderr)
	}
	_, fromCkpt, _ := runCLI(t, "inspect", ckpt, "--weights", "model_ema")
	code, fromModel, stderr := runCLI(t, "inspect", model)
	sum := sha256.Sum256(testutil.ReadFile(t, ckpt))
	if code != 0 || stderr != "" || !strings.Contains(fromModel, "source      checkpoint.pth (sha256 "+hex.EncodeToString(sum[:])+", model_ema weights), converted by vimconvert") {
		t.Fatalf("inspect MODEL.onnx: exit %d, stderr %q\n%s", code, stderr, fromModel)
	}
	// Every architecture row and the assumptions are the checkpoint's.
	// (The ignored entries of the checkpoint are not in the model.)
	// The model adds what its export assumed (the recorded preprocessing
	// and class names) after them.
	for _, line := range strings.Split(fromCkpt[strings.Index(fromCkpt, "assumed:"):], "\n") {
		if line != "" && !strings.Contains(fromModel, line) {
			t.Errorf("inspect MODEL.onnx lacks the checkpoint's assumption line %q:\n%s", line, fromModel)
		}
	}
	for _, row := range []string{"variant", "args.model", "embed_dim", "depth", "mixer", "norm", "patches", "tokens", "head"} {
		for _, line := range strings.Split(fromCkpt, "\n") {
			if strings.HasPrefix(line, row) && !strings.Contains(fromModel, line) {
				t.Errorf("inspect MODEL.onnx lacks the checkpoint's line %q:\n%s", line, fromModel)
			}
		}
	}
	if code, _, stderr := runCLI(t, "inspect", model, "--cls-token", "head"); code != 2 || !strings.Contains(stderr, "--cls-token applies to a checkpoint") {
		t.Errorf("inspect MODEL.onnx --cls-token: exit %d, %q", code, stderr)
	}
	_, stdout, stderr := runCLI(t, "inspect", repo.Fixture("synthetic", "cls_head.pth"))
	if !strings.HasPrefix(stderr, "warning: cls token assumed in the middle") || !strings.Contains(stdout, "warnings:\n  - cls token assumed") {
		t.Errorf("inspect of a checkpoint without args: stderr %q\n%s", stderr, stdout)
	}
}

// TestVerifyWithoutPlugin: a model that uses no plugin op is not reported
// as run with the plugin.
func TestVerifyWithoutPlugin(t *testing.T) {
	needORT(t)
	ckpt := repo.Fixture("synthetic", "cls_head.pth")
	model := filepath.Join(t.TempDir(), "la.onnx")
	if code, _, stderr := runCLI(t, "convert", ckpt, "-o", model, "--cls-token", "head", "--scan", "linear-attention", "--tokens"); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "verify", ckpt, model)
	if code != 0 || !strings.Contains(stdout, "onnxruntime 1.29.0 (no plugin ops)") || strings.Contains(stdout, "+ plugin") {
		t.Errorf("verify of a LinearAttention model: exit %d\n%s%s", code, stdout, stderr)
	}
	// tokens [B, L, D]: an argmax over them is no class, so no top-1 line
	if i := strings.Index(stdout, "tokens (reference"); i < 0 || strings.Contains(stdout[i:], "top-1") {
		t.Errorf("the tokens section must not print a top-1:\n%s", stdout)
	}
}

// TestVerifyModelWithoutProvenance: a model converted before provenance
// was recorded still has its middle-cls guess named by verify, and its
// source is inferred from its initializers.
func TestVerifyModelWithoutProvenance(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		ckpt   string
		guess  bool
		reason string
	}{
		{repo.Fixture("synthetic", "cls_head.pth"), true, "{'model': sd}: the middle placement was a guess"},
		{repo.Fixture("vim_t_d2", "checkpoint.pth"), false, "args.model with_midclstok settles it"},
	} {
		model := filepath.Join(dir, "m.onnx")
		if code, _, stderr := runCLI(t, "convert", tc.ckpt, "-o", model); code != 0 {
			t.Fatalf("convert: exit %d\n%s", code, stderr)
		}
		mp, err := onnxfile.ReadFile(model)
		if err != nil {
			t.Fatal(err)
		}
		props := mp.MetadataProps[:0]
		for _, e := range mp.MetadataProps {
			if e.GetKey() != graph.MetaProvenance {
				props = append(props, e)
			}
		}
		mp.MetadataProps = props
		if err := graph.WriteFile(mp, model); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, "verify", tc.ckpt, model, "--batch", "1")
		if code != 0 || strings.Contains(stdout, "assuming:\n  - cls token assumed in the middle") != tc.guess || strings.Contains(stdout, "source ") {
			t.Errorf("%s: exit %d\n%s%s", tc.reason, code, stdout, stderr)
		}
	}
}

// TestVerifyExpectedKwargs: a model converted with --kwargs records the
// arguments, so verify rebuilds the same reference from the checkpoint and
// both match the official logits; converted without, verify --expected
// fails it.
func TestVerifyExpectedKwargs(t *testing.T) {
	needORT(t)
	for _, tc := range kwargsCases {
		ckpt, io := repo.Fixture("kwargs", tc.name+".pth"), repo.Fixture("kwargs", tc.name+"_io.pth")
		for _, kw := range [][]string{nil, {"--kwargs", tc.kwargs}} {
			model := filepath.Join(t.TempDir(), "m.onnx")
			if code, _, stderr := runCLI(t, append([]string{"convert", ckpt, "-o", model}, kw...)...); code != 0 {
				t.Fatalf("%s %v: convert: exit %d\n%s", tc.name, kw, code, stderr)
			}
			code, stdout, stderr := runCLI(t, "verify", ckpt, model, "--json", "--input", io, "--expected", io)
			if kw == nil {
				if code != 1 {
					t.Errorf("%s without --kwargs: verify --expected exit %d, want 1 (FAIL against the official logits)\n%s", tc.name, code, stderr)
				}
				continue
			}
			var res verify.FileReport
			if err := json.Unmarshal([]byte(stdout), &res); err != nil {
				t.Fatalf("%s: %v\n%s", tc.name, err, stderr)
			}
			if code != 0 || !res.Pass || len(res.ExpectedOutputs) != 2 {
				t.Errorf("%s --kwargs %s: exit %d, pass %v, %d expected comparisons\n%s", tc.name, tc.kwargs, code, res.Pass, len(res.ExpectedOutputs), stderr)
			}
			for _, o := range res.ExpectedOutputs {
				if o.Report.MaxAbs > 1e-4 {
					t.Errorf("%s: %s: %s", tc.name, o.Name, o.Report)
				}
				t.Logf("%s --kwargs %s: %s vs official: max |Δ| %.3g", tc.name, tc.kwargs, o.Name, o.Report.MaxAbs)
			}
		}
	}
}
