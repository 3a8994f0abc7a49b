package onnxfile_test

import (
	"testing"

	"github.com/vimconvert/vimconvert/graph/onnxfile"
)

// TestIsModelPathAndStem pins the one rule by which every command and
// library package tells an exported model from a checkpoint, and the
// default model name derived from a path.
func TestIsModelPathAndStem(t *testing.T) {
	for _, tc := range []struct {
		path   string
		model  bool
		stem   string
		reason string
	}{
		{"out/vim_t.onnx", true, "vim_t", "plain"},
		{"VIM_T.ONNX", true, "VIM_T", "upper case extension"},
		{"m.Onnx", true, "m", "mixed case extension"},
		{"ckpt.pth", false, "ckpt.pth", "checkpoint"},
		{"vim.onnx.pth", false, "vim.onnx.pth", ".onnx inside the name, not its extension"},
		{"models.onnx/ckpt.bin", false, "ckpt.bin", "a folder named .onnx"},
		{"onnx", false, "onnx", "no dot"},
		{"dir/.onnx", true, "", "the extension alone"},
	} {
		if got := onnxfile.IsModelPath(tc.path); got != tc.model {
			t.Errorf("%s: IsModelPath(%q) = %v, want %v", tc.reason, tc.path, got, tc.model)
		}
		if got := onnxfile.Stem(tc.path); got != tc.stem {
			t.Errorf("%s: Stem(%q) = %q, want %q", tc.reason, tc.path, got, tc.stem)
		}
	}
}
