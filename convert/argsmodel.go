package convert

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// This file reads what a training checkpoint's args.model (the registry
// name that vim/main.py passed to timm's create_model) says about the
// architecture, and checks it against the weights and the options.

// NameConfig is what a Vim registry name states, token by token
// (models_mamba.py names such as
// vim_tiny_patch16_stride8_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2).
// A zero field means the name does not say.
type NameConfig struct {
	// EmbedDim is 192, 384 or 768 for the tokens tiny, small and base.
	EmbedDim int
	// Patch is the N of a patchN token.
	Patch int
	// Stride is the N of a strideN token; without one the stride is the
	// patch size (non-overlapping patches).
	Stride int
	// ImgSize is the first all-digit token (224).
	ImgSize int
	// MiddleCls is set by with_midclstok (tiny, small) or
	// with_middle_cls_token (base): use_middle_cls_token=True.
	MiddleCls bool
	// PoolMean is set by final_pool_mean.
	PoolMean bool
	// DivideOut is set by div2 (if_divide_out=True).
	DivideOut bool
}

// sizeWidths are the embed_dim of the size tokens of the official names.
var sizeWidths = map[string]int{"tiny": 192, "small": 384, "base": 768}

// ParseModelName reads a Vim registry name. ok is false for a name that
// does not follow the official pattern (it does not start with "vim_" or
// has no patchN token): nothing can be derived from it.
func ParseModelName(name string) (nc NameConfig, ok bool) {
	toks := strings.Split(name, "_")
	if len(toks) < 2 || toks[0] != "vim" {
		return nc, false
	}
	num := func(s, prefix string) int {
		n, err := strconv.Atoi(strings.TrimPrefix(s, prefix))
		if err != nil || n < 1 || n > MaxImgSize || !strings.HasPrefix(s, prefix) {
			return 0
		}
		return n
	}
	for i, t := range toks {
		next := func(k int) string {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return ""
		}
		switch {
		case sizeWidths[t] > 0:
			nc.EmbedDim = sizeWidths[t]
		case num(t, "patch") > 0:
			nc.Patch = num(t, "patch")
		case num(t, "stride") > 0:
			nc.Stride = num(t, "stride")
		case num(t, "") > 0 && nc.ImgSize == 0:
			nc.ImgSize = num(t, "")
		case t == "with" && (next(1) == "midclstok" || (next(1) == "middle" && next(2) == "cls" && next(3) == "token")):
			nc.MiddleCls = true
		case t == "final" && next(1) == "pool" && next(2) == "mean":
			nc.PoolMean = true
		case t == "div2":
			nc.DivideOut = true
		}
	}
	if nc.Patch == 0 {
		return NameConfig{}, false
	}
	if nc.Stride == 0 {
		nc.Stride = nc.Patch
	}
	return nc, true
}

// applyArgsModel settles, from args.model of a training checkpoint, what
// the weights cannot show (the cls placement and, for weights without a cls
// token, the final_pool_mean readout), before inference: it sets
// opts.ClsToken (and opts.FinalPoolType) when the user did not, and refuses a name that contradicts
// the weights (width, patch size, cls tensors) or the --cls-token flag. It
// returns the notes for Info.Assumed. The stride, which needs the
// inferred geometry, is checked by checkArgsModelGeometry.
func applyArgsModel(sd map[string]*Tensor, opts *Options, info *Info) ([]string, error) {
	if info.ArgsModel == "" {
		return nil, nil
	}
	nc, ok := ParseModelName(info.ArgsModel)
	if !ok {
		return []string{fmt.Sprintf("args.model %q is not an official Vim registry name: nothing derived from it", info.ArgsModel)}, nil
	}
	src := fmt.Sprintf("args.model %s", info.ArgsModel)
	if pw, ok := sd["patch_embed.proj.weight"]; ok && len(pw.Shape) == 4 {
		if nc.EmbedDim > 0 && pw.Shape[0] != nc.EmbedDim {
			return nil, fmt.Errorf("%s names embed_dim %d, but the weights have %d (patch_embed.proj.weight %v): the checkpoint's args do not describe its weights", src, nc.EmbedDim, pw.Shape[0], pw.Shape)
		}
		if pw.Shape[2] != nc.Patch {
			return nil, fmt.Errorf("%s names patch size %d, but the weights have %d (patch_embed.proj.weight %v): the checkpoint's args do not describe its weights", src, nc.Patch, pw.Shape[2], pw.Shape)
		}
	}
	states := fmt.Sprintf("%s: patch %d and stride %d (checked against the weights)", src, nc.Patch, nc.Stride)
	noCls := sd["cls_token"] == nil && sd["cls_token_head"] == nil
	if nc.PoolMean {
		states += "; final_pool_mean (the readout without a cls token)"
		switch {
		case noCls && opts.FinalPoolType == "":
			opts.FinalPoolType = "mean"
		case noCls && opts.FinalPoolType != "mean":
			return nil, fmt.Errorf("--kwargs final_pool_type=%s contradicts %s, which says final_pool_type='mean' (final_pool_mean); leave final_pool_type out for a training checkpoint", opts.FinalPoolType, src)
		}
	}
	if nc.DivideOut {
		states += "; div2 (if_divide_out=True, as assumed)"
		if opts.DivideOut != nil && !*opts.DivideOut {
			return nil, fmt.Errorf("--kwargs if_divide_out=False contradicts %s, which says if_divide_out=True (div2); leave if_divide_out out for a training checkpoint", src)
		}
	}
	notes := []string{states}
	if !nc.MiddleCls {
		return append(notes, fmt.Sprintf("%s does not say where the cls token is (no with_midclstok token)", src)), nil
	}
	if sd["cls_token"] == nil {
		return nil, fmt.Errorf("%s says use_middle_cls_token=True (with_midclstok), but the weights have no cls_token tensor", src)
	}
	switch opts.ClsToken {
	case "":
		opts.ClsToken = ClsMiddle
	case ClsMiddle:
	default:
		return nil, fmt.Errorf("--cls-token %s contradicts %s, which says the cls token is in the middle (use_middle_cls_token=True); leave --cls-token out for a training checkpoint", opts.ClsToken, src)
	}
	return append(notes, fmt.Sprintf("cls token in the middle: %s has with_midclstok (use_middle_cls_token=True)", src)), nil
}

// checkArgsModelGeometry refuses a loaded geometry whose stride
// contradicts args.model, unless the user chose the stride (userStride >
// 0: an explicit override, already noted as another model).
func checkArgsModelGeometry(c Config, info *Info, userStride int) error {
	nc, ok := ParseModelName(info.ArgsModel)
	if !ok || userStride > 0 || c.Stride == nc.Stride {
		return nil
	}
	g := c.GridSize()
	return fmt.Errorf("args.model %s names stride %d, but the weights' %d×%d pos_embed grid at img_size %d is stride %d: the checkpoint's args do not describe its weights", info.ArgsModel, nc.Stride, g, g, c.ImgSize, c.Stride)
}

// ClsGuessWarning is the Info.Warnings entry for a single cls_token whose
// placement nothing in the checkpoint records.
const ClsGuessWarning = "cls token assumed in the middle (use_middle_cls_token=True, as in every released Vim model): " +
	"the checkpoint does not record it (no args.model) and the weights cannot show it, since the cls token is the same tensor wherever it is inserted; " +
	"a model trained with use_middle_cls_token=False gives other outputs: pass --cls-token head for it, or --cls-token middle to confirm"

// fileSHA256 returns the lowercase hex sha256 of the size bytes of ra.
func fileSHA256(ra io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(ra, 0, size)); err != nil {
		return "", fmt.Errorf("hash the checkpoint: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
