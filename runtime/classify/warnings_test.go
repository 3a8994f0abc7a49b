package classify_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime/classify"
)

// TestCheckpointGuessNotes: classifying with a checkpoint that records no
// cls placement runs the Go reference with the loader's guess, so Notes
// (which classify prints as warnings) carry it; --cls-token settles it.
func TestCheckpointGuessNotes(t *testing.T) {
	ckpt := repo.Fixture("vim_t_stride8_d2", "checkpoint.pth") // {'model': sd}, no args
	for _, tc := range []struct {
		cls  convert.ClsToken
		want bool
	}{{"", true}, {convert.ClsMiddle, false}} {
		m, err := classify.Open(ckpt, classify.ModelOptions{Checkpoint: convert.Options{ClsToken: tc.cls}})
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(m.Notes, convert.ClsGuessWarning); got != tc.want {
			t.Errorf("--cls-token %q: notes %q; the cls guess listed: %v, want %v", tc.cls, m.Notes, got, tc.want)
		}
		m.Close()
	}
}

// TestExportedModelRefusesKwargs: --kwargs with an exported model is refused naming
// --kwargs among the checkpoint-only options (the message listed the weight set, cls
// token and stride only, so a --kwargs user could not tell what was refused).
func TestExportedModelRefusesKwargs(t *testing.T) {
	_, err := classify.Open("model.onnx", classify.ModelOptions{Checkpoint: convert.Options{FinalPoolType: "none"}})
	if err == nil || !strings.Contains(err.Error(), "--kwargs") {
		t.Errorf("Open(model.onnx) with --kwargs final_pool_type=none: error %v, want one naming --kwargs", err)
	}
}
