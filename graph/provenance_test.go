package graph_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
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
