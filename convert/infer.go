package convert

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file infers a Vim architecture from state-dict names and shapes and
// maps every tensor, through one exact name table, to the Model fields.

// standardImgSizes are the input sizes of the official training and
// fine-tuning recipes; they break ties when pos_embed allows several
// (img_size, stride) pairs.
var standardImgSizes = map[int]bool{224: true, 384: true, 448: true, 512: true}

// shapeOf returns a tensor's shape, or an error naming it when it is
// missing or has the wrong rank.
func shapeOf(sd map[string]*Tensor, key string, rank int) ([]int, error) {
	t, ok := sd[key]
	if !ok {
		return nil, fmt.Errorf("missing tensor %s (needed to infer the architecture)", key)
	}
	if len(t.Shape) != rank {
		return nil, fmt.Errorf("tensor %s has shape %v, want %d dimensions", key, t.Shape, rank)
	}
	return t.Shape, nil
}

// inferConfig derives the architecture from tensor names and shapes, then
// applies the options for what the weights cannot tell. It returns the
// defaults it assumed, as sentences for the user.
func inferConfig(sd map[string]*Tensor, opts Options) (Config, []string, error) {
	c, err := inferSizes(sd)
	if err != nil {
		return c, nil, err
	}
	if err := checkSizeOptions(opts); err != nil {
		return c, nil, err
	}
	assumed := inferBlocks(sd, &c, opts)
	if h, ok := sd["head.weight"]; ok {
		if len(h.Shape) != 2 {
			return c, nil, fmt.Errorf("tensor head.weight has shape %v, want [num_classes, embed_dim]", h.Shape)
		}
		c.NumClasses = h.Shape[0]
	}
	if err := inferClsToken(sd, opts.ClsToken, &c); err != nil {
		return c, nil, err
	}
	notes, err := inferGrid(sd, opts, &c)
	if err != nil {
		return c, nil, err
	}
	assumed = append(assumed, notes...)
	if notes, err = applyKwargs(opts, &c); err != nil {
		return c, nil, err
	}
	assumed = append(assumed, notes...)
	if c.DInner != 2*c.EmbedDim {
		assumed = append(assumed, fmt.Sprintf("note: d_inner %d is not 2*embed_dim (expand=%g)", c.DInner, float64(c.DInner)/float64(c.EmbedDim)))
	}
	return c, assumed, nil
}

// inferSizes reads embed_dim, in_chans, patch size, depth and the mixer
// sizes (d_inner, d_state, dt_rank, d_conv) from layer 0's shapes.
func inferSizes(sd map[string]*Tensor) (Config, error) {
	var c Config
	pw, err := shapeOf(sd, "patch_embed.proj.weight", 4)
	if err != nil {
		return c, err
	}
	if pw[2] != pw[3] {
		return c, fmt.Errorf("patch_embed.proj.weight %v has a non-square kernel", pw)
	}
	c.EmbedDim, c.InChans, c.PatchSize = pw[0], pw[1], pw[2]
	if c.Depth, err = inferDepth(sd); err != nil {
		return c, err
	}
	in, err := shapeOf(sd, "layers.0.mixer.in_proj.weight", 2)
	if err != nil {
		return c, err
	}
	if in[0]%2 != 0 {
		return c, fmt.Errorf("layers.0.mixer.in_proj.weight %v: first dimension is not 2*d_inner", in)
	}
	c.DInner = in[0] / 2
	for _, d := range []struct {
		key  string
		rank int
		dim  int
		to   *int
	}{
		{"layers.0.mixer.A_log", 2, 1, &c.DState},
		{"layers.0.mixer.dt_proj.weight", 2, 1, &c.DtRank},
		{"layers.0.mixer.conv1d.weight", 3, 2, &c.DConv},
	} {
		sh, err := shapeOf(sd, d.key, d.rank)
		if err != nil {
			return c, err
		}
		*d.to = sh[d.dim]
	}
	for _, d := range []struct {
		name string
		v    int
	}{{"embed_dim", c.EmbedDim}, {"in_chans", c.InChans}, {"patch_size", c.PatchSize}, {"d_inner", c.DInner}, {"d_state", c.DState}, {"dt_rank", c.DtRank}, {"d_conv", c.DConv}} {
		if d.v < 1 {
			return c, fmt.Errorf("%s is %d in the weights; a Vim model needs at least 1", d.name, d.v)
		}
	}
	return c, nil
}

// inferDepth counts the layers.{i} blocks; the indices must be 0..n-1.
func inferDepth(sd map[string]*Tensor) (int, error) {
	idx := map[int]bool{}
	for k := range sd {
		if rest, ok := strings.CutPrefix(k, "layers."); ok {
			n, _, _ := strings.Cut(rest, ".")
			i, err := strconv.Atoi(n)
			if err != nil || i < 0 || i > 1<<16 || strconv.Itoa(i) != n {
				return 0, fmt.Errorf("tensor %s: layer index %q is not a number", k, n)
			}
			idx[i] = true
		}
	}
	if len(idx) == 0 {
		return 0, fmt.Errorf("no layers.{i}.* tensors: not a Vim state dict")
	}
	for i := 0; i < len(idx); i++ {
		if !idx[i] {
			return 0, fmt.Errorf("layer indices are not contiguous: layers.%d is missing of %d layers", i, len(idx))
		}
	}
	return len(idx), nil
}

// inferBlocks sets the bimamba type, norm, norm eps and layer scale from
// which tensors layer 0 has, returning what it assumed (the defaults opts
// does not set; applyKwargs applies those it does).
func inferBlocks(sd map[string]*Tensor, c *Config, opts Options) (assumed []string) {
	switch {
	case sd["layers.0.mixer.conv1d_b.weight"] != nil:
		c.BimambaType = BimambaV2
		c.DivideOut = true
		if opts.DivideOut == nil {
			assumed = append(assumed, "if_divide_out=True for bimamba v2 (every registry entry and VisionMamba's default; not stored in the weights; --kwargs if_divide_out=False for a model built without it)")
		}
	case sd["layers.0.mixer.A_b_log"] != nil:
		c.BimambaType = BimambaV1
	default:
		c.BimambaType = BimambaNone
	}
	c.Norm = NormRMS
	if sd["layers.0.norm.bias"] != nil || sd["norm_f.bias"] != nil {
		c.Norm = NormLayer
	}
	c.NormEps = 1e-5
	if opts.NormEps == 0 {
		assumed = append(assumed, "norm eps 1e-5 (norm_epsilon of every official config; not stored in the weights; --kwargs norm_epsilon=X for another)")
	}
	c.HasGamma = sd["layers.0.mixer.gamma"] != nil
	return assumed
}

// inferClsToken sets the cls placement: want when given (checked against
// the cls tensors), else what the tensors show, middle for a single token.
// It also sets the readout default.
func inferClsToken(sd map[string]*Tensor, want ClsToken, c *Config) error {
	single := sd["cls_token"] != nil
	double := sd["cls_token_head"] != nil || sd["cls_token_tail"] != nil
	if single && double {
		return fmt.Errorf("checkpoint has both cls_token and cls_token_head/cls_token_tail")
	}
	switch want {
	case "":
		switch {
		case single:
			// a guess: Load warns (ClsGuessWarning)
			c.ClsToken = ClsMiddle
		case double:
			c.ClsToken = ClsDouble
		default:
			c.ClsToken = ClsNone
		}
	case ClsMiddle, ClsHead:
		if !single {
			return fmt.Errorf("--cls-token %s needs a cls_token tensor, which this checkpoint does not have", want)
		}
		c.ClsToken = want
	case ClsDouble:
		if !double {
			return fmt.Errorf("--cls-token double needs cls_token_head and cls_token_tail, which this checkpoint does not have")
		}
		c.ClsToken = ClsDouble
	case ClsNone:
		if single || double {
			return fmt.Errorf("--cls-token none, but the checkpoint has a cls token tensor")
		}
		c.ClsToken = ClsNone
	default:
		_, err := ParseClsToken(string(want))
		return err
	}
	// without a cls token the readout is a guess unless Options says it:
	// Load warns (ReadoutGuessWarning)
	c.FinalPoolType = "mean"
	return nil
}

// inferGrid sets img_size and stride: from pos_embed's patch grid (see
// inferGeometry), or without pos_embed from the options or the defaults.
func inferGrid(sd map[string]*Tensor, opts Options, c *Config) (assumed []string, err error) {
	nTok := c.NumClsTokens()
	pe, ok := sd["pos_embed"]
	if !ok {
		return gridWithoutPosEmbed(opts, c)
	}
	if len(pe.Shape) != 3 || pe.Shape[0] != 1 || pe.Shape[2] != c.EmbedDim {
		return nil, fmt.Errorf("tensor pos_embed has shape %v, want [1, seq_len, %d]", pe.Shape, c.EmbedDim)
	}
	c.AbsPosEmbed = true
	patches := pe.Shape[1] - nTok
	if patches < 1 {
		return nil, fmt.Errorf("pos_embed has %d rows, fewer than the %d cls tokens plus one patch", pe.Shape[1], nTok)
	}
	g := int(math.Round(math.Sqrt(float64(patches))))
	if g*g != patches {
		return nil, fmt.Errorf("pos_embed has %d rows = %d patches + %d cls tokens; %d is not a square grid", pe.Shape[1], patches, nTok, patches)
	}
	img, stride, note, err := inferGeometry(g, c.PatchSize, opts)
	if err != nil {
		return nil, err
	}
	c.ImgSize, c.Stride = img, stride
	if note != "" {
		assumed = append(assumed, note)
	}
	return assumed, nil
}

// gridWithoutPosEmbed takes img_size and stride from opts, defaulting to
// 224 and the patch size, for a model without pos_embed.
func gridWithoutPosEmbed(opts Options, c *Config) (assumed []string, err error) {
	c.ImgSize, c.Stride = opts.ImgSize, opts.Stride
	if c.Stride == 0 {
		c.Stride = c.PatchSize
		assumed = append(assumed, fmt.Sprintf("stride %d = patch size (no pos_embed to infer it from)", c.Stride))
	}
	if c.ImgSize == 0 {
		c.ImgSize = 224
		assumed = append(assumed, "img_size 224 (no pos_embed to infer it from; --img-size overrides)")
	}
	if c.ImgSize < c.PatchSize {
		return nil, fmt.Errorf("img_size %d is smaller than the patch size %d", c.ImgSize, c.PatchSize)
	}
	if g := c.GridSize(); g > MaxSeqLen/g {
		return nil, fmt.Errorf("img_size %d with patch %d and stride %d gives a %d×%d grid, more than the %d tokens supported", c.ImgSize, c.PatchSize, c.Stride, g, g, MaxSeqLen)
	}
	return assumed, nil
}

// checkSizeOptions checks the ranges of opts.ImgSize and opts.Stride.
func checkSizeOptions(opts Options) error {
	if opts.ImgSize < 0 || opts.ImgSize > MaxImgSize {
		return fmt.Errorf("--img-size %d out of range (1 to %d; 0 infers it)", opts.ImgSize, MaxImgSize)
	}
	if opts.Stride < 0 || opts.Stride > MaxImgSize {
		return fmt.Errorf("--stride %d out of range (1 to %d; 0 infers it)", opts.Stride, MaxImgSize)
	}
	return nil
}

// MaxImgSize is the largest Options.ImgSize or Options.Stride accepted (pixels).
// Sizes this large still fail ResizePosEmbed's MaxSeqLen unless the stride
// is large.
const MaxImgSize = 1 << 16

// ErrGeometryMismatch is wrapped by the error for an Options.ImgSize (and
// Options.Stride) that cannot produce pos_embed's patch grid. Load answers it by
// resampling pos_embed (ResizePosEmbed); every other error is final.
var ErrGeometryMismatch = errors.New("image size does not match the pos_embed grid")

// geometryError is an error message that wraps ErrGeometryMismatch
// without repeating its text.
type geometryError string

func (e geometryError) Error() string { return string(e) }
func (e geometryError) Unwrap() error { return ErrGeometryMismatch }

// inferGeometry picks (img_size, stride) for a g×g patch grid, following
// grid = (img - patch)//stride + 1 (models_mamba.py PatchEmbed). Explicit
// options win and are checked; otherwise the official configurations are
// preferred: stride = patch at a standard size (196 patches = 224/16, 784
// = 448/16), then stride = patch/2 at a standard size (729 = 224 with
// stride 8), then stride = patch with img = g*patch.
//
// An image size alone is solved for the stride that gives the grid. Load
// only lets that happen for args.input_size, the training checkpoint's own
// record: for Options.ImgSize it fixes the stride from the native geometry
// first (fixStride), since the user's size must never pick the stride.
func inferGeometry(g, patch int, opts Options) (img, stride int, note string, err error) {
	gridOf := func(img, stride int) int {
		if img < patch || stride < 1 {
			return -1
		}
		return (img-patch)/stride + 1
	}
	if opts.ImgSize < 0 || opts.Stride < 0 {
		return 0, 0, "", fmt.Errorf("negative --img-size or --stride")
	}
	switch {
	case opts.ImgSize > 0 && opts.Stride > 0:
		if gg := gridOf(opts.ImgSize, opts.Stride); gg != g {
			return 0, 0, "", geometryError(fmt.Sprintf("--img-size %d --stride %d with patch %d give a %d×%d grid, but pos_embed holds a %d×%d grid", opts.ImgSize, opts.Stride, patch, gg, gg, g, g))
		}
		return opts.ImgSize, opts.Stride, "", nil
	case opts.Stride > 0:
		img = (g-1)*opts.Stride + patch
		return img, opts.Stride, fmt.Sprintf("img_size %d: the smallest size giving a %d×%d grid at stride %d", img, g, g, opts.Stride), nil
	case opts.ImgSize > 0:
		if gridOf(opts.ImgSize, patch) == g {
			return opts.ImgSize, patch, fmt.Sprintf("stride %d = patch size (fits img_size %d)", patch, opts.ImgSize), nil
		}
		if g > 1 && (opts.ImgSize-patch)%(g-1) == 0 {
			s := (opts.ImgSize - patch) / (g - 1)
			// strides beyond the patch would skip pixels: never inferred
			if s <= patch && gridOf(opts.ImgSize, s) == g {
				return opts.ImgSize, s, "", nil
			}
		}
		return 0, 0, "", geometryError(fmt.Sprintf("--img-size %d with patch %d cannot give the %d×%d grid of pos_embed at any stride up to the patch size (pass --stride)", opts.ImgSize, patch, g, g))
	}
	if standardImgSizes[g*patch] {
		return g * patch, patch, fmt.Sprintf("img_size %d, stride %d from the %d×%d pos_embed grid (--img-size/--stride override)", g*patch, patch, g, g), nil
	}
	if half := patch / 2; patch%2 == 0 && standardImgSizes[(g-1)*half+patch] {
		img = (g-1)*half + patch
		return img, half, fmt.Sprintf("img_size %d, stride %d from the %d×%d pos_embed grid (official stride-8 layout; --img-size/--stride override)", img, half, g, g), nil
	}
	return g * patch, patch, fmt.Sprintf("img_size %d, stride %d (non-overlapping patches) from the %d×%d pos_embed grid; not an official size, check --img-size/--stride", g*patch, patch, g, g), nil
}

// mapTensors assigns every tensor to its Model slot (NewModel).
func mapTensors(sd map[string]*Tensor, c Config) (*Model, error) {
	return NewModel(c, sd)
}

// registryEntry is one @register_model function of models_mamba.py.
type registryEntry struct {
	name     string
	embedDim int
	stride   int
}

// officialRegistry lists the official registry entries (models_mamba.py
// 555-618). All have depth 24, patch 16, img 224, d_state 16, bimamba v2,
// a middle cls token, RMSNorm and no layer scale.
var officialRegistry = []registryEntry{
	{"vim_tiny_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2", 192, 16},
	{"vim_tiny_patch16_stride8_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2", 192, 8},
	{"vim_small_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2", 384, 16},
	{"vim_small_patch16_stride8_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2", 384, 8},
	{"vim_base_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_middle_cls_token_div2", 768, 16},
}

// MatchRegistry is matchRegistry for a Config read from elsewhere (an
// exported model's metadata).
func MatchRegistry(c Config) (name, note string) { return matchRegistry(c) }

// matchRegistry returns the registry name whose configuration the model
// has exactly (any num_classes), or "" and a note naming the closest entry
// and the differences.
func matchRegistry(c Config) (name, note string) {
	best, bestDiff := "", []string(nil)
	for _, e := range officialRegistry {
		var diff []string
		check := func(what string, got, want any) {
			if got != want {
				diff = append(diff, fmt.Sprintf("%s %v instead of %v", what, got, want))
			}
		}
		check("embed_dim", c.EmbedDim, e.embedDim)
		check("depth", c.Depth, 24)
		check("patch_size", c.PatchSize, 16)
		check("stride", c.Stride, e.stride)
		check("img_size", c.ImgSize, 224)
		check("d_state", c.DState, 16)
		check("d_inner", c.DInner, 2*e.embedDim)
		check("dt_rank", c.DtRank, (e.embedDim+15)/16)
		check("d_conv", c.DConv, 4)
		check("bimamba", c.BimambaType, BimambaV2)
		check("cls_token", c.ClsToken, ClsMiddle)
		check("norm", c.Norm, NormRMS)
		check("layer scale", c.HasGamma, false)
		check("in_chans", c.InChans, 3)
		if len(diff) == 0 {
			return e.name, ""
		}
		if best == "" || len(diff) < len(bestDiff) {
			best, bestDiff = e.name, diff
		}
	}
	return "", fmt.Sprintf("no official registry entry; closest is %s with %s", best, strings.Join(bestDiff, ", "))
}
