package convert

import (
	"bytes"
	"errors"
	"github.com/vimconvert/vimconvert/convert/internal/torchsave"
	"os"
	"path/filepath"
	"slices"
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
	return torchsave.StateDict(t, names, shapes, inputSize, "FloatStorage", false)
}

// TestLoadErrors covers options that contradict the weights and state
// dicts that do not match a Vim model.
func TestLoadErrors(t *testing.T) {
	names, shapes := syntheticNamesShapes(t)
	with := func(edit func(names []string, shapes map[string][]int) []string) []byte {
		s2 := map[string][]int{}
		for k, v := range shapes {
			s2[k] = append([]int(nil), v...)
		}
		n2 := edit(append([]string(nil), names...), s2)
		return stateDictZip(t, n2, s2)
	}
	// the unedited builder output loads: failures below come from the edits
	if _, _, err := LoadFrom(bytes.NewReader(with(func(n []string, _ map[string][]int) []string { return n })), int64(len(stateDictZip(t, names, shapes))), Options{}); err != nil {
		t.Fatalf("unedited state dict rejected: %v", err)
	}
	// args.input_size that fits is used and reported
	if _, info, err := LoadFrom(bytes.NewReader(stateDictZipArgs(t, names, shapes, 8)), int64(len(stateDictZipArgs(t, names, shapes, 8))), Options{}); err != nil || info.ArgsInputSize != 8 || info.Layout != "training" {
		t.Errorf("args.input_size 8: err %v, info %+v", err, info)
	}
	dir := repo.Fixture("synthetic")
	file := func(name string) []byte { return readSynthetic(t, name) }
	vimT := readFixture(t, "vim_t_d2")
	vimT8 := readFixture(t, "vim_t_stride8_d2")
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
		{"img size off the stride grid", file("model_zip.pth"), Options{ImgSize: 13}, "--img-size 13 does not fit patch 4 and the checkpoint's stride 4 (its 2×2 pos_embed grid is img_size 8 at stride 4): (13 - 4) is not a multiple of 4 (try 12 or 16)", "not the weights' size, and 13-4 is no multiple of stride 4: no resize possible"},
		{"img size 120 picks no stride", vimT, Options{ImgSize: 120}, "--img-size 120 does not fit patch 16 and the checkpoint's stride 16 (its 14×14 pos_embed grid is img_size 224 at stride 16): (120 - 16) is not a multiple of 16 (try 112 or 128)", "(120-16)/8+1 = 14 fits the grid at stride 8, but the weights were trained at stride 16: it used to convert silently as an overlapping-patch model"},
		{"img size 68 picks no stride", vimT, Options{ImgSize: 68}, "stride 16 (its 14×14 pos_embed grid is img_size 224 at stride 16): (68 - 16) is not a multiple of 16 (try 64 or 80)", "68 used to give stride 4"},
		{"img size 29 picks no stride", vimT, Options{ImgSize: 29}, "(29 - 16) is not a multiple of 16 (try 16 or 32)", "29 used to give stride 1"},
		{"stride alone against args.input_size", vimT, Options{Stride: 8}, "args.input_size 224 of the training checkpoint does not fit --stride 8", "224 at stride 8 is a 27×27 grid, not the 14×14 of pos_embed; the message must not name an --img-size the user did not pass"},
		{"img size below the patch", vimT, Options{ImgSize: 8}, "--img-size 8 is smaller than the patch size 16", "no patch fits"},
		{"stride-8 img size off its stride", vimT8, Options{ImgSize: 236}, "does not fit patch 16 and the checkpoint's stride 8 (its 27×27 pos_embed grid is img_size 224 at stride 8): (236 - 16) is not a multiple of 8 (try 232 or 240)", "the stride-8 model keeps stride 8: 236 gives a 28×28 grid (a resize) but 236-16 is no multiple of 8"},
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
			_, _, err := LoadFrom(bytes.NewReader(tc.data), int64(len(tc.data)), tc.opts)
			if err == nil {
				t.Fatalf("no error (%s)", tc.reason)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q (%s)", err, tc.want, tc.reason)
			}
		})
	}
	for _, o := range []Options{{ImgSize: -5}, {ImgSize: 1 << 20}} {
		if _, _, err := LoadFrom(bytes.NewReader(file("model_zip.pth")), int64(len(file("model_zip.pth"))), o); err == nil || strings.Contains(err.Error(), "stride") {
			t.Errorf("--img-size %d: error %v should name only --img-size (no --stride was given)", o.ImgSize, err)
		}
	}
	// only a geometry mismatch is a resize (errors.Is), never a range error
	sd := map[string]*Tensor{}
	for k, v := range shapes {
		sd[k] = &Tensor{Name: k, Shape: v}
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

// readFixture reads a bundled fixture's checkpoint.pth.
func readFixture(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join(repo.Fixture(name), "checkpoint.pth"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoadGeometry: the stride comes from the checkpoint's own geometry
// (pos_embed grid, official layouts, args.input_size), never from fitting
// --img-size to the grid; --img-size either gives the native grid at that
// stride, or is a resize keeping it. An explicit --stride is kept, with a
// note when it is not the native one.
func TestLoadGeometry(t *testing.T) {
	vimT := readFixture(t, "vim_t_d2")          // 14×14 grid, args.input_size 224, stride 16
	vimT8 := readFixture(t, "vim_t_stride8_d2") // 27×27 grid at 224, stride 8
	tests := []struct {
		name              string
		data              []byte
		opts              Options
		img, stride, grid int
		resized           bool
		note, reason      string
	}{
		{"native", vimT, Options{}, 224, 16, 14, false, "img_size 224 from args.input_size", "no options: args.input_size 224 and the 14×14 grid"},
		{"native size", vimT, Options{ImgSize: 224}, 224, 16, 14, false, "img_size 224 from args.input_size", "--img-size 224 is the native size: inferred exactly as without it"},
		{"same grid", vimT, Options{ImgSize: 230}, 230, 16, 14, false, "stride 16 from the checkpoint (its 14×14 pos_embed grid is img_size 224 at stride 16); img_size 230 gives the same grid", "230 floors to the 14×14 grid at stride 16: no resize, and the stride is said to be the checkpoint's"},
		{"resize 448", vimT, Options{ImgSize: 448}, 448, 16, 28, true, "to 28×28 for img_size 448 (stride 16", "448 is a resize at the native stride 16, not stride 33"},
		{"resize 112", vimT, Options{ImgSize: 112}, 112, 16, 7, true, "to 7×7 for img_size 112 (stride 16", "112 (suggested for 120) is a downsizing resize at stride 16"},
		{"explicit stride 8 at 120", vimT, Options{ImgSize: 120, Stride: 8}, 120, 8, 14, false, "note: stride 8 (--stride) is not the checkpoint's native stride 16", "the user's explicit choice: the grid matches, so allowed, but noted"},
		{"explicit stride 8 at 224", vimT, Options{ImgSize: 224, Stride: 8}, 224, 8, 27, true, "14×14 grid (img_size 120) to 27×27 for img_size 224 (stride 8", "--stride 8 alone is refused asking for --img-size; with it, the weights' grid at stride 8 is resized (it used to be refused again by args.input_size)"},
		{"explicit native stride", vimT, Options{ImgSize: 448, Stride: 16}, 448, 16, 28, true, "to 28×28 for img_size 448", "an explicit stride equal to the native one: a resize, and no stride note"},
		{"stride-8 native size", vimT8, Options{ImgSize: 224}, 224, 8, 27, false, "official stride-8 layout", "224 is the stride-8 model's own size"},
		{"stride-8 resize 448", vimT8, Options{ImgSize: 448}, 448, 8, 55, true, "27×27 grid (img_size 224) to 55×55 for img_size 448 (stride 8", "448 keeps stride 8: (448-16)/8+1 = 55"},
		{"stride-8 same grid at 16", vimT8, Options{ImgSize: 432}, 432, 8, 53, true, "to 53×53 for img_size 432", "432 = 26*16+16 would be the 27×27 grid at stride 16; it must stay stride 8 (a 53×53 resize)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, info, err := LoadFrom(bytes.NewReader(tc.data), int64(len(tc.data)), tc.opts)
			if err != nil {
				t.Fatalf("%v (%s)", err, tc.reason)
			}
			c := m.Config
			if c.ImgSize != tc.img || c.Stride != tc.stride || c.GridSize() != tc.grid || c.NumPatches() != tc.grid*tc.grid {
				t.Errorf("img %d stride %d grid %d patches %d, want %d %d %d (%s)", c.ImgSize, c.Stride, c.GridSize(), c.NumPatches(), tc.img, tc.stride, tc.grid, tc.reason)
			}
			if got := m.PosEmbed.Shape[1]; got != c.SeqLen() {
				t.Errorf("pos_embed rows %d, seq_len %d (%s)", got, c.SeqLen(), tc.reason)
			}
			all := strings.Join(info.Assumed, "\n")
			if resized := strings.Contains(all, "resampled"); resized != tc.resized {
				t.Errorf("resized %v, want %v; assumed %q (%s)", resized, tc.resized, info.Assumed, tc.reason)
			}
			if !strings.Contains(all, tc.note) {
				t.Errorf("assumed %q lacks %q (%s)", info.Assumed, tc.note, tc.reason)
			}
			// the note appears only for an explicit stride other than the native one
			nat, _, err := LoadFrom(bytes.NewReader(tc.data), int64(len(tc.data)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			explicitOther := tc.opts.Stride != 0 && tc.opts.Stride != nat.Config.Stride
			if got := strings.Contains(all, "(--stride) is not the checkpoint's native stride"); got != explicitOther {
				t.Errorf("stride note %v, want %v: %q (%s)", got, explicitOther, info.Assumed, tc.reason)
			}
		})
	}
}

// TestArgsInputSizeContradiction: a training checkpoint whose
// args.input_size cannot give its pos_embed grid is refused describing the
// weights' own geometry (not an --img-size the user never passed), and an
// explicit --img-size overrides the args, with a note.
func TestArgsInputSizeContradiction(t *testing.T) {
	names, shapes := syntheticNamesShapes(t)
	data := stateDictZipArgs(t, names, shapes, 224) // the synthetic grid is img_size 8
	load := func(o Options) (*Model, *Info, error) { return LoadFrom(bytes.NewReader(data), int64(len(data)), o) }
	_, _, err := load(Options{})
	if err == nil || !strings.Contains(err.Error(), "args.input_size 224 does not fit the weights: their 2×2 pos_embed grid (patch 4) is img_size 8 at stride 4") ||
		!strings.Contains(err.Error(), "--img-size N overrides them") || strings.Contains(err.Error(), "--img-size 224") {
		t.Errorf("no options: %v; want a refusal describing the weights' geometry", err)
	}
	for _, img := range []int{8, 16} {
		m, info, err := load(Options{ImgSize: img})
		if err != nil {
			t.Errorf("--img-size %d: %v; want the user's size to override the args", img, err)
			continue
		}
		if m.Config.ImgSize != img || !strings.Contains(strings.Join(info.Assumed, "\n"), "args.input_size 224 of the training checkpoint ignored") {
			t.Errorf("--img-size %d: img %d, assumed %q", img, m.Config.ImgSize, info.Assumed)
		}
	}
}

// TestArgsDict: args saved as a dict (vars(args)) are read like main.py's
// Namespace: args.model settles the cls placement and args.input_size the
// size.
func TestArgsDict(t *testing.T) {
	names, shapes := syntheticNamesShapes(t)
	const name = "vim_toy_patch4_8_with_midclstok" // patch 4 as the synthetic weights
	data := torchsave.StateDictArgsDict(t, names, shapes, name, 8)
	_, info, err := LoadFrom(bytes.NewReader(data), int64(len(data)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info.ArgsModel != name || info.ArgsInputSize != 8 || info.Layout != "training" || len(info.Warnings) != 0 {
		t.Errorf("args dict: args.model %q, input_size %d, layout %q, warnings %q; want %q, 8, training, none", info.ArgsModel, info.ArgsInputSize, info.Layout, info.Warnings, name)
	}
}

// syntheticNamesShapes returns the sorted tensor names and the shapes of
// fixtures/synthetic/model_zip.pth (a toy Vim: patch 4, 2×2 grid at img 8).
func syntheticNamesShapes(t *testing.T) ([]string, map[string][]int) {
	var names []string
	shapes := map[string][]int{}
	for k, v := range loadSyntheticGolden(t).Files["model_zip.pth"].Tensors {
		names = append(names, k)
		shapes[k] = v.Shape
	}
	sortStrings(names)
	return names, shapes
}

// TestTimmArgsInputSizeFirst: timm's resolve_data_config takes args.input_size
// whenever it is set and args.img_size only when it is not, so a non-square
// input_size (which one evaluation size cannot state) leaves ArgsImgSize unset
// rather than falling back to img_size.
func TestTimmArgsInputSizeFirst(t *testing.T) {
	names, shapes := syntheticNamesShapes(t)
	for _, tc := range []struct {
		input []int64
		img   int64
		want  int
	}{{[]int64{3, 320, 320}, 288, 320}, {nil, 288, 288}, {[]int64{3, 224, 256}, 288, 0}} {
		data := torchsave.StateDictTimmArgs(t, names, shapes, tc.input, tc.img)
		_, info, err := LoadFrom(bytes.NewReader(data), int64(len(data)), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if info.ArgsImgSize != tc.want {
			t.Errorf("args input_size %v img_size %d: ArgsImgSize %d, want %d", tc.input, tc.img, info.ArgsImgSize, tc.want)
		}
	}
}

// TestArgsModelContradictsKwargs: a training checkpoint's args.model states
// the readout (final_pool_mean) and if_divide_out (div2) as --cls-token's
// middle placement is stated by with_midclstok, so a --kwargs value that
// contradicts it is refused like a contradicting --cls-token, and one that
// agrees loads without the readout warning.
func TestArgsModelContradictsKwargs(t *testing.T) {
	names, shapes := syntheticNamesShapes(t)
	var noCls []string // the toy model without its cls token: a 2×2 pos_embed
	for _, n := range names {
		if n != "cls_token" {
			noCls = append(noCls, n)
		}
	}
	pe := slices.Clone(shapes["pos_embed"])
	pe[1]--
	shapes["pos_embed"] = pe
	const name = "vim_toy_patch4_8_bimambav2_final_pool_mean_div2"
	data := torchsave.StateDictArgsDict(t, noCls, shapes, name, 8)
	no, mean := false, "mean"
	for _, tc := range []struct {
		reason  string
		opts    Options
		wantErr string
	}{
		{"another readout than final_pool_mean", Options{FinalPoolType: "none"}, "final_pool_type=none contradicts"},
		{"if_divide_out=False against div2", Options{DivideOut: &no}, "if_divide_out=False contradicts"},
		{"the readout args.model states", Options{FinalPoolType: mean}, ""},
		{"nothing stated", Options{}, ""},
	} {
		_, info, err := LoadFrom(bytes.NewReader(data), int64(len(data)), tc.opts)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.reason, err)
		case tc.wantErr == "" && slices.Contains(info.Warnings, ReadoutGuessWarning):
			t.Errorf("%s: readout warned though args.model states it: %q", tc.reason, info.Warnings)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), name)):
			t.Errorf("%s: error %v, want one containing %q and %s", tc.reason, err, tc.wantErr, name)
		}
	}
}
