package runtime_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/runtime"
)

// ExampleNewSession runs an exported model in ONNX Runtime with the
// vimconvert plugin registered. The zero Options take the library and the
// plugin from ONNXRUNTIME_SHARED_LIBRARY_PATH and VIMCONVERT_PLUGIN (set here
// by TestMain from the checkout); Options.LibraryPath and PluginPath name
// them explicitly.
func ExampleNewSession() {
	m, _, err := convert.Load("../fixtures/vim_t_d2/checkpoint.pth", convert.Options{})
	if err != nil {
		log.Fatal(err)
	}
	mp, err := graph.Build(m, graph.Options{})
	if err != nil {
		log.Fatal(err)
	}
	model := filepath.Join(os.TempDir(), fmt.Sprintf("example-session-%d.onnx", os.Getpid()))
	defer os.Remove(model)
	if err := graph.WriteFile(mp, model); err != nil {
		log.Fatal(err)
	}

	s, err := runtime.NewSession(model, runtime.Options{IntraOpThreads: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Destroy()
	x := &runtime.Tensor{Shape: []int64{1, 3, 224, 224}, Data: make([]float32, 3*224*224)} // one black image
	out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: x})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.InputNames(), "->", s.OutputNames())
	fmt.Println("logits shape:", out[graph.LogitsName].Shape)
	// Output:
	// [pixel_values] -> [logits]
	// logits shape: [1 1000]
}
