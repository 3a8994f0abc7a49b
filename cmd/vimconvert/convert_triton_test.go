package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
)

// Bad Triton flags are refused before anything is converted: no -o model,
// no repository entry.
func TestConvertTritonFlagsRefused(t *testing.T) {
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	dir := t.TempDir()
	taken := filepath.Join(dir, "taken-repo")
	os.MkdirAll(filepath.Join(taken, "m"), 0o755)
	tests := []struct {
		reason string
		args   []string
		want   string
	}{
		{"--name without a repository would be ignored silently", []string{"--name", "x"}, "apply only with --triton-repo"},
		{"every repository option needs the repository", []string{"--max-batch", "2", "--instances", "gpu"}, "apply only with --triton-repo"},
		{"an unknown instance kind", []string{"--triton-repo", filepath.Join(dir, "r1"), "--instances", "tpu"}, "want cpu or gpu"},
		{"negative max batch", []string{"--triton-repo", filepath.Join(dir, "r3"), "--max-batch", "-1"}, "negative"},
		{"an existing entry", []string{"--triton-repo", taken, "--name", "m"}, "already exists"},
		{"a name that is not a folder name", []string{"--triton-repo", filepath.Join(dir, "r5"), "--name", "a/b"}, "model name"},
		// Last: sets VIMCONVERT_PLUGIN for the rest of the test.
		{"the plugin model needs the plugin to copy", []string{"--triton-repo", filepath.Join(dir, "r4")}, "is not a file"},
	}
	for i, tc := range tests {
		if strings.Contains(tc.reason, "needs the plugin") {
			t.Setenv(runtime.EnvPlugin, filepath.Join(dir, "none.so"))
		}
		out := filepath.Join(dir, "m.onnx")
		args := append([]string{"convert", ckpt, "-o", out}, tc.args...)
		code, _, stderr := convertCLI(args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%d %s: exit %d, stderr %q, want one containing %q", i, tc.reason, code, stderr, tc.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%d %s: %s written although the flags were refused", i, tc.reason, out)
		}
	}
	for _, r := range []string{"r1", "r3", "r4", "r5"} {
		if _, err := os.Stat(filepath.Join(dir, r)); !os.IsNotExist(err) {
			t.Errorf("repository %s created although the flags were refused", r)
		}
	}
}
