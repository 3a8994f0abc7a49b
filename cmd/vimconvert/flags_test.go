package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/benchgraph"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestConvertScanLowerings checks that convert offers the user-facing scan
// lowerings only and refuses the benchmark-only ones with a clear error.
func TestConvertScanLowerings(t *testing.T) {
	// graph.ScanLowerings lists the user-facing lowerings only: the
	// benchmark-only floor lives in internal/benchgraph.
	if slices.Contains(userScanLowerings(), benchgraph.NoScanFloor) {
		t.Errorf("lowering %q is benchmark-only but offered: %v", benchgraph.NoScanFloor, userScanLowerings())
	}
	if got, want := strings.Join(userScanLowerings(), ","), string(graph.ScanLinearAttention)+","+string(graph.ScanPlugin)+","+string(graph.ScanStandard); got != want {
		t.Errorf("convert lowerings %s, want %s", got, want)
	}

	code, stdout, stderr := runCLI(t, "convert", "-h") // flag help goes to stderr
	if code != 0 || stdout != "" {
		t.Fatalf("convert -h: exit %d, stdout %q", code, stdout)
	}
	if !strings.Contains(stderr, "-scan") || strings.Contains(stderr, benchgraph.NoScanFloor) {
		t.Errorf("convert -h should list --scan without %s:\n%s", benchgraph.NoScanFloor, stderr)
	}

	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	dir := t.TempDir()
	out := filepath.Join(dir, "x.onnx")
	tests := []struct {
		reason string
		scan   string
		stderr []string
	}{
		{"benchmark-only lowering: meaningless outputs", benchgraph.NoScanFloor, []string{`--scan "noscan-floor"`, "benchmark-only", "meaningless", "bench"}},
		{"unknown lowering", "loop", []string{`--scan "loop"`, "want one of linear-attention, plugin"}},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			code, _, stderr := runCLI(t, "convert", ckpt, "-o", out, "--scan", tc.scan)
			if code != 2 {
				t.Errorf("exit %d, want 2 (usage error); stderr:\n%s", code, stderr)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("refused conversion wrote %s", out)
			}
		})
	}

	// The user-facing alternative converts; its model needs no plugin.
	la := filepath.Join(dir, "la.onnx")
	code, stdout, stderr = runCLI(t, "convert", ckpt, "-o", la, "--scan", string(graph.ScanLinearAttention))
	if code != 0 {
		t.Fatalf("convert --scan %s: exit %d\n%s", string(graph.ScanLinearAttention), code, stderr)
	}
	for _, s := range []string{"scan:     " + string(graph.ScanLinearAttention), "uses no " + graph.Domain + " custom ops"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("summary lacks %q:\n%s", s, stdout)
		}
	}
	for _, n := range readModel(t, la).GetGraph().GetNode() {
		if n.GetDomain() == graph.Domain {
			t.Fatalf("--scan %s model has a %s node %s", string(graph.ScanLinearAttention), graph.Domain, n.GetName())
		}
	}
}

// TestConvertConvFlag checks that --conv picks the depthwise conv
// formulation and refuses what cannot work.
func TestConvertConvFlag(t *testing.T) {
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	dir := t.TempDir()
	refused := []struct {
		reason string
		args   []string
		stderr string
	}{
		{"unknown formulation", []string{"--conv", "fft"}, `--conv "fft"`},
		{"fused conv needs the plugin, linear-attention runs without it", []string{"--conv", string(graph.ConvPlugin), "--scan", string(graph.ScanLinearAttention)}, "needs the plugin"},
	}
	for _, tc := range refused {
		t.Run(tc.reason, func(t *testing.T) {
			out := filepath.Join(dir, "refused.onnx")
			code, _, stderr := runCLI(t, append([]string{"convert", ckpt, "-o", out}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, want 2 with %q; stderr:\n%s", code, tc.stderr, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("refused conversion wrote %s", out)
			}
		})
	}

	// Each accepted formulation shows up in the graph: the fused op for
	// plugin, ONNX Conv for conv, neither for slice.
	for _, conv := range []string{string(graph.ConvONNX), string(graph.ConvSlice), string(graph.ConvPlugin)} {
		out := filepath.Join(dir, conv+".onnx")
		code, _, stderr := runCLI(t, "convert", ckpt, "-o", out, "--conv", conv)
		if code != 0 {
			t.Fatalf("--conv %s: exit %d\n%s", conv, code, stderr)
		}
		var fused, onnxConv int
		for _, n := range readModel(t, out).GetGraph().GetNode() {
			switch {
			case n.GetDomain() == graph.Domain && n.GetOpType() == graph.OpConvSiLUBidirectional:
				fused++
			case n.GetOpType() == "Conv" && strings.Contains(n.GetName(), "conv1d"):
				onnxConv++
			}
		}
		want := map[string][2]int{string(graph.ConvONNX): {0, 4}, string(graph.ConvSlice): {0, 0}, string(graph.ConvPlugin): {2, 0}}[conv]
		if fused != want[0] || onnxConv != want[1] {
			t.Errorf("--conv %s: %d fused conv nodes and %d ONNX conv1d Conv nodes, want %d and %d", conv, fused, onnxConv, want[0], want[1])
		}
	}
}

// refusal is a command line the CLI must refuse: with exit status code and
// a stderr containing stderr.
type refusal struct {
	reason string
	args   []string
	code   int
	stderr string
}

// checkRefusals runs the command cmd with each refusal's args and requires
// its exit status and stderr.
func checkRefusals(t *testing.T, cmd string, tests []refusal) {
	t.Helper()
	for _, tc := range tests {
		code, _, stderr := runCLI(t, append([]string{cmd}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: exit %d stderr %q, want exit %d mentioning %q", tc.reason, code, stderr, tc.code, tc.stderr)
		}
	}
}
