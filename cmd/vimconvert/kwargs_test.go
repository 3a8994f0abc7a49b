package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/verify"
)

// kwargsCases are the official-code checkpoints of fixtures/kwargs, each
// built with a VisionMamba argument the weights cannot show, and the
// --kwargs that states it.
var kwargsCases = []struct{ name, kwargs string }{
	{"pool_none", "final_pool_type=none"},
	{"pool_max", "final_pool_type=max"},
	{"no_divide_out", "if_divide_out=False"},
	{"eps_1e-2", "norm_epsilon=1e-2"},
}

// TestPredictKwargs: predict --checkpoint with --kwargs reproduces the
// official logits of each fixtures/kwargs checkpoint, and without it
// (the registry defaults) it does not: the fixtures can tell.
func TestPredictKwargs(t *testing.T) {
	for _, tc := range kwargsCases {
		ckpt, io := repo.Fixture("kwargs", tc.name+".pth"), repo.Fixture("kwargs", tc.name+"_io.pth")
		exp, err := convert.ReadTensorFile(io)
		if err != nil {
			t.Fatal(err)
		}
		for _, kw := range [][]string{nil, {"--kwargs", tc.kwargs}} {
			out := filepath.Join(t.TempDir(), "y.npy")
			code, _, stderr := runCLI(t, append([]string{"predict", "--checkpoint", ckpt, "--input", io, "--output", out}, kw...)...)
			if code != 0 {
				t.Fatalf("%s %v: exit %d\n%s", tc.name, kw, code, stderr)
			}
			got, err := npy.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			d := maxAbs(got.Float32(), exp["logits"].Data)
			if ok := d <= 1e-4; ok != (kw != nil) {
				t.Errorf("%s %v: max |Δ| %.3g from the official logits; want ≤ 1e-4 exactly with --kwargs %s", tc.name, kw, d, tc.kwargs)
			}
			if strings.HasPrefix(tc.name, "pool_") && strings.Contains(stderr, "warning: readout assumed") != (kw == nil) {
				t.Errorf("%s %v: stderr %q: a readout warning exactly without --kwargs", tc.name, kw, stderr)
			}
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
