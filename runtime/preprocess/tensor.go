package preprocess

import (
	"fmt"
	"math"
)

// OutputSize is torchvision's Resize(int) size rule (F._compute_resized_output_size):
// the short side becomes short, the long side int(short * long / short_in) in float64.
// It returns the resized width and height.
func OutputSize(w, h, short int) (int, int) {
	if w <= h {
		return short, int(float64(short*h) / float64(w))
	}
	return int(float64(short*w) / float64(h)), short
}

// centerOffset is torchvision's CenterCrop offset: int(round((size - crop) / 2.0)),
// Python's round (half to even).
func centerOffset(size, crop int) int {
	return int(math.RoundToEven(float64(size-crop) / 2.0))
}

// ResizeCrop applies the recipe's resize and centre crop to img and returns the
// InputSize x InputSize 8-bit RGB crop: the PIL image torchvision hands to ToTensor,
// byte for byte (also the uint8 NHWC input of a model that normalises itself).
func (r Recipe) ResizeCrop(img *RGB8) (*RGB8, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if img == nil || img.Width <= 0 || img.Height <= 0 || len(img.Pix) != 3*img.Width*img.Height {
		return nil, fmt.Errorf("preprocess: resize: not a valid RGB8 image")
	}
	outW, outH := OutputSize(img.Width, img.Height, r.ResizeShort)
	left, top := centerOffset(outW, r.InputSize), centerOffset(outH, r.InputSize)
	return resizeCropWindow(img, outW, outH, left, top, r.InputSize), nil
}

// Normalize writes ToTensor + Normalize of an InputSize x InputSize crop into dst
// ([3, InputSize, InputSize] float32, len r.TensorLen()): (v/255 - mean) / std in
// float32, each operation rounded as PyTorch rounds it.
func (r Recipe) Normalize(dst []float32, crop *RGB8) error {
	n := r.InputSize * r.InputSize
	if crop == nil || crop.Width != r.InputSize || crop.Height != r.InputSize || len(crop.Pix) != 3*n {
		return fmt.Errorf("preprocess: normalize: crop is not %dx%d RGB", r.InputSize, r.InputSize)
	}
	if len(dst) != 3*n {
		return fmt.Errorf("preprocess: normalize: destination holds %d values, want %d", len(dst), 3*n)
	}
	var table [3][256]float32
	for c := 0; c < 3; c++ {
		for v := 0; v < 256; v++ {
			table[c][v] = NormalizeValue(uint8(v), r.Mean[c], r.Std[c])
		}
	}
	// [H, W, 3] uint8 -> [3, H, W] float32
	for i := 0; i < n; i++ {
		dst[i] = table[0][crop.Pix[3*i]]
		dst[n+i] = table[1][crop.Pix[3*i+1]]
		dst[2*n+i] = table[2][crop.Pix[3*i+2]]
	}
	return nil
}

// NormalizeValue is one byte through ToTensor (float32 v / 255) and Normalize
// ((x - mean) / std), rounding to float32 after each operation.
func NormalizeValue(v uint8, mean, std float32) float32 {
	x := float32(v) / 255
	return float32(x-mean) / std
}

// TensorInto decodes nothing: it resizes, crops and normalises img into dst, one
// [3, InputSize, InputSize] slot of a batch (len(dst) == r.TensorLen()).
func (r Recipe) TensorInto(dst []float32, img *RGB8) error {
	crop, err := r.ResizeCrop(img)
	if err != nil {
		return err
	}
	return r.Normalize(dst, crop)
}

// Tensor is the [3, InputSize, InputSize] float32 tensor PyTorch feeds the model for img.
func (r Recipe) Tensor(img *RGB8) ([]float32, error) {
	dst := make([]float32, r.TensorLen())
	if err := r.TensorInto(dst, img); err != nil {
		return nil, err
	}
	return dst, nil
}

// FileTensor decodes the image file at path with the default limits and returns its tensor.
func (r Recipe) FileTensor(path string) ([]float32, error) {
	img, err := DecodeFile(path)
	if err != nil {
		return nil, err
	}
	return r.Tensor(img)
}
