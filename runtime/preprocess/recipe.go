package preprocess

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// Interpolation names a resampling filter of a Recipe's resize step.
type Interpolation string

// InterpolationBicubic is PIL's Image.BICUBIC (torchvision InterpolationMode.BICUBIC,
// interpolation=3): separable cubic convolution with a = -0.5, support scaled by the
// downscaling factor, 8-bit fixed-point coefficients. The only one implemented.
const InterpolationBicubic Interpolation = "bicubic"

// CropCenter is torchvision's CenterCrop, the only crop a Recipe describes.
const CropCenter = "center"

// ChannelOrderRGB means channel 0 is red, 1 green, 2 blue.
const ChannelOrderRGB = "RGB"

// LayoutNCHW is the float tensor layout Tensor produces: [batch, channel, height, width].
const LayoutNCHW = "NCHW"

// VimEvalCropPct is hustvl/Vim's default eval_crop_ratio (vim/main.py): the resize
// side is int(input_size / 0.875), 256 for 224.
const VimEvalCropPct = 0.875

// ImageNetMean and ImageNetStd are the per-channel (RGB) normalisation torchvision,
// timm and hustvl/Vim use for ImageNet (IMAGENET_DEFAULT_MEAN / _STD).
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Recipe describes an evaluation preprocessing: decode to RGB, resize the short side
// to ResizeShort (the long side keeps the aspect ratio, truncated), centre-crop
// InputSize x InputSize, scale to [0, 1], subtract Mean and divide by Std per channel.
// Its JSON form (field tags below) is what a converted model records in its metadata.
type Recipe struct {
	// InputSize is the side of the square crop, the model's input height and width.
	InputSize int `json:"input_size"`
	// ResizeShort is the short side after the resize (torchvision Resize(int)).
	ResizeShort int `json:"resize_size"`
	// Interpolation is the resize filter.
	Interpolation Interpolation `json:"interpolation"`
	// Crop is how the InputSize square is cut out of the resized image: CropCenter.
	Crop string `json:"crop"`
	// Mean and Std normalise each channel after scaling bytes by 1/255.
	Mean [3]float32 `json:"mean"`
	Std  [3]float32 `json:"std"`
	// ChannelOrder is the order of the colour channels: ChannelOrderRGB.
	ChannelOrder string `json:"channel_order"`
	// Layout is the tensor layout: LayoutNCHW.
	Layout string `json:"layout"`
	// CropPct is the crop fraction ResizeShort was computed from
	// (ResizeShort == ResizeShortSide(InputSize, CropPct)), the number that carries
	// over to another input size. 0 (recipes recorded before vimconvert wrote it) means
	// unknown: EvalCropPct then falls back to InputSize/ResizeShort.
	CropPct float64 `json:"crop_pct,omitempty"`
}

// ResizeShortSide is the resize side for an input size and a crop percentage:
// int(inputSize / cropPct), as hustvl/Vim (int()) and timm (math.floor) compute it.
func ResizeShortSide(inputSize int, cropPct float64) int {
	return int(math.Floor(float64(inputSize) / cropPct))
}

// ImageNetRecipe is the bicubic, centre-crop, ImageNet-normalised eval recipe shared by
// hustvl/Vim (cropPct VimEvalCropPct) and timm (MambaOut: cropPct 1.0) for a model
// whose input is inputSize x inputSize. A 448 model with cropPct 0.875 resizes to 512.
func ImageNetRecipe(inputSize int, cropPct float64) (Recipe, error) {
	if !(cropPct > 0 && cropPct <= 1) {
		return Recipe{}, fmt.Errorf("preprocess: crop percentage %v is outside (0, 1]", cropPct)
	}
	r := Recipe{
		InputSize:     inputSize,
		ResizeShort:   ResizeShortSide(inputSize, cropPct),
		Interpolation: InterpolationBicubic,
		Crop:          CropCenter,
		Mean:          ImageNetMean,
		Std:           ImageNetStd,
		ChannelOrder:  ChannelOrderRGB,
		Layout:        LayoutNCHW,
		CropPct:       cropPct,
	}
	return r, r.Validate()
}

// maxRecipeSide bounds InputSize and ResizeShort: far above any classifier's input
// (Vim runs at up to 1248), small enough that a recipe read from an untrusted model's
// metadata cannot ask for more than a 8192² crop (200 MB).
const maxRecipeSide = 8192

// Validate reports the first field that this package cannot apply exactly.
func (r Recipe) Validate() error {
	switch {
	case r.InputSize < 1 || r.InputSize > maxRecipeSide:
		return fmt.Errorf("preprocess: recipe input_size %d is outside [1, %d]", r.InputSize, maxRecipeSide)
	case r.ResizeShort < r.InputSize || r.ResizeShort > maxRecipeSide:
		return fmt.Errorf("preprocess: recipe resize_size %d must be in [input_size %d, %d] (a crop larger than the resized image would need padding)",
			r.ResizeShort, r.InputSize, maxRecipeSide)
	case r.Interpolation != InterpolationBicubic:
		return fmt.Errorf("preprocess: recipe interpolation %q is not supported (only %q)", r.Interpolation, InterpolationBicubic)
	case r.Crop != CropCenter:
		return fmt.Errorf("preprocess: recipe crop %q is not supported (only %q)", r.Crop, CropCenter)
	case r.ChannelOrder != ChannelOrderRGB:
		return fmt.Errorf("preprocess: recipe channel_order %q is not supported (only %q)", r.ChannelOrder, ChannelOrderRGB)
	case r.Layout != LayoutNCHW:
		return fmt.Errorf("preprocess: recipe layout %q is not supported (only %q)", r.Layout, LayoutNCHW)
	}
	if r.CropPct != 0 && (!(r.CropPct > 0 && r.CropPct <= 1) || ResizeShortSide(r.InputSize, r.CropPct) != r.ResizeShort) {
		return fmt.Errorf("preprocess: recipe crop_pct %v does not give resize_size %d for input_size %d (int(%d / %v) = %d)",
			r.CropPct, r.ResizeShort, r.InputSize, r.InputSize, r.CropPct, ResizeShortSide(r.InputSize, r.CropPct))
	}
	for c := 0; c < 3; c++ {
		m, s := float64(r.Mean[c]), float64(r.Std[c])
		if math.IsNaN(m) || math.IsInf(m, 0) || !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("preprocess: recipe channel %d has mean %v, std %v (std must be finite and > 0)", c, r.Mean[c], r.Std[c])
		}
	}
	return nil
}

// EvalCropPct is the crop fraction to apply at another input size: CropPct, or for a
// recipe that does not record it, InputSize/ResizeShort. That ratio is exact for the
// usual fractions (0.875 = 224/256, 1.0) but not for every one: 224/0.9 gives 248, and
// 448 * 248/224 = 496 where int(448/0.9) = 497.
func (r Recipe) EvalCropPct() float64 {
	if r.CropPct > 0 {
		return r.CropPct
	}
	return float64(r.InputSize) / float64(r.ResizeShort)
}

// TensorLen is the number of float32 values Tensor writes for one image: 3*InputSize².
func (r Recipe) TensorLen() int { return 3 * r.InputSize * r.InputSize }

// JSON is the recipe's metadata form (compact JSON with the field names of Recipe's tags).
func (r Recipe) JSON() (string, error) {
	if err := r.Validate(); err != nil {
		return "", err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("preprocess: encoding recipe: %w", err)
	}
	return string(b), nil
}

// ParseRecipe reads a recipe's JSON form (as JSON writes it): unknown or missing
// fields, trailing data and recipes Validate rejects are errors. crop_pct alone may be
// missing (recipes recorded before it was written): CropPct is then 0.
func ParseRecipe(data []byte) (Recipe, error) {
	var probe map[string]json.RawMessage // also refuses data after the object
	if err := json.Unmarshal(data, &probe); err != nil {
		return Recipe{}, fmt.Errorf("preprocess: recipe JSON: %w", err)
	}
	for _, name := range []string{"input_size", "resize_size", "interpolation", "crop", "mean", "std", "channel_order", "layout"} {
		if _, ok := probe[name]; !ok {
			return Recipe{}, fmt.Errorf("preprocess: recipe JSON has no %q", name)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Recipe
	if err := dec.Decode(&r); err != nil {
		return Recipe{}, fmt.Errorf("preprocess: recipe JSON: %w", err)
	}
	return r, r.Validate()
}
