package classify_test

import (
	"context"
	"fmt"
	"os"

	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime/classify"
)

// Classify a photo with the bundled depth-2 Vim-T checkpoint (random
// weights: the class is meaningless) through the pure-Go reference; an
// exported .onnx model is opened the same way and runs in ONNX Runtime.
func ExampleModel_Classify() {
	m, err := classify.Open(repo.Fixture("vim_t_d2", "checkpoint.pth"), classify.ModelOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	fmt.Println(m.Recipe.InputSize, m.Recipe.ResizeShort, m.Classes)
	photo := repo.Path("runtime/preprocess/testdata/images/photo_chelsea.png")
	_, err = m.Classify(context.Background(), []string{photo}, classify.Options{TopK: 2}, func(r classify.Result) error {
		r.File = "photo_chelsea.png"
		return classify.WriteResult(os.Stdout, r, false)
	})
	fmt.Println(err)
	// Output:
	// 224 256 1000
	// photo_chelsea.png
	//   0.0038   685  odometer
	//   0.0030   822  steel drum
	// <nil>
}
