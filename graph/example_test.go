package graph_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/vimconvert/vimconvert/graph"
)

// ExampleConvertFile converts an official Vim checkpoint (here the bundled
// two-block Vim-tiny) to an ONNX model whose scans run in the vimconvert
// plugin, and reads what was written.
func ExampleConvertFile() {
	out := filepath.Join(os.TempDir(), fmt.Sprintf("example-%d-vim_t_d2.onnx", os.Getpid()))
	defer os.Remove(out)
	res, err := graph.ConvertFile("../fixtures/vim_t_d2/checkpoint.pth", out, graph.ConvertOptions{})
	if err != nil {
		log.Fatal(err)
	}
	c := res.Model.Config
	fmt.Printf("Vim d%d depth %d, %d tokens, %d classes\n", c.EmbedDim, c.Depth, c.SeqLen(), c.NumClasses)
	for _, o := range res.ONNX.GetGraph().GetOutput() {
		fmt.Println("output:", o.GetName())
	}

	// The file reads back as the same model.
	back, err := graph.ReadModel(out)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("read back:", back.Config == c)
	// Output:
	// Vim d192 depth 2, 197 tokens, 1000 classes
	// output: logits
	// read back: true
}
