package runtime

import (
	"fmt"
	goruntime "runtime"
)

// Resource limits for running a model: ONNX Runtime makes one thread per
// intra-op thread asked for, and the input is batch×C×H×W float32 (each
// further buffer of the model scales with it).
const (
	// MaxBatch is the largest batch size accepted.
	MaxBatch = 1024
	// MaxInputFloats bounds batch×C×H×W: 1 GiB of float32 input.
	MaxInputFloats = 1 << 28
)

// MaxThreads is the largest intra-op thread count accepted: max(64, 4 × CPUs).
func MaxThreads() int { return max(64, 4*goruntime.NumCPU()) }

// CheckInputSize refuses an input batch of more than MaxInputFloats values.
func CheckInputSize(batch, chans, img int) error {
	if n := int64(batch) * int64(chans) * int64(img) * int64(img); n > MaxInputFloats {
		return fmt.Errorf("an input of %d×%d×%d×%d = %d floats is over the limit of %d (2^28): use a smaller batch or image", batch, chans, img, img, n, MaxInputFloats)
	}
	return nil
}
