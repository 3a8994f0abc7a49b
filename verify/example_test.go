package verify_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/ortenv"
	"github.com/vimconvert/vimconvert/verify"
)

// ExampleCheckFile verifies an exported model against the checkpoint it was
// converted from: the model runs in ONNX Runtime with the plugin, the
// checkpoint in the pure-Go reference, on the same noise batch.
func ExampleCheckFile() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ckpt := "../fixtures/vim_t_d2/checkpoint.pth"
	model := filepath.Join(dir, "vim_t_d2.onnx")
	if _, err := graph.ConvertFile(ckpt, model, graph.ConvertOptions{}); err != nil {
		log.Fatal(err)
	}

	noise := verify.NoiseInput(2, 1, 2)
	rep, err := verify.CheckFile(ckpt, model, verify.FileOptions{
		Weights: convert.WeightsModel, Input: noise, Tol: 1e-4, Precision: verify.Float32,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range rep.Outputs {
		fmt.Printf("%s: within tol %v, top-1 agrees in %d of %d rows\n", o.Name, o.Report.Pass(rep.Tol), o.Report.Top1Agree, o.Report.Top1Rows)
	}
	fmt.Println("pass:", rep.Pass, rep.Failure())
	// Output:
	// logits: within tol true, top-1 agrees in 2 of 2 rows
	// pass: true <nil>
}

// TestMain points package runtime at the checkout's ONNX Runtime and plugin
// (a program elsewhere sets ONNXRUNTIME_SHARED_LIBRARY_PATH and
// VIMCONVERT_PLUGIN, or passes FileOptions.Runtime paths).
func TestMain(m *testing.M) {
	ortenv.UseCheckout()
	os.Exit(m.Run())
}
