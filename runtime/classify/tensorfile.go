package classify

import (
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

// WriteTensorFile writes the float32 [1, 3, N, N] tensor recipe r makes of
// the image at imagePath to outPath as .npy (atomically: on error outPath
// is untouched). outPath is checked (graph.CheckOutput) before the image is
// read.
func WriteTensorFile(r preprocess.Recipe, imagePath, outPath string) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := graph.CheckOutput(outPath, "x.npy", imagePath); err != nil {
		return err
	}
	x, err := r.FileTensor(imagePath)
	if err != nil {
		return err
	}
	return npy.WriteFileFloat32(outPath, []int{1, 3, r.InputSize, r.InputSize}, x)
}
