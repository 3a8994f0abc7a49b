package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/internal/testutil"
	"github.com/vimconvert/vimconvert/runtime"
	"google.golang.org/protobuf/proto"
)

// convertDepth2 converts the depth-2 fixture with the extra convert flags
// to file in a temp dir and returns the checkpoint and model paths; a
// failed convert fails the test.
func convertDepth2(t *testing.T, file string, flags ...string) (ckpt, model string) {
	t.Helper()
	ckpt = repo.Fixture("vim_t_d2", "checkpoint.pth")
	model = filepath.Join(t.TempDir(), file)
	var out, errb bytes.Buffer
	if code := run(append([]string{"convert", ckpt, "-o", model}, flags...), &out, &errb); code != 0 {
		t.Fatalf("convert %s: exit %d\n%s", strings.Join(flags, " "), code, errb.String())
	}
	return ckpt, model
}

func readModel(t *testing.T, path string) *onnxpb.ModelProto {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s is not an ONNX model: %v", path, err)
	}
	return &m
}

func outputNames(m *onnxpb.ModelProto) []string {
	var names []string
	for _, o := range m.GetGraph().GetOutput() {
		names = append(names, o.GetName())
	}
	return names
}

func TestConvertCommand(t *testing.T) {
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	dir := t.TempDir()
	tests := []struct {
		reason  string
		args    []string // OUT is replaced by the output path
		outputs []string
		stdout  []string // substrings of the summary
	}{
		{
			reason:  "shorthand form: vimconvert CKPT -o OUT",
			args:    []string{ckpt, "-o", "OUT"},
			outputs: []string{"logits"},
			stdout:  []string{"pixel_values [batch, 3, 224, 224]", "logits [batch, 1000]", "params:   942952", "ai.vimconvert", "register_custom_ops_library", "RegisterCustomOpsLibrary_V2", "RegisterCustomOpsLibrary("},
		},
		{
			reason:  "flags before the checkpoint, extra outputs, newer opset, EMA weights",
			args:    []string{"convert", "--features", "--tokens", "--opset", "18", "--weights", "model_ema", "-o", "OUT", ckpt},
			outputs: []string{"tokens", "logits", "features"},
			stdout:  []string{"opset:    18", `"model_ema" weights`, "features [batch, 192]", "tokens [batch, 197, 192]"},
		},
		{
			reason:  "per-layer outputs for verify --per-layer",
			args:    []string{"convert", ckpt, "--per-layer", "--output", "OUT"},
			outputs: []string{"patch_embed_out", "embed_tokens", "layers.0.hidden_states", "layers.0.residual", "layers.1.hidden_states", "layers.1.residual", "final_hidden_normed", "logits"},
		},
	}
	for i, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			out := filepath.Join(dir, "m"+string(rune('0'+i))+".onnx")
			args := append([]string(nil), tc.args...)
			for j := range args {
				if args[j] == "OUT" {
					args[j] = out
				}
			}
			code, stdout, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			m := readModel(t, out)
			if got := strings.Join(outputNames(m), ","); got != strings.Join(tc.outputs, ",") {
				t.Errorf("outputs %s, want %s", got, strings.Join(tc.outputs, ","))
			}
			for _, s := range tc.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("summary lacks %q:\n%s", s, stdout)
				}
			}
			if stderr != "" {
				t.Errorf("stderr not empty (no TTY, so no progress bar): %q", stderr)
			}
		})
	}
}

func TestConvertCommandErrors(t *testing.T) {
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	dir := t.TempDir()
	outDir := filepath.Join(dir, "adir")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	notCkpt := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notCkpt, []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []refusal{
		{"missing -o", []string{ckpt}, 2, "missing -o"},
		{"missing checkpoint", []string{"-o", filepath.Join(dir, "x.onnx")}, 2, "missing the checkpoint"},
		{"two checkpoints", []string{ckpt, ckpt, "-o", filepath.Join(dir, "x.onnx")}, 2, "one checkpoint expected"},
		{"unknown weight set", []string{ckpt, "-o", filepath.Join(dir, "x.onnx"), "--weights", "best"}, 2, "--weights"},
		{"unknown flag", []string{ckpt, "-o", filepath.Join(dir, "x.onnx"), "--fp16"}, 2, "fp16"},
		{"output is a directory", []string{ckpt, "-o", outDir}, 1, "is a directory"},
		{"output directory missing", []string{ckpt, "-o", filepath.Join(dir, "no", "x.onnx")}, 1, "output directory"},
		{"output is the input", []string{notCkpt, "-o", notCkpt}, 1, "refusing to overwrite"},
		{"checkpoint missing", []string{filepath.Join(dir, "none.pth"), "-o", filepath.Join(dir, "x.onnx")}, 1, "none.pth"},
		{"not a checkpoint", []string{notCkpt, "-o", filepath.Join(dir, "x.onnx")}, 1, "load checkpoint"},
		{"unsupported opset", []string{ckpt, "-o", filepath.Join(dir, "x.onnx"), "--opset", "12"}, 1, "opset 12"},
		{"cls placement the weights cannot have", []string{ckpt, "-o", filepath.Join(dir, "x.onnx"), "--cls-token", "double"}, 1, "cls"},
	}
	checkRefusals(t, "convert", tests)
	// No failed run left an output or temp file behind.
	names := testutil.DirNames(t, dir)
	if strings.Join(names, ",") != "adir,notes.txt" {
		t.Errorf("directory holds %v after failed conversions", names)
	}
	if data, _ := os.ReadFile(notCkpt); string(data) != "not a checkpoint" {
		t.Error("the input file was modified")
	}
}

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
		code, _, stderr := runCLI(t, args...)
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
