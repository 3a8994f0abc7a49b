package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
)

func init() {
	register(command{
		name:    "verify",
		summary: "run an exported model in ONNX Runtime and compare it with the Go reference (CKPT OUT.onnx)",
		run:     runVerify,
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
}

func newVerifyFlagSet(stderr io.Writer) (*flag.FlagSet, *verifyFlags) {
	f := &verifyFlags{}
	fs := newFlagSet("verify", stderr, `Usage: vimconvert verify CKPT.pth OUT.onnx [flags]

Runs OUT.onnx in ONNX Runtime with the vimconvert plugin and the pure-Go
reference forward pass of CKPT on the same input, prints how far apart they
are (max abs/rel error, cosine, top-1 agreement, worst element, error
histogram) and exits with status 1 when max |Δ| of the logits exceeds --tol or
a top-1 class differs. A model of a checkpoint without a classification head
(num_classes 0) outputs features only: those are checked against --tol.`)
	fs.StringVar(&f.input, "input", "", "input batch [B, 3, H, W] float32: a .npy file, or a torch .pth dict holding 'x' (default: N(0,1) noise)")
	fs.IntVar(&f.batch, "batch", 2, "batch size of the random input (at most 1024, and batch×3×H×W at most 2^28)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the random input")
	fs.Float64Var(&f.tol, "tol", 1e-4, "tolerance on max |reference - onnx| of the logits, features and tokens (and of each per-layer tensor)")
	fs.BoolVar(&f.perLayer, "per-layer", false, "compare every block's intermediates and say where the divergence starts (builds a per-layer copy of the model in a temp dir when needed)")
	fs.BoolVar(&f.json, "json", false, "print the reports as JSON")
	addWeightsFlag(fs, &f.weights, "the one the model was converted from")
	fs.StringVar(&f.precision, "precision", "float32", "arithmetic of the Go reference: float32 or float64")
	fs.IntVar(&f.threads, "threads", 0, "ONNX Runtime intra-op threads (0 = ORT default; at most max(64, 4 × CPUs))")
	return fs, f
}

// verifyNamed is one compared tensor.
type verifyNamed struct {
	Name   string        `json:"name"`
	Report verify.Report `json:"report"`
}

// verifyResult is what --json prints.
type verifyResult struct {
	Checkpoint      string        `json:"checkpoint"`
	Model           string        `json:"model"`
	Weights         string        `json:"weights"`
	Input           string        `json:"input"`
	InputShape      []int         `json:"input_shape"`
	Tol             float64       `json:"tol"`
	Precision       string        `json:"reference_precision"`
	ORTVersion      string        `json:"onnxruntime_version"`
	SessionMS       float64       `json:"session_ms"`
	RunMS           float64       `json:"onnx_run_ms"`
	ReferenceMS     float64       `json:"reference_ms"`
	Outputs         []verifyNamed `json:"outputs"`
	Layers          []verifyNamed `json:"layers,omitempty"`
	FirstDivergence string        `json:"first_divergence,omitempty"`
	Warnings        []string      `json:"warnings,omitempty"`
	Notes           []string      `json:"notes,omitempty"`
	Pass            bool          `json:"pass"`
}

func runVerify(args []string, stdout, stderr io.Writer) error {
	fs, f := newVerifyFlagSet(stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	prec, perr := verify.ParsePrecision(f.precision)
	switch {
	case len(pos) != 2:
		return usageError(fs, "want CKPT.pth and OUT.onnx, got %d arguments", len(pos))
	case f.batch < 1 || f.batch > maxBatch:
		return usageError(fs, "--batch %d: want 1 to %d", f.batch, maxBatch)
	case !(f.tol >= 0) || math.IsInf(f.tol, 0):
		return usageError(fs, "--tol %g: want a finite value >= 0", f.tol)
	case !validWeights(f.weights):
		return usageError(fs, "--weights %q: want model or model_ema", f.weights)
	case perr != nil:
		return usageError(fs, "--precision: %v", perr)
	case f.threads < 0 || f.threads > maxThreads():
		return usageError(fs, "--threads %d: want 0 to %d (max(64, 4 × CPUs))", f.threads, maxThreads())
	}
	ckpt, onnxPath := pos[0], pos[1]
	res := &verifyResult{Checkpoint: ckpt, Model: onnxPath, Weights: f.weights, Tol: f.tol, Precision: prec.String()}

	mp, err := readONNXModel(onnxPath)
	if err != nil {
		return err
	}
	meta := map[string]string{}
	for _, p := range mp.GetMetadataProps() {
		meta[p.GetKey()] = p.GetValue()
	}
	// The geometry the model was built for (stride and cls placement
	// cannot be seen in the weights) comes from the model's metadata.
	var built convert.Config
	if s, ok := meta["vimconvert.config"]; ok {
		if err := json.Unmarshal([]byte(s), &built); err != nil {
			return fmt.Errorf("%s: metadata vimconvert.config: %w", onnxPath, err)
		}
	}
	m, _, err := convert.Load(ckpt, convert.Options{
		Weights: convert.Weights(f.weights), ClsToken: built.ClsToken, ImgSize: built.ImgSize, Stride: built.Stride,
	})
	if err != nil {
		if built.ImgSize > 0 {
			if msg, sure := geometryMismatch(ckpt, built, f.weights); sure {
				return errors.New(msg)
			} else if msg != "" {
				return fmt.Errorf("load checkpoint: %s: %w", msg, err)
			}
		}
		return fmt.Errorf("load checkpoint: %w", err)
	}
	if err := checkSameGeometry(mp, m, built, ckpt, f.weights); err != nil {
		return err
	}
	if w := checkSameWeights(mp, m, f.weights); w != "" {
		res.Warnings = append(res.Warnings, w)
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}

	c := m.Config
	if f.input == "" {
		if err := checkInputSize(f.batch, m.PatchWeight.Shape[1], c.ImgSize); err != nil {
			return usageError(fs, "--batch %d: %v", f.batch, err)
		}
	}
	x, shape, desc, err := verifyInput(f, c, m.PatchWeight.Shape[1])
	if err != nil {
		return err
	}
	res.Input, res.InputShape = desc, shape[:]

	outputNames := map[string]bool{}
	for _, o := range mp.GetGraph().GetOutput() {
		outputNames[o.GetName()] = true
	}
	x4 := []int64{int64(shape[0]), int64(shape[1]), int64(shape[2]), int64(shape[3])}
	// runModel runs one ONNX file on x and returns every output.
	runModel := func(path string) (map[string]*runtime.Tensor, []string, time.Duration, time.Duration, error) {
		start := time.Now()
		sess, err := runtime.NewSession(path, runtime.Options{IntraOpThreads: f.threads})
		if err != nil {
			return nil, nil, 0, 0, err
		}
		defer sess.Destroy()
		created := time.Since(start)
		if names := sess.InputNames(); !slices.Contains(names, graph.InputName) {
			return nil, nil, 0, 0, fmt.Errorf("%s has no input %q (inputs: %v)", path, graph.InputName, names)
		}
		start = time.Now()
		out, err := sess.Run(map[string]*runtime.Tensor{graph.InputName: {Shape: x4, Data: x}})
		return out, sess.OutputNames(), created, time.Since(start), err
	}
	got, outNames, created, ran, err := runModel(onnxPath)
	if err != nil {
		return err
	}
	res.SessionMS, res.RunMS, res.ORTVersion = ms(created), ms(ran), runtime.Version()

	// Per-layer tensors come from the model itself when it has them, else
	// from a per-layer copy built from the checkpoint that carries the
	// model's own initializers (so it computes with the same weights).
	layerGot := got
	if f.perLayer && !outputNames[verify.KeyHidden(0)] {
		dir, err := os.MkdirTemp("", "vimconvert-verify-")
		if err != nil {
			return fmt.Errorf("temp dir for the per-layer model: %w", err)
		}
		defer os.RemoveAll(dir)
		copyPath := filepath.Join(dir, "per_layer.onnx")
		if err := buildPerLayerCopy(m, mp, meta, outputNames, copyPath); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s has no per-layer outputs: built a per-layer copy (graph from %s, initializers from the model)\n", onnxPath, ckpt)
		layerGot, _, _, _, err = runModel(copyPath)
		if err != nil {
			return fmt.Errorf("per-layer copy: %w", err)
		}
		if a, b := got[graph.LogitsName], layerGot[graph.LogitsName]; a != nil && b != nil {
			if r := verify.Compare(a.Data, b.Data, nil); !r.Pass(f.tol) {
				w := fmt.Sprintf("the per-layer copy's logits differ from %s's by %.3g: the model's graph is not what this vimconvert builds, so the per-layer table describes the rebuilt graph", onnxPath, r.MaxAbs)
				res.Warnings = append(res.Warnings, w)
				fmt.Fprintf(stderr, "warning: %s\n", w)
			}
		}
	}

	start := time.Now()
	ref, err := verify.Forward(m, x, shape, verify.Options{Precision: prec, Intermediates: f.perLayer || outputNames[graph.TokensName]})
	if err != nil {
		return fmt.Errorf("reference forward: %w", err)
	}
	res.ReferenceMS = ms(time.Since(start))

	compare := func(from map[string]*runtime.Tensor, name string, want *verify.Tensor) (verify.Report, bool) {
		g, ok := from[name]
		if !ok || want == nil {
			return verify.Report{}, false
		}
		gs := make([]int, len(g.Shape))
		for i, d := range g.Shape {
			gs[i] = int(d)
		}
		if !slices.Equal(gs, want.Shape) {
			return verify.Report{Shape: want.Shape, Mismatch: fmt.Sprintf("reference shape %v, onnx shape %v", want.Shape, gs)}, true
		}
		return verify.Compare(want.Data, g.Data, want.Shape), true
	}
	var failures []string
	// A model without a classification head (num_classes 0: head is
	// Identity) has no logits output; its output is the features, which
	// are then what is checked against --tol. Top-1 means nothing there.
	if _, ok := got[graph.LogitsName]; !ok && c.NumClasses == 0 {
		if _, ok := got[graph.FeaturesName]; !ok {
			return fmt.Errorf("%s has neither %q nor %q output (outputs: %v); the checkpoint has no head (num_classes 0), so the model should output its features", onnxPath, graph.LogitsName, graph.FeaturesName, outNames)
		}
		note := "the checkpoint has no classification head (num_classes 0): compared the features output against --tol; top-1 is not checked"
		res.Notes = append(res.Notes, note)
	} else {
		logits, ok := compare(got, graph.LogitsName, ref.Logits)
		if !ok {
			return fmt.Errorf("%s has no output %q (outputs: %v)", onnxPath, graph.LogitsName, outNames)
		}
		res.Outputs = append(res.Outputs, verifyNamed{graph.LogitsName, logits})
		if !logits.Pass(f.tol) {
			failures = append(failures, fmt.Sprintf("logits max |Δ| %.3g > tol %g", logits.MaxAbs, f.tol))
		}
		if !logits.Top1OK() {
			failures = append(failures, fmt.Sprintf("top-1 differs in %d of %d rows", logits.Top1Rows-logits.Top1Agree, logits.Top1Rows))
		}
	}
	if feats, ok := compare(got, graph.FeaturesName, ref.Features); ok {
		// An argmax over feature channels is no class: no top-1 line.
		feats.Top1Rows, feats.Top1Agree, feats.FirstTop1Diff = 0, 0, -1
		res.Outputs = append(res.Outputs, verifyNamed{graph.FeaturesName, feats})
		if !feats.Pass(f.tol) {
			failures = append(failures, fmt.Sprintf("features max |Δ| %.3g > tol %g", feats.MaxAbs, f.tol))
		}
	}
	// "tokens" is every token after the final add + norm_f.
	if toks, ok := compare(got, graph.TokensName, ref.Intermediates[verify.KeyFinalNormed]); ok {
		res.Outputs = append(res.Outputs, verifyNamed{graph.TokensName, toks})
		if !toks.Pass(f.tol) {
			failures = append(failures, fmt.Sprintf("tokens max |Δ| %.3g > tol %g", toks.MaxAbs, f.tol))
		}
	}
	if f.perLayer {
		for _, key := range perLayerKeys(len(m.Layers)) {
			r, ok := compare(layerGot, key, ref.Intermediates[key])
			if !ok {
				continue
			}
			res.Layers = append(res.Layers, verifyNamed{key, r})
			if res.FirstDivergence == "" && !r.Pass(f.tol) {
				res.FirstDivergence = key
			}
		}
	}
	res.Pass = len(failures) == 0

	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("encode JSON: %w", err)
		}
	} else {
		printVerify(stdout, res)
	}
	if !res.Pass {
		msg := strings.Join(failures, "; ")
		if res.FirstDivergence != "" {
			msg += "; divergence starts at " + res.FirstDivergence
		}
		return errors.New("FAIL: " + msg)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// perLayerKeys lists the intermediate names in the order the network
// computes them.
func perLayerKeys(depth int) []string {
	keys := []string{verify.KeyPatchEmbed, verify.KeyEmbedTokens}
	for i := range depth {
		keys = append(keys, verify.KeyResidual(i), verify.KeyHidden(i))
	}
	return append(keys, verify.KeyFinalNormed, verify.KeyFeatures, verify.KeyLogits)
}

func printVerify(w io.Writer, r *verifyResult) {
	fmt.Fprintf(w, "checkpoint %s (%s weights) vs %s\n", r.Checkpoint, r.Weights, r.Model)
	fmt.Fprintf(w, "input      %s %v\n", r.Input, r.InputShape)
	fmt.Fprintf(w, "onnx       onnxruntime %s + plugin: session %.0f ms, run %.1f ms\n", r.ORTVersion, r.SessionMS, r.RunMS)
	fmt.Fprintf(w, "reference  pure Go, %s: %.1f ms\n", r.Precision, r.ReferenceMS)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note       %s\n", n)
	}
	for _, o := range r.Outputs {
		fmt.Fprintf(w, "\n%s (reference = expected, onnx = actual): %s", o.Name, o.Report.String())
	}
	if len(r.Layers) > 0 {
		fmt.Fprintf(w, "\nper layer:\n  %-28s %10s %10s %14s\n", "tensor", "max |Δ|", "max rel", "cosine")
		for _, l := range r.Layers {
			mark := ""
			if l.Name == r.FirstDivergence {
				mark = "  <- divergence starts here"
			}
			if l.Report.Mismatch != "" {
				fmt.Fprintf(w, "  %-28s cannot compare: %s%s\n", l.Name, l.Report.Mismatch, mark)
				continue
			}
			fmt.Fprintf(w, "  %-28s %10.3g %10.3g %14.10f%s\n", l.Name, l.Report.MaxAbs, l.Report.MaxRel, l.Report.Cosine, mark)
		}
		if r.FirstDivergence == "" {
			fmt.Fprintf(w, "  every intermediate within %g\n", r.Tol)
		}
	}
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n%s (tol %g)\n", verdict, r.Tol)
}

// readONNXModel parses the whole model file (to read its metadata, outputs
// and initializers).
func readONNXModel(path string) (*onnxpb.ModelProto, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", runtime.ErrModelMissing, path)
		}
		return nil, fmt.Errorf("read model: %w", err)
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("%s is not an ONNX model: %w", path, err)
	}
	if mp.GetGraph() == nil {
		return nil, fmt.Errorf("%s is not an ONNX model: no graph", path)
	}
	return mp, nil
}

// geometryMismatch describes, for a checkpoint that cannot be loaded at the
// geometry a model records (built), both geometries. sure is true when the
// checkpoint loads at its own geometry and that has another patch grid: the
// mismatch is then the whole story (the load error would name flags the
// user never passed).
func geometryMismatch(ckpt string, built convert.Config, weights string) (msg string, sure bool) {
	msg = fmt.Sprintf("the model was built for img %d, stride %d (%d×%d patches)", built.ImgSize, built.Stride, built.GridSize(), built.GridSize())
	native, _, err := convert.Load(ckpt, convert.Options{Weights: convert.Weights(weights)})
	if err != nil {
		return "", false // unreadable on its own: the load error says why
	}
	g := native.Config.GridSize()
	msg += fmt.Sprintf("; this checkpoint's pos_embed has %d×%d", g, g)
	return msg + ": was the model converted from this checkpoint?", g != built.GridSize()
}

// checkSameGeometry refuses a checkpoint whose geometry at the model's
// recorded size and stride is not the model's: another token count, or a
// pos_embed that differs from the model's (a checkpoint of another grid
// resampled to the model's size, or another checkpoint). A model converted
// with --img-size from this checkpoint has the same resampled pos_embed, so
// it passes.
func checkSameGeometry(mp *onnxpb.ModelProto, m *convert.Model, built convert.Config, ckpt, weights string) error {
	c := m.Config
	if built.ImgSize > 0 && (c.ImgSize != built.ImgSize || c.Stride != built.Stride || c.SeqLen() != built.SeqLen()) {
		return fmt.Errorf("the model was built for img %d, stride %d (%d tokens); %s loads as img %d, stride %d (%d tokens): was the model converted from this checkpoint?",
			built.ImgSize, built.Stride, built.SeqLen(), ckpt, c.ImgSize, c.Stride, c.SeqLen())
	}
	if m.PosEmbed == nil {
		return nil
	}
	for _, t := range mp.GetGraph().GetInitializer() {
		if t.GetName() != m.PosEmbed.Name {
			continue
		}
		got, err := tensorFromProto(t)
		if err != nil {
			return fmt.Errorf("the model's %s initializer: %w", t.GetName(), err)
		}
		if !slices.Equal(got.Shape, m.PosEmbed.Shape) {
			return fmt.Errorf("the model's pos_embed is %v, this checkpoint's at img %d, stride %d is %v: was the model converted from this checkpoint?",
				got.Shape, c.ImgSize, c.Stride, m.PosEmbed.Shape)
		}
		r := verify.Compare(m.PosEmbed.Data, got.Data, nil)
		if r.MaxAbs == 0 {
			return nil
		}
		// Different values at the checkpoint's own geometry are a weight
		// difference (another weight set): checkSameWeights warns and the
		// comparison fails, locating it. At another geometry the checkpoint
		// was resampled to the model's: a model converted from it would
		// hold that same resampled pos_embed, so it was not.
		native, _, err := convert.Load(ckpt, convert.Options{Weights: convert.Weights(weights), ClsToken: built.ClsToken})
		if err != nil || native.Config.GridSize() != c.GridSize() || native.Config.Stride != c.Stride || native.Config.ImgSize != c.ImgSize {
			g := c.GridSize()
			if err == nil {
				g = native.Config.GridSize()
			}
			return fmt.Errorf("the model was built for img %d, stride %d (%d×%d patches) and its pos_embed differs from this checkpoint's (%d×%d patches) resampled to that grid (max |Δ| %.3g): was the model converted from this checkpoint?",
				c.ImgSize, c.Stride, c.GridSize(), c.GridSize(), g, g, r.MaxAbs)
		}
		return nil
	}
	return nil
}

// checkSameWeights compares a few initializers of the ONNX model (named by
// their official state-dict keys) with the loaded checkpoint and returns a
// warning when they differ, which usually means the model was converted from
// another checkpoint or weight set.
func checkSameWeights(mp *onnxpb.ModelProto, m *convert.Model, weights string) string {
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range mp.GetGraph().GetInitializer() {
		inits[t.GetName()] = t
	}
	for _, want := range []*convert.Tensor{m.NormF, m.PatchBias, m.PosEmbed} {
		if want == nil {
			continue
		}
		t, ok := inits[want.Name]
		if !ok {
			continue
		}
		data := t.GetFloatData()
		if raw := t.GetRawData(); raw != nil {
			if len(raw)%4 != 0 {
				continue
			}
			data = make([]float32, len(raw)/4)
			for i := range data {
				data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
		if t.GetDataType() != int32(onnxpb.TensorProto_FLOAT) || len(data) != len(want.Data) {
			continue
		}
		r := verify.Compare(want.Data, data, nil)
		if r.MaxAbs != 0 {
			other := convert.WeightsEMA
			if convert.Weights(weights) == convert.WeightsEMA {
				other = convert.WeightsModel
			}
			return fmt.Sprintf("initializer %s of the model differs from the checkpoint's %q weights (max |Δ| %.3g): was it converted from another checkpoint, or with --weights %s?",
				want.Name, weights, r.MaxAbs, other)
		}
	}
	return ""
}

// buildPerLayerCopy writes a per-layer variant of the given model (same
// opset, scan lowering, extra outputs and initializers) to path.
func buildPerLayerCopy(m *convert.Model, mp *onnxpb.ModelProto, meta map[string]string, outputs map[string]bool, path string) error {
	opts := graph.Options{
		PerLayer: true,
		Features: outputs[graph.FeaturesName],
		Tokens:   outputs[graph.TokensName],
		Scan:     meta["vimconvert.scan"],
	}
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			opts.Opset = int(o.GetVersion())
		}
	}
	model, err := graph.Build(m, opts)
	if err != nil {
		return fmt.Errorf("build the per-layer model: %w", err)
	}
	// Initializers carry the official state-dict names in both models:
	// take the given model's, so the copy computes with its weights.
	orig := map[string]*onnxpb.TensorProto{}
	for _, t := range mp.GetGraph().GetInitializer() {
		orig[t.GetName()] = t
	}
	for i, t := range model.GetGraph().GetInitializer() {
		o, ok := orig[t.GetName()]
		if !ok {
			return fmt.Errorf("per-layer copy: the model has no initializer %s; was it made by vimconvert?", t.GetName())
		}
		if !slices.Equal(o.GetDims(), t.GetDims()) || o.GetDataType() != t.GetDataType() {
			return fmt.Errorf("per-layer copy: initializer %s is %v type %d in the model, %v type %d in the checkpoint",
				t.GetName(), o.GetDims(), o.GetDataType(), t.GetDims(), t.GetDataType())
		}
		model.Graph.Initializer[i] = o
	}
	if err := graph.WriteFile(model, path); err != nil {
		return fmt.Errorf("write the per-layer model: %w", err)
	}
	return nil
}

// verifyInput returns the input batch: --input, or N(0,1) noise of shape
// [--batch, C, H, W] from --seed (C = the patch conv's input channels).
func verifyInput(f *verifyFlags, c convert.Config, channels int) ([]float32, [4]int, string, error) {
	want := [4]int{f.batch, channels, c.ImgSize, c.ImgSize}
	if f.input == "" {
		rng := rand.New(rand.NewPCG(f.seed, 0x76696d63))
		x := make([]float32, want[0]*want[1]*want[2]*want[3])
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x, want, fmt.Sprintf("N(0,1) noise, seed %d", f.seed), nil
	}
	var shape []int
	var x []float32
	if strings.EqualFold(filepath.Ext(f.input), ".npy") {
		a, err := npy.ReadFile(f.input)
		if err != nil {
			return nil, want, "", fmt.Errorf("--input: %w", err)
		}
		shape, x = a.Shape, a.Float32()
	} else {
		ts, err := convert.ReadTensorFile(f.input)
		if err != nil {
			return nil, want, "", fmt.Errorf("--input %s (want .npy, or a torch .pth dict with 'x'): %w", f.input, err)
		}
		t, ok := ts["x"]
		if !ok && len(ts) == 1 {
			for _, v := range ts {
				t = v
			}
		}
		if t == nil {
			keys := make([]string, 0, len(ts))
			for k := range ts {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			return nil, want, "", fmt.Errorf("--input %s: no tensor 'x' (keys: %v)", f.input, keys)
		}
		shape, x = t.Shape, t.Data
	}
	if len(shape) != 4 || shape[0] < 1 || shape[1] != channels || shape[2] != c.ImgSize || shape[3] != c.ImgSize {
		return nil, want, "", fmt.Errorf("--input %s has shape %v, the model takes [B, %d, %d, %d]", f.input, shape, channels, c.ImgSize, c.ImgSize)
	}
	return x, [4]int{shape[0], shape[1], shape[2], shape[3]}, f.input, nil
}
