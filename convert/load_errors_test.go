package convert

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// stateDictZip builds a torch-style zip holding {'model': sd} with zero
// float32 tensors of the given shapes.
func stateDictZip(t testing.TB, names []string, shapes map[string][]int) []byte {
	return stateDictZipArgs(t, names, shapes, 0)
}

// stateDictZipArgs is stateDictZip plus, when inputSize > 0, an 'args'
// argparse.Namespace with that input_size (as a training checkpoint).
func stateDictZipArgs(t testing.TB, names []string, shapes map[string][]int, inputSize int64) []byte {
	p := newPK().op(opEmptyDict)
	if inputSize > 0 {
		p.str("args").global("argparse", "Namespace").op(opEmptyTuple, opNewObj, opEmptyDict).str("input_size").int(inputSize).op(opSetItem, opBuild, opSetItem)
	}
	p.str("model").op(opEmptyDict, opMark)
	entries := map[string][]byte{}
	for i, name := range names {
		shape := shapes[name]
		size := make([]int64, len(shape))
		stride := make([]int64, len(shape))
		n := int64(1)
		for d := len(shape) - 1; d >= 0; d-- {
			size[d], stride[d] = int64(shape[d]), n
			n *= int64(shape[d])
		}
		key := fmt.Sprint(i)
		p.str(name).tensor(key, "FloatStorage", n, 0, size, stride)
		entries["data/"+key] = f32bytes(int(n))
	}
	entries["data.pkl"] = p.op(opSetItems, opSetItem).stop()
	return zipOf(t, entries)
}

// TestLoadErrors covers options that contradict the weights and state
// dicts that do not match a Vim model.
func TestLoadErrors(t *testing.T) {
	g := loadSyntheticGolden(t)
	base := g.Files["model_zip.pth"].Tensors
	var names []string
	shapes := map[string][]int{}
	for k, v := range base {
		names = append(names, k)
		shapes[k] = v.Shape
	}
	sortStrings(names)
	with := func(edit func(names []string, shapes map[string][]int) []string) []byte {
		s2 := map[string][]int{}
		for k, v := range shapes {
			s2[k] = append([]int(nil), v...)
		}
		n2 := edit(append([]string(nil), names...), s2)
		return stateDictZip(t, n2, s2)
	}
	// the unedited builder output loads: failures below come from the edits
	if _, _, err := loadFrom(bytes.NewReader(with(func(n []string, _ map[string][]int) []string { return n })), int64(len(stateDictZip(t, names, shapes))), Options{}); err != nil {
		t.Fatalf("unedited state dict rejected: %v", err)
	}
	// args.input_size that fits is used and reported
	if _, info, err := loadFrom(bytes.NewReader(stateDictZipArgs(t, names, shapes, 8)), int64(len(stateDictZipArgs(t, names, shapes, 8))), Options{}); err != nil || info.ArgsInputSize != 8 || info.Layout != "training" {
		t.Errorf("args.input_size 8: err %v, info %+v", err, info)
	}
	dir := repo.Fixture("synthetic")
	file := func(name string) []byte { return readSynthetic(t, name) }
	tests := []struct {
		name   string
		data   []byte
		opts   Options
		want   string
		reason string
	}{
		{"ema of bare", file("bare.pth"), Options{Weights: WeightsEMA}, "only one weight set", "a bare state dict has no EMA"},
		{"ema of model-only", file("model_zip.pth"), Options{Weights: WeightsEMA}, "available: model", "{'model'} has no EMA"},
		{"unknown weight set", file("model_zip.pth"), Options{Weights: "best"}, "unknown weight set", "typo in --weights"},
		{"double cls on single", file("model_zip.pth"), Options{ClsToken: ClsDouble}, "cls_token_head", "weights have one cls token"},
		{"none cls on single", file("model_zip.pth"), Options{ClsToken: ClsNone}, "has a cls token", "cls_token would be unused"},
		{"middle cls on none", file("cls_none.pth"), Options{ClsToken: ClsMiddle}, "needs a cls_token", "no cls token in the weights"},
		{"bad cls", file("model_zip.pth"), Options{ClsToken: "tail"}, "unknown cls token placement", "typo in --cls-token"},
		{"img size off the stride grid", file("model_zip.pth"), Options{ImgSize: 13}, "--img-size 13: resize pos_embed: img size 13 does not fit patch 4 and stride 4", "not the weights' size, and 13-4 is no multiple of stride 4: no resize possible"},
		{"img+stride off the grid", file("model_zip.pth"), Options{ImgSize: 9, Stride: 2}, "does not fit patch 4 and stride 2", "9-4 is no multiple of the given stride 2"},
		{"img size out of range", file("model_zip.pth"), Options{ImgSize: 100000}, "--img-size 100000 out of range (1 to 65536", "a range error is not a resize: it used to resample pos_embed to a 24999² grid and run out of memory"},
		{"negative img size", file("model_zip.pth"), Options{ImgSize: -5}, "--img-size -5 out of range", "negative size; the message must not name --stride (checked below)"},
		{"negative stride", file("model_zip.pth"), Options{Stride: -1}, "--stride -1 out of range", "negative stride"},
		{"resize beyond the token cap", file("model_zip.pth"), Options{ImgSize: 4 * 257}, "257×257 grid, more than the 65536 tokens supported", "in range, but the resized pos_embed would have 66049 patch tokens (patch 4, stride 4)"},
		{"resize beyond the token cap with cls", file("model_zip.pth"), Options{ImgSize: 4 * 256}, "65536 patches + 1 cls tokens exceed the 65536 tokens supported", "a 256×256 grid plus the cls token is one token too many"},
		{"missing tensor", with(func(n []string, _ map[string][]int) []string { return remove(n, "layers.1.mixer.D_b") }), Options{}, "missing 1: layers.1.mixer.D_b", "one v2 tensor absent"},
		{"unexpected tensor", with(func(n []string, s map[string][]int) []string {
			s["layers.0.mixer.in_proj.bias"] = []int{64}
			return append(n, "layers.0.mixer.in_proj.bias")
		}), Options{}, "unexpected 1: layers.0.mixer.in_proj.bias", "in_proj has no bias in Vim"},
		{"wrong shape", with(func(n []string, s map[string][]int) []string {
			s["layers.1.mixer.x_proj.weight"] = []int{10, 32}
			return n
		}), Options{}, "layers.1.mixer.x_proj.weight [10 32] (want [9 32])", "x_proj rows != dt_rank+2*d_state"},
		{"layer gap", with(func(n []string, s map[string][]int) []string {
			var out []string
			for _, k := range n {
				if strings.HasPrefix(k, "layers.1.") {
					k2 := "layers.2." + strings.TrimPrefix(k, "layers.1.")
					s[k2] = s[k]
					k = k2
				}
				out = append(out, k)
			}
			return out
		}), Options{}, "layers.1 is missing", "layers 0 and 2 without 1"},
		{"args.input_size mismatch", stateDictZipArgs(t, names, shapes, 224), Options{}, "args.input_size 224 does not fit", "training args disagree with pos_embed"},
		{"no patch embed", with(func(n []string, _ map[string][]int) []string { return remove(n, "patch_embed.proj.weight") }), Options{}, "missing tensor patch_embed.proj.weight", "not inferable"},
		{"pos_embed not square", with(func(n []string, s map[string][]int) []string { s["pos_embed"] = []int{1, 6, 16}; return n }), Options{}, "not a square grid", "5 patches"},
		{"zero d_state", with(func(n []string, s map[string][]int) []string {
			for _, k := range n {
				if strings.HasSuffix(k, "A_log") || strings.HasSuffix(k, "A_b_log") {
					s[k] = []int{32, 0}
				}
			}
			return n
		}), Options{}, "d_state is 0", "degenerate dimension"},
	}
	_ = dir
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadFrom(bytes.NewReader(tc.data), int64(len(tc.data)), tc.opts)
			if err == nil {
				t.Fatalf("no error (%s)", tc.reason)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q (%s)", err, tc.want, tc.reason)
			}
		})
	}
	for _, o := range []Options{{ImgSize: -5}, {ImgSize: 1 << 20}} {
		if _, _, err := loadFrom(bytes.NewReader(file("model_zip.pth")), int64(len(file("model_zip.pth"))), o); err == nil || strings.Contains(err.Error(), "stride") {
			t.Errorf("--img-size %d: error %v should name only --img-size (no --stride was given)", o.ImgSize, err)
		}
	}
	// only a geometry mismatch is a resize (errors.Is), never a range error
	sd := map[string]*Tensor{}
	for k, v := range base {
		sd[k] = &Tensor{Name: k, Shape: v.Shape}
	}
	for _, tc := range []struct {
		img, stride int
		resize      bool
	}{{13, 0, true}, {9, 2, true}, {100000, 0, false}, {-5, 0, false}, {8, 0, false}} {
		_, _, err := inferConfig(sd, Options{ImgSize: tc.img, Stride: tc.stride})
		if got := errors.Is(err, ErrGeometryMismatch); got != tc.resize {
			t.Errorf("img %d stride %d: err %v, wraps ErrGeometryMismatch = %v, want %v", tc.img, tc.stride, err, got, tc.resize)
		}
	}
	if _, _, err := Load(filepath.Join(dir, "bare.pth"), Options{Weights: WeightsEMA}); !errors.Is(err, ErrNoWeightSet) {
		t.Errorf("model_ema of a bare dict: %v does not wrap ErrNoWeightSet", err)
	}
}

func remove(s []string, x string) []string {
	var out []string
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}
