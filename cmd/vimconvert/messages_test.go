package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime/bench"
)

// TestClsTokenMessage: a --cls-token the weights refuse is reported as
// such, not as a misfit of the training checkpoint's args.input_size.
func TestClsTokenMessage(t *testing.T) {
	tests := []struct {
		reason, ckpt, want string
	}{
		{"bare state dict: the weights have one cls_token", repo.Fixture("synthetic", "bare.pth"),
			"--cls-token double needs cls_token_head and cls_token_tail"},
		{"training checkpoint: its args.model settles the placement first", repo.Fixture("vim_t_d2", "checkpoint.pth"),
			"--cls-token double contradicts args.model"},
	}
	for _, tc := range tests {
		out := filepath.Join(t.TempDir(), "m.onnx")
		code, _, stderr := runCLI(t, "convert", tc.ckpt, "-o", out, "--cls-token", "double")
		if code != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "input_size") {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 with %q and not args.input_size", tc.reason, code, stderr, tc.want)
		}
	}
}

// TestBenchPluginModelKeptOrNot: bench --json names a generated plugin
// model only when it still exists (--keep), and says "not kept" otherwise.
func TestBenchPluginModelKeptOrNot(t *testing.T) {
	needORT(t)
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	la := filepath.Join(t.TempDir(), "la.onnx")
	if code, _, stderr := runCLI(t, "convert", ckpt, "--scan", string(graph.ScanLinearAttention), "-o", la); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, stderr)
	}
	keep := t.TempDir()
	tests := []struct {
		extra  []string
		want   string // plugin_model; "" = a file in keep that exists
		reason string
	}{
		{nil, bench.ModelNotKept, "the generated model was in a removed temp folder"},
		{[]string{"--keep", keep}, "", "--keep keeps the generated model where plugin_model says"},
	}
	for _, tc := range tests {
		args := append([]string{"bench", la, "--json", "--runs", "1", "--warmup", "0", "--variants", "plugin"}, tc.extra...)
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("%s: bench: exit %d: %s", tc.reason, code, errb.String())
		}
		var rep bench.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		pm := rep.PluginModel
		if tc.want != "" {
			if pm != tc.want {
				t.Errorf("%s: plugin_model %q, want %q", tc.reason, pm, tc.want)
			}
			continue
		}
		if _, err := os.Stat(pm); err != nil || filepath.Dir(pm) != keep {
			t.Errorf("%s: plugin_model %q: want an existing file in %s (%v)", tc.reason, pm, keep, err)
		}
	}
}

// TestRefusesUnknownAttributes: predict and verify refuse a model with an
// attribute the plugin op does not take, naming the model and the
// attribute (ONNX Runtime would run it with the default).
func TestRefusesUnknownAttributes(t *testing.T) {
	needORT(t)
	for _, tc := range []struct{ model, attr string }{
		{"bad_unknown_attribute.onnx", `"dividee_out"`},
		{"bad_conv_unknown_attribute.onnx", `"foo"`},
		{"bad_ref_attribute.onnx", "ref_attr_name"},
	} {
		path := repo.Path("ops", "testdata", tc.model)
		out := filepath.Join(t.TempDir(), "y.npy")
		code, _, stderr := runCLI(t, "predict", "--model", path, "--input", predictInput, "--output", out)
		if code != 1 || !strings.Contains(stderr, path) || !strings.Contains(stderr, tc.attr) {
			t.Errorf("predict --model %s: exit %d, stderr %q; want exit 1 naming the model and %s", tc.model, code, stderr, tc.attr)
		}
	}

	// verify: an exported model whose first scan has a misspelt divide_out.
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.onnx")
	if _, err := graph.ConvertFile(ckpt, good, graph.ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	mp, err := onnxfile.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	renamed := false
	for _, n := range mp.GetGraph().GetNode() {
		for _, a := range n.GetAttribute() {
			if !renamed && n.GetOpType() == "SelectiveScanBidirectional" && a.GetName() == "divide_out" {
				a.Name, renamed = new("dividee_out"), true
			}
		}
	}
	if !renamed {
		t.Fatal("the export has no SelectiveScanBidirectional node with divide_out")
	}
	bad := filepath.Join(dir, "typo.onnx")
	if err := graph.WriteFile(mp, bad); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "verify", ckpt, bad)
	if code != 1 || !strings.Contains(stderr, bad) || !strings.Contains(stderr, `unknown attribute "dividee_out"`) {
		t.Errorf("verify %s: exit %d, stderr %q; want exit 1 naming the model and dividee_out", bad, code, stderr)
	}
}
