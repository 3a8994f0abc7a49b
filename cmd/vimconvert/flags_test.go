package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestConvertScanLowerings checks that convert offers the user-facing scan
// lowerings only and refuses the benchmark-only ones with a clear error.
func TestConvertScanLowerings(t *testing.T) {
	// Every lowering graph registers is either offered by convert or
	// marked benchmark-only, so a new one needs a decision here.
	for _, s := range graph.ScanLowerings() {
		if slices.Contains(convertScans, s) == slices.Contains(benchOnlyScans, s) {
			t.Errorf("lowering %q: in convertScans %v and benchOnlyScans %v, want exactly one", s, convertScans, benchOnlyScans)
		}
	}
	if got, want := strings.Join(userScanLowerings(), ","), graph.ScanLinearAttention+","+graph.ScanPlugin; got != want {
		t.Errorf("convert lowerings %s, want %s", got, want)
	}

	code, stdout, stderr := convertCLI("convert", "-h") // flag help goes to stderr
	if code != 0 || stdout != "" {
		t.Fatalf("convert -h: exit %d, stdout %q", code, stdout)
	}
	if !strings.Contains(stderr, "-scan") || strings.Contains(stderr, graph.ScanNoScanFloor) {
		t.Errorf("convert -h should list --scan without %s:\n%s", graph.ScanNoScanFloor, stderr)
	}

	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	dir := t.TempDir()
	out := filepath.Join(dir, "x.onnx")
	tests := []struct {
		reason string
		scan   string
		stderr []string
	}{
		{"benchmark-only lowering: meaningless outputs", graph.ScanNoScanFloor, []string{`--scan "noscan-floor"`, "benchmark-only", "meaningless", "bench"}},
		{"unknown lowering", "loop", []string{`--scan "loop"`, "want one of linear-attention, plugin"}},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			code, _, stderr := convertCLI("convert", ckpt, "-o", out, "--scan", tc.scan)
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
	code, stdout, stderr = convertCLI("convert", ckpt, "-o", la, "--scan", graph.ScanLinearAttention)
	if code != 0 {
		t.Fatalf("convert --scan %s: exit %d\n%s", graph.ScanLinearAttention, code, stderr)
	}
	for _, s := range []string{"scan:     " + graph.ScanLinearAttention, "uses no " + graph.Domain + " custom ops"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("summary lacks %q:\n%s", s, stdout)
		}
	}
	for _, n := range readModel(t, la).GetGraph().GetNode() {
		if n.GetDomain() == graph.Domain {
			t.Fatalf("--scan %s model has a %s node %s", graph.ScanLinearAttention, graph.Domain, n.GetName())
		}
	}
}
