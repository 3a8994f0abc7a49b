// Package convert is the Vim model: its schema (Config, the tensor table
// ModelTensors/LayerTensors, Model.Validate, NewModel) and the loading of
// official hustvl/Vim checkpoints into it, inferring the architecture from
// the weights and saying what it had to assume. The graph export, the Go
// reference and the ONNX read-back all take their knowledge of a Vim model
// from here. All tensors are float32 in row-major order with the official
// PyTorch shapes.
//
// It must not print, parse flags or know about ONNX; reading the untrusted
// file format itself is package torchfile's job.
package convert

import "github.com/vimconvert/vimconvert/convert/torchfile"

// Tensor is a dense float32 tensor in row-major (C) order, as the reader
// (package torchfile) returns it; Name is the official state-dict key.
type Tensor = torchfile.Tensor

// Config is the architecture of a Vim model, inferred from the weights
// (and set by Options where the weights cannot tell). It stores sizes
// only; the patch grid, token count and cls position are its methods
// (GridSize, NumPatches, SeqLen, ClsTokenPosition), and its JSON carries
// them as derived keys.
type Config struct {
	EmbedDim  int `json:"embed_dim"`
	Depth     int `json:"depth"`
	DState    int `json:"d_state"`
	DInner    int `json:"d_inner"`
	DtRank    int `json:"dt_rank"`
	DConv     int `json:"d_conv"`
	PatchSize int `json:"patch_size"`
	Stride    int `json:"stride"`
	ImgSize   int `json:"img_size"` // input height; also the width unless ImgWidth is set
	// ImgWidth is the input width of a non-square model (0 = square,
	// ImgSize); see Width and GridHW.
	ImgWidth int `json:"img_width,omitempty"`
	// AbsPosEmbed is true when the checkpoint has pos_embed (every official
	// config, if_abs_pos_embed=True); it is added after the cls insertion.
	AbsPosEmbed bool `json:"abs_pos_embed"`

	ClsToken      ClsToken `json:"cls_token"`
	FinalPoolType string   `json:"final_pool_type"` // used only without cls token: "mean" (default), "none", "max", "all"

	InChans int  `json:"in_chans"` // image channels (3 for every official config)
	Norm    Norm `json:"norm"`     // NormRMS (every official config) or NormLayer

	NumClasses  int         `json:"num_classes"`
	BimambaType BimambaType `json:"bimamba_type"`
	DivideOut   bool        `json:"if_divide_out"`
	NormEps     float64     `json:"norm_eps"` // 1e-5 for every official config
	HasGamma    bool        `json:"has_layer_scale"`
}

// Mixer holds one direction's parameters of a Mamba mixer.
// For bimamba v1 the backward direction reuses the forward Conv/XProj/DtProj
// and D; only A_b_log is separate (see Layer.ABLog).
type Mixer struct {
	ConvWeight *Tensor // conv1d.weight  [DInner, 1, DConv]
	ConvBias   *Tensor // conv1d.bias    [DInner]
	XProj      *Tensor // x_proj.weight  [DtRank+2*DState, DInner], rows ordered [dt | B | C]
	DtProjW    *Tensor // dt_proj.weight [DInner, DtRank]
	DtProjB    *Tensor // dt_proj.bias   [DInner] (delta_bias, added inside the scan before softplus)
	ALog       *Tensor // A_log          [DInner, DState]; A = -exp(A_log) in float32
	D          *Tensor // D              [DInner]
}

// Layer is one Vim block: RMSNorm then the (bi)Mamba mixer.
type Layer struct {
	NormWeight *Tensor // layers.{i}.norm.weight           [EmbedDim]
	NormBias   *Tensor // layers.{i}.norm.bias             [EmbedDim], NormLayer only; else nil
	InProj     *Tensor // layers.{i}.mixer.in_proj.weight  [2*DInner, EmbedDim], no bias
	OutProj    *Tensor // layers.{i}.mixer.out_proj.weight [EmbedDim, DInner], no bias
	Fwd        Mixer   // conv1d, x_proj, dt_proj, A_log, D
	Bwd        *Mixer  // v2: conv1d_b, x_proj_b, dt_proj_b, A_b_log, D_b; nil otherwise
	ABLog      *Tensor // v1 only: A_b_log [DInner, DState]
	Gamma      *Tensor // layers.{i}.mixer.gamma [EmbedDim] when init_layer_scale was set; else nil
}

// Model is a fully mapped Vim checkpoint: every state-dict tensor of the
// chosen weight set appears exactly once below.
type Model struct {
	Config Config

	PatchWeight  *Tensor // patch_embed.proj.weight [EmbedDim, 3, PatchSize, PatchSize]
	PatchBias    *Tensor // patch_embed.proj.bias   [EmbedDim]
	PosEmbed     *Tensor // pos_embed [1, SeqLen, EmbedDim]; nil when the checkpoint has none (if_abs_pos_embed=False)
	ClsToken     *Tensor // cls_token [1, 1, EmbedDim] (middle/head), else nil
	ClsTokenHead *Tensor // cls_token_head [1, 1, EmbedDim] (double), else nil
	ClsTokenTail *Tensor // cls_token_tail [1, 1, EmbedDim] (double), else nil
	Layers       []Layer
	NormF        *Tensor // norm_f.weight [EmbedDim]
	NormFBias    *Tensor // norm_f.bias   [EmbedDim], NormLayer only; else nil
	HeadWeight   *Tensor // head.weight [NumClasses, EmbedDim]; nil when the head is Identity (num_classes 0)
	HeadBias     *Tensor // head.bias   [NumClasses]
}
