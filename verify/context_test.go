package verify_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/internal/testutil"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/verify"
)

// TestCheckFileContextCancelled: a context cancelled during the check (here
// while the input is made) stops it before any ONNX Runtime session, with
// the context's error and no per-layer temp folder left.
func TestCheckFileContextCancelled(t *testing.T) {
	tmp := testutil.PrivateTMPDIR(t)
	ckpt := "../fixtures/vim_t_d2/checkpoint.pth"
	model := filepath.Join(t.TempDir(), "vim_t_d2.onnx")
	if _, err := graph.ConvertFile(ckpt, model, graph.ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	input := func(c convert.Config, channels int) ([]float32, [4]int, string, error) {
		cancel()
		shape := [4]int{1, channels, c.ImgSize, c.ImgSize}
		return make([]float32, channels*c.ImgSize*c.ImgSize), shape, "zeros", nil
	}
	rep, err := verify.CheckFileContext(ctx, ckpt, model, verify.FileOptions{
		Weights: convert.WeightsModel, Input: input, Tol: 1e-4, PerLayer: true,
	})
	if !errors.Is(err, context.Canceled) || rep != nil {
		t.Fatalf("CheckFileContext = %v, %v; want no report and context.Canceled", rep, err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("TMPDIR holds %s", ents[0].Name())
	}
}
