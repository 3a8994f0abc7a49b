package convert

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file is the one owner of what a dense-task backbone output is: the
// feature maps [B, D, h, w] that the official segmentation and detection
// backbones feed their heads (hustvl/Vim seg/backbone/vim.py and
// det/detectron2/modeling/backbone/vim.py), taken from chosen blocks of a
// Vim. The graph export and the Go reference both build them from here.

// FeatureMode says which token stream of a block becomes its feature map.
type FeatureMode string

// Feature modes, as the official dense backbones choose them.
const (
	// FeatureHidden is block i's mixer output hidden_states, before it is
	// added to the residual stream: the segmentation backbone's default
	// (use_residual_as_feature=False, seg/backbone/vim.py 216-220), used by
	// every released UperNet config.
	FeatureHidden FeatureMode = "hidden"
	// FeatureAdd is residual + hidden_states of block i: the detection
	// backbone's last_layer_process="add" (det/detectron2/modeling/
	// backbone/vim.py 171-174, every ViTDet config of the repository).
	FeatureAdd FeatureMode = "add"
	// FeatureAddNorm is norm_f(residual + hidden_states) of block i:
	// last_layer_process="add & norm" (seg/backbone/vim.py 244-254,
	// det/.../vim.py 175-185); for the last block it is the classifier's
	// final normed tokens.
	FeatureAddNorm FeatureMode = "add_norm"
)

// ParseFeatureMode returns the mode named s ("" is FeatureHidden), or an
// error listing the valid names.
func ParseFeatureMode(s string) (FeatureMode, error) {
	switch f := FeatureMode(s); f {
	case "":
		return FeatureHidden, nil
	case FeatureHidden, FeatureAdd, FeatureAddNorm:
		return f, nil
	}
	return "", fmt.Errorf("unknown feature mode %q (want %s, %s or %s)", s, FeatureHidden, FeatureAdd, FeatureAddNorm)
}

// DefaultOutIndices returns the blocks whose outputs the official
// segmentation configs export for a model of depth blocks: the last block
// of each quarter, depth·k/4 - 1 for k = 1..4 ([5, 11, 17, 23] for the
// depth-24 Vim-T and Vim-S UperNet configs,
// seg/configs/vim/upernet/upernet_vim_*_24_512_slide_60k.py), without
// repeats or negative indices (depth 2 gives [0, 1]).
func DefaultOutIndices(depth int) []int {
	var out []int
	for k := 1; k <= 4; k++ {
		if i := depth*k/4 - 1; i >= 0 && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	return out
}

// ParseOutIndices reads a comma-separated list of block indices ("5,11")
// for a model of depth blocks: each in [0, depth), no repeats; the result
// is sorted. A negative index counts from the end (-1 is the last block).
// With depth 0 (not known yet) the indices are returned as given, negative
// ones included, for NormalizeOutIndices to check later.
func ParseOutIndices(s string, depth int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		i, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("out indices %q: %q is not a block index", s, f)
		}
		if depth > 0 {
			if i < 0 {
				i += depth
			}
			if i < 0 || i >= depth {
				return nil, fmt.Errorf("out indices %q: block %s is outside the model's %d blocks (0 to %d)", s, f, depth, depth-1)
			}
			if slices.Contains(out, i) {
				return nil, fmt.Errorf("out indices %q: block %d given twice", s, i)
			}
		}
		out = append(out, i)
	}
	if depth > 0 {
		slices.Sort(out)
	}
	return out, nil
}

// NormalizeOutIndices checks indices for a model of depth blocks (a
// negative one counts from the end) and returns them sorted, as
// ParseOutIndices does.
func NormalizeOutIndices(indices []int, depth int) ([]int, error) {
	parts := make([]string, len(indices))
	for i, v := range indices {
		parts[i] = strconv.Itoa(v)
	}
	return ParseOutIndices(strings.Join(parts, ","), max(depth, 1))
}

// FeatureMapName is the name of block i's feature map output.
func FeatureMapName(i int) string { return "feature_map." + strconv.Itoa(i) }

// PatchTokens returns, in row-major grid order, the indices into the token
// sequence of c's patch tokens (the sequence without its cls tokens):
// gathering them from [B, L, D] and transposing gives the feature map
// [B, D, rows, cols] (seg/backbone/vim.py 220:
// hidden_states.permute(0, 2, 1).reshape(B, -1, Hp, Wp)).
func (c Config) PatchTokens() []int {
	src := c.TokenSources()
	idx := make([]int, c.NumPatches())
	for t, s := range src {
		if s >= 0 {
			idx[s] = t
		}
	}
	return idx
}
