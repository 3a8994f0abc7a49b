package graph_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/x448/float16"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestProvenanceRoundTrip: the converted model records the checkpoint's
// sha256, name, weight set, version, assumptions and warnings, and reads
// back with them.
func TestProvenanceRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		ckpt     string
		opts     convert.Options
		layout   string
		warnings int
		reason   string
	}{
		{repo.Fixture("vim_t_d2", "checkpoint.pth"), convert.Options{Weights: convert.WeightsEMA}, "training", 0, "args.model settles the cls placement; the EMA set is recorded"},
		{repo.Fixture("synthetic", "cls_head.pth"), convert.Options{}, "model", 1, "no args: the middle cls token is a guess, recorded as a warning"},
	} {
		out := filepath.Join(t.TempDir(), "m.onnx")
		res, err := graph.ConvertFile(tc.ckpt, out, graph.ConvertOptions{Load: tc.opts})
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(tc.ckpt)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		m, info, p, err := graph.ReadModelInfo(out)
		if err != nil {
			t.Fatal(err)
		}
		if p == nil {
			t.Fatalf("%s: no provenance read back", tc.ckpt)
		}
		want := graph.Provenance{SourceFile: filepath.Base(tc.ckpt), SourceSHA256: hex.EncodeToString(sum[:]), Weights: res.Info.Weights,
			Layout: tc.layout, ArgsModel: res.Info.ArgsModel, Variant: res.Info.Variant, Version: graph.ProducerVersion}
		if p.SourceFile != want.SourceFile || p.SourceSHA256 != want.SourceSHA256 || p.Weights != want.Weights || p.Layout != want.Layout ||
			p.ArgsModel != want.ArgsModel || p.Version != want.Version || (tc.opts.Weights != "" && p.Weights != tc.opts.Weights) {
			t.Errorf("%s: provenance %+v, want %+v (%s)", tc.ckpt, *p, want, tc.reason)
		}
		if !slices.Equal(p.Assumed, res.Info.Assumed) || len(p.Assumed) == 0 || len(p.Warnings) != tc.warnings {
			t.Errorf("%s: assumed %q warnings %q, want the load's %q and %d warnings (%s)", tc.ckpt, p.Assumed, p.Warnings, res.Info.Assumed, tc.warnings, tc.reason)
		}
		if m.Config != res.Model.Config || info.Format != "onnx" || info.Layout != tc.layout || info.ParamCount != res.Info.ParamCount {
			t.Errorf("%s: read back %+v / %+v, want the converted config and %d params", tc.ckpt, m.Config, info, res.Info.ParamCount)
		}
	}
}

// TestMambaOutProvenance: a converted MambaOut model records the same
// provenance as a Vim one (here of the EMA set of a timm training
// checkpoint) and its evaluation preprocessing, and reads back with both;
// ReadMambaOutInfo refuses a Vim model.
func TestMambaOutProvenance(t *testing.T) {
	ckpt := repo.Fixture("mambaout_synthetic", "training_ema.pth")
	out := filepath.Join(t.TempDir(), "mo.onnx")
	res, err := graph.ConvertMambaOutFile(ckpt, out, graph.MambaOutConvertOptions{Load: mambaout.Options{Weights: convert.WeightsEMA}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	r, err := graph.ReadMambaOutInfo(out)
	if err != nil {
		t.Fatal(err)
	}
	p := r.Provenance
	if p == nil {
		t.Fatal("no provenance read back")
	}
	want := graph.Provenance{SourceFile: "training_ema.pth", SourceSHA256: hex.EncodeToString(sum[:]), Weights: convert.WeightsEMA,
		Layout: "training", ArgsModel: "mambaout_femto", Version: graph.ProducerVersion}
	if p.SourceFile != want.SourceFile || p.SourceSHA256 != want.SourceSHA256 || p.Weights != want.Weights || p.Layout != want.Layout ||
		p.ArgsModel != want.ArgsModel || p.Version != want.Version || p.Variant != "" {
		t.Errorf("provenance %+v, want %+v", *p, want)
	}
	if !slices.Equal(p.Assumed, res.Info.Assumed) || !slices.Contains(p.Assumed, mambaout.Assumed[0]) {
		t.Errorf("assumed %q, want the load's %q", p.Assumed, res.Info.Assumed)
	}
	if r.Preprocess != mambaout.EvalPreprocess || r.Preprocess.CropPct != 1 || r.Preprocess.Interpolation != "bicubic" {
		t.Errorf("preprocess %+v, want %+v", r.Preprocess, mambaout.EvalPreprocess)
	}
	if fmt.Sprint(r.Config) != fmt.Sprint(&res.Model.Config) || r.Info.ParamCount != res.Info.ParamCount || r.Info.TensorCount != res.Info.TensorCount ||
		r.Info.Weights != convert.WeightsEMA || r.Info.SHA256 != want.SourceSHA256 || !strings.Contains(r.Info.Source, "training_ema.pth") {
		t.Errorf("read back %+v / %+v, want the converted config, %d params, %d tensors, the source's weights and sha256",
			r.Config, r.Info, res.Info.ParamCount, res.Info.TensorCount)
	}
	text, err := graph.MambaOutReport(out, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"source        training_ema.pth (sha256 " + want.SourceSHA256, "model_ema weights", "crop_pct 1, bicubic", "mean [0.485 0.456 0.406]"} {
		if !strings.Contains(text, s) {
			t.Errorf("report lacks %q:\n%s", s, text)
		}
	}
	vim := filepath.Join(t.TempDir(), "vim.onnx")
	if _, err := graph.ConvertFile(repo.Fixture("synthetic", "bare.pth"), vim, graph.ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := graph.ReadMambaOutInfo(vim); err == nil || !strings.Contains(err.Error(), "not a MambaOut model") {
		t.Errorf("a Vim model read as MambaOut: err = %v", err)
	}
	if graph.IsMambaOutModel(vim) || !graph.IsMambaOutModel(out) {
		t.Error("IsMambaOutModel does not tell the Vim model from the MambaOut one")
	}
}

// TestReadModelInfo16Bit: inspect reads a 16-bit model back (its float16 or
// bfloat16 initializers widened exactly, so every weight equals the
// checkpoint's rounded to that type) with the converted config and its
// stored dtypes counted, while ReadModel, whose callers would run the
// widened weights as if they were the model's, still refuses it.
func TestReadModelInfo16Bit(t *testing.T) {
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	for _, d := range []graph.DType{graph.DTypeFloat16, graph.DTypeBFloat16} {
		out := filepath.Join(t.TempDir(), "m.onnx")
		res, err := graph.ConvertFile(ckpt, out, graph.ConvertOptions{Build: graph.Options{DType: d}})
		if err != nil {
			t.Fatal(err)
		}
		m, info, p, err := graph.ReadModelInfo(out)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if p == nil || m.Config != res.Model.Config || info.DType != string(d) || info.ParamCount != res.Info.ParamCount {
			t.Errorf("%s: read back config %+v dtype %q params %d, want the converted config, %s and %d", d, m.Config, info.DType, info.ParamCount, d, res.Info.ParamCount)
		}
		if info.DTypes[string(d)] == 0 || info.DTypes["float32"] == 0 || info.DTypes[string(d)]+info.DTypes["float32"] != info.TensorCount {
			t.Errorf("%s: dtypes %v of %d tensors, want %s weights beside the float32 islands", d, info.DTypes, info.TensorCount, d)
		}
		// in_proj is stored in 16 bits: the value read back is the
		// checkpoint's rounded to d, which differs from it somewhere.
		got, want := m.Layers[0].InProj.Data, res.Model.Layers[0].InProj.Data
		rounded, differs := true, false
		for i := range want {
			r := float16.Fromfloat32(want[i]).Float32()
			if d == graph.DTypeBFloat16 {
				r = math.Float32frombits(uint32(graph.BFloat16Bits(want[i])) << 16)
			}
			rounded = rounded && got[i] == r
			differs = differs || got[i] != want[i]
		}
		if !rounded || !differs {
			t.Errorf("%s: in_proj read back rounded to %s: %v, differing from float32 somewhere: %v; want both", d, d, rounded, differs)
		}
		if _, err := graph.ReadModel(out); err == nil || !strings.Contains(err.Error(), "is a "+string(d)+" model") {
			t.Errorf("%s: ReadModel err %v, want the 16-bit refusal", d, err)
		}
	}
}
