// Package mambaout reads official MambaOut checkpoints (yuweihao/MambaOut,
// models/mambaout.py at commit 9f2f234; "MambaOut: Do We Really Need Mamba
// for Vision?"), the gated-CNN baseline of Vision Mamba, as a second
// architecture beside Vim (package convert).
//
// It owns the MambaOut schema: one exact name table (schema.go) from the
// official state-dict keys to the Model fields, the configuration inferred
// from names and shapes, the registered variants (variants.go) and the
// detection of a MambaOut state dict (Detect). Reading the checkpoint file
// itself is shared with Vim (convert.ReadStateDict). Tensors keep their
// official PyTorch names, shapes and row-major layout.
package mambaout

import (
	"fmt"

	"github.com/vimconvert/vimconvert/convert"
)

// Architecture is the name of this architecture in reports, ONNX metadata
// and `inspect --json` ("architecture").
const Architecture = "mambaout"

// Config is the architecture of a MambaOut model, inferred from the weights.
// Slices have one entry per stage (4 for every registered model).
type Config struct {
	InChans int `json:"in_chans"` // image channels (3)
	// StemHidden is the output channels of the stem's first conv
	// (out_channels // 2 = Dims[0]/2 in the official StemLayer, 41-75).
	StemHidden int   `json:"stem_hidden"`
	Dims       []int `json:"dims"`   // channels of each stage
	Depths     []int `json:"depths"` // GatedCNNBlocks per stage
	// Hidden is each stage's block hidden size, int(8/3 * dim) for the
	// default expansion_ratio (fc1: dim -> 2*hidden, fc2: hidden -> dim).
	Hidden []int `json:"hidden"`
	// ConvChannels is each stage's depthwise-conv width,
	// int(conv_ratio * dim) = dim for the default conv_ratio 1.0.
	ConvChannels []int `json:"conv_channels"`
	KernelSize   int   `json:"kernel_size"` // depthwise conv kernel (7), padding KernelSize/2
	HeadHidden   int   `json:"head_hidden"` // MlpHead fc1 width, mlp_ratio * Dims[-1] (4x)
	NumClasses   int   `json:"num_classes"`
	// NormEps is the eps of every LayerNorm (partial(nn.LayerNorm,
	// eps=1e-6) in the official code; not stored in the weights).
	NormEps float64 `json:"norm_eps"`
}

// NumStages is len(Dims).
func (c *Config) NumStages() int { return len(c.Dims) }

// Preprocess is the evaluation preprocessing of a model: resize the short
// side to InputSize/CropPct with Interpolation, centre-crop InputSize,
// scale to [0, 1] and normalise with Mean/Std per channel.
type Preprocess struct {
	InputSize     int        `json:"input_size"`
	CropPct       float64    `json:"crop_pct"`
	Interpolation string     `json:"interpolation"`
	Mean          [3]float64 `json:"mean"`
	Std           [3]float64 `json:"std"`
}

// EvalPreprocess is MambaOut's evaluation recipe: timm's default cfg
// (_cfg in mambaout.py: input_size 224, crop_pct 1.0, bicubic, ImageNet
// mean and std), unlike Vim's crop_pct 0.875.
var EvalPreprocess = Preprocess{
	InputSize:     224,
	CropPct:       1.0,
	Interpolation: "bicubic",
	Mean:          [3]float64{0.485, 0.456, 0.406},
	Std:           [3]float64{0.229, 0.224, 0.225},
}

// EvalRecipe returns EvalPreprocess with the evaluation size and crop
// fraction that info records from a timm training checkpoint's args
// (convert.Info.ArgsImgSize, ArgsCropPct), and a note of each one taken
// from there for Info.Assumed.
func EvalRecipe(info *convert.Info) (Preprocess, []string) {
	p := EvalPreprocess
	var notes []string
	if info.ArgsImgSize > 0 && info.ArgsImgSize != p.InputSize {
		p.InputSize = info.ArgsImgSize
		notes = append(notes, fmt.Sprintf("evaluation size %d from the training checkpoint's args (timm's input_size/img_size; the released models: %d)", p.InputSize, EvalPreprocess.InputSize))
	}
	if info.ArgsCropPct > 0 && info.ArgsCropPct != p.CropPct {
		p.CropPct = info.ArgsCropPct
		notes = append(notes, fmt.Sprintf("crop_pct %g from the training checkpoint's args (the released models: %g)", p.CropPct, EvalPreprocess.CropPct))
	}
	return p, notes
}

// Stem is downsample_layers.0, the official StemLayer: conv1 (3x3, stride
// 2, padding 1), norm1, GELU, conv2 (3x3, stride 2, padding 1), norm2.
type Stem struct {
	Conv1W, Conv1B *convert.Tensor // conv1 [StemHidden, InChans, 3, 3], [StemHidden]
	Norm1W, Norm1B *convert.Tensor // norm1 [StemHidden]
	Conv2W, Conv2B *convert.Tensor // conv2 [Dims[0], StemHidden, 3, 3], [Dims[0]]
	Norm2W, Norm2B *convert.Tensor // norm2 [Dims[0]]
}

// Downsample is downsample_layers.{i} for i >= 1, the official
// DownsampleLayer: conv (3x3, stride 2, padding 1) then norm.
type Downsample struct {
	ConvW, ConvB *convert.Tensor // conv [Dims[i], Dims[i-1], 3, 3], [Dims[i]]
	NormW, NormB *convert.Tensor // norm [Dims[i]]
}

// Block is stages.{i}.{j}, the official GatedCNNBlock.
type Block struct {
	NormW, NormB *convert.Tensor // norm [C]
	FC1W, FC1B   *convert.Tensor // fc1 [2*Hidden, C], [2*Hidden]; output split (g, i, c)
	ConvW, ConvB *convert.Tensor // conv [ConvChannels, 1, K, K], [ConvChannels] (depthwise)
	FC2W, FC2B   *convert.Tensor // fc2 [C, Hidden], [C]
}

// Model is a fully mapped MambaOut checkpoint: every state-dict tensor
// appears exactly once below.
type Model struct {
	Config Config
	// Preprocess is the evaluation preprocessing: EvalPreprocess, with the
	// size and crop fraction a timm training checkpoint's args record
	// (Load; see EvalRecipe).
	Preprocess Preprocess

	Stem Stem
	// Downsamples[i-1] is downsample_layers.{i}, i = 1 .. NumStages-1.
	Downsamples []Downsample
	// Stages[i][j] is stages.{i}.{j}.
	Stages [][]Block

	NormW, NormB         *convert.Tensor // norm (output norm) [Dims[-1]]
	HeadFC1W, HeadFC1B   *convert.Tensor // head.fc1 [HeadHidden, Dims[-1]], [HeadHidden]
	HeadNormW, HeadNormB *convert.Tensor // head.norm [HeadHidden]
	HeadFC2W, HeadFC2B   *convert.Tensor // head.fc2 [NumClasses, HeadHidden], [NumClasses]
}
