package graph_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/internal/modeltest"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
	"github.com/vimconvert/vimconvert/verify"
)

// dynamicTol bounds |dynamic - static| at a size other than the
// checkpoint's: the in-graph float32 Resize against convert's float64
// resampling rounded once to float32 (the bound).
const dynamicTol = 1e-5

// noise returns a seeded N(0, 1) image batch [b, 3, h, w].
func noise(seed uint64, b, h, w int) *runtime.Tensor {
	r := rand.New(rand.NewPCG(seed, 7))
	x := &runtime.Tensor{Shape: []int64{int64(b), 3, int64(h), int64(w)}, Data: make([]float32, b*3*h*w)}
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	return x
}

// resized returns a copy of m adapted to h×w by convert.ResizePosEmbedHW
// (what the static --img-size export does); m is not modified.
func resized(t *testing.T, m *convert.Model, h, w int) *convert.Model {
	t.Helper()
	c := *m
	if err := convert.ResizePosEmbedHW(&c, h, w); err != nil {
		t.Fatal(err)
	}
	return &c
}

// maxDiff is max |a - b| over two outputs of the same shape (+Inf on NaN).
func maxDiff(t *testing.T, name string, a, b *runtime.Tensor) float64 {
	t.Helper()
	if a == nil || b == nil || fmt.Sprint(a.Shape) != fmt.Sprint(b.Shape) {
		t.Fatalf("%s: shapes differ: %v vs %v", name, shapeOf(a), shapeOf(b))
	}
	var d float64
	for i := range a.Data {
		e := math.Abs(float64(a.Data[i]) - float64(b.Data[i]))
		if math.IsNaN(e) {
			return math.Inf(1)
		}
		d = max(d, e)
	}
	return d
}

func shapeOf(t *runtime.Tensor) []int64 {
	if t == nil {
		return nil
	}
	return t.Shape
}

func run(t *testing.T, s *runtime.Session, x *runtime.Tensor) map[string]*runtime.Tensor {
	t.Helper()
	out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: x})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDynamicSizeMatchesStaticORT runs one dynamic-size model of each
// official fixture at several input sizes against the static export of
// each size (--img-size: pos_embed resampled in Go): at the checkpoint's
// own size the embedded tokens must be bit-identical (no resampling), at
// every other size every output within dynamicTol.
func TestDynamicSizeMatchesStaticORT(t *testing.T) {
	tests := []struct {
		reason  string
		fixture string
		sizes   [][2]int // H, W
	}{
		{"Vim-T d2: native 224, smaller, larger, 512, non-square", "vim_t_d2", [][2]int{{224, 224}, {160, 160}, {288, 288}, {512, 512}, {192, 320}}},
		{"stride 8 (27×27 grid at 224): native, larger, non-square", "vim_t_stride8_d2", [][2]int{{224, 224}, {256, 256}, {160, 232}}},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			g := loadGolden(t, repo.Fixture(tc.fixture))
			opts := graph.Options{PerLayer: true, Features: true}
			dopts := opts
			dopts.DynamicSize = true
			dyn := ortSession(t, modeltest.File(t, g.model, dopts))
			for i, hw := range tc.sizes {
				native := hw[0] == g.model.Config.ImgSize && hw[1] == g.model.Config.ImgSize
				st := ortSession(t, modeltest.File(t, resized(t, g.model, hw[0], hw[1]), opts))
				x := noise(uint64(i), 1, hw[0], hw[1])
				got, want := run(t, dyn, x), run(t, st, x)
				for _, name := range st.OutputNames() {
					d := maxDiff(t, name, got[name], want[name])
					tol := dynamicTol
					if native && name == "embed_tokens" {
						tol = 0 // same pos_embed values: the Resize at scale 1 is the identity
					}
					if d > tol {
						t.Errorf("%s %dx%d: %s: dynamic vs static max|d| = %.3g > %g", tc.reason, hw[0], hw[1], name, d, tol)
					}
				}
				t.Logf("%dx%d: logits max|d| = %.3g", hw[0], hw[1], maxDiff(t, graph.LogitsName, got[graph.LogitsName], want[graph.LogitsName]))
			}
		})
	}
}

// TestDynamicSizeClsPlacementsORT checks every cls placement (and the
// other readouts) of a small synthetic model against the Go reference of
// the model resized to each size, square and not: the cls token is
// inserted at (h·w)//2, 0 or both ends of the grid of each input.
func TestDynamicSizeClsPlacementsORT(t *testing.T) {
	sizes := [][2]int{{16, 16}, {24, 24}, {12, 20}, {28, 8}, {4, 4}}
	specs := []struct {
		reason string
		spec   graphtest.Spec
	}{
		{"middle (every released model)", graphtest.Spec{ClsToken: convert.ClsMiddle, Seed: 1}},
		{"head", graphtest.Spec{ClsToken: convert.ClsHead, Seed: 2}},
		{"double: head and tail averaged", graphtest.Spec{ClsToken: convert.ClsDouble, Seed: 3}},
		{"none, mean pooling", graphtest.Spec{ClsToken: convert.ClsNone, FinalPoolType: "mean", Seed: 4}},
		{"none, last token", graphtest.Spec{ClsToken: convert.ClsNone, FinalPoolType: "none", Seed: 5}},
		{"stride 2 < patch 4 (overlapping patches), no head", graphtest.Spec{Stride: 2, NoHead: true, Seed: 6}},
		{"no pos_embed", graphtest.Spec{NoPosEmbed: true, Seed: 7}},
	}
	for _, sc := range specs {
		t.Run(sc.reason, func(t *testing.T) {
			m := graphtest.Model(sc.spec)
			s := ortSession(t, modeltest.File(t, m, graph.Options{DynamicSize: true}))
			out := s.OutputNames()[0]
			for i, hw := range sizes {
				x := noise(uint64(10+i), 2, hw[0], hw[1])
				got := run(t, s, x)[out]
				ref, err := verify.Forward(resized(t, m, hw[0], hw[1]), x.Data, [4]int{2, 3, hw[0], hw[1]}, verify.Options{Precision: verify.Float64})
				if err != nil {
					t.Fatal(err)
				}
				want := ref.Logits
				var d float64
				for j, v := range want.Data {
					d = max(d, math.Abs(float64(got.Data[j])-v))
				}
				if fmt.Sprint(got.Shape) != fmt.Sprint(toI64(want.Shape)) || !(d <= 1e-5) {
					t.Errorf("%dx%d: %s %v vs reference %v: max|d| = %.3g", hw[0], hw[1], out, got.Shape, want.Shape, d)
				}
			}
		})
	}
}

// TestDynamicSizeMetadata checks the model's symbolic input and metadata.
func TestDynamicSizeMetadata(t *testing.T) {
	m := graphtest.Model(graphtest.Spec{})
	mp, err := graph.Build(m, graph.Options{DynamicSize: true})
	if err != nil {
		t.Fatal(err)
	}
	var dims []string
	for _, d := range mp.GetGraph().GetInput()[0].GetType().GetTensorType().GetShape().GetDim() {
		dims = append(dims, fmt.Sprint(d.GetDimParam(), d.GetDimValue()))
	}
	if got := fmt.Sprint(dims); got != "[batch0 3 height0 width0]" {
		t.Errorf("input dims %s, want batch, 3, height, width", got)
	}
	found := false
	for _, p := range mp.GetMetadataProps() {
		found = found || (p.GetKey() == graph.MetaDynamicSize && p.GetValue() == "true")
	}
	if !found {
		t.Errorf("metadata lacks %s=true", graph.MetaDynamicSize)
	}
}

// TestDynamicSizeRefusals checks that Build refuses every combination a
// dynamic-size model does not support with a message naming it and what
// works instead: --dynamic-size with the default, or a fixed --img-size
// with the option.
func TestDynamicSizeRefusals(t *testing.T) {
	m := graphtest.Model(graphtest.Spec{})
	recipe, err := preprocess.ImageNetRecipe(m.Config.ImgSize, preprocess.VimEvalCropPct)
	if err != nil {
		t.Fatal(err)
	}
	fixed := "export one model per size instead (--img-size N, or HxW)"
	for _, tc := range []struct {
		opts graph.Options
		want []string
	}{
		{graph.Options{Scan: graph.ScanStandard}, []string{"--dynamic-size with --scan standard is not supported", "use --dynamic-size with --scan plugin (the default)", fixed + " with --scan standard"}},
		{graph.Options{Scan: graph.ScanLinearAttention}, []string{"--dynamic-size with --scan linear-attention is not supported", "use --dynamic-size with --scan plugin", fixed + " with --scan linear-attention"}},
		{graph.Options{DepthwiseConv: graph.ConvSlice}, []string{"--dynamic-size with --conv slice is not supported", "use --dynamic-size with --conv conv (the default) or --conv plugin", fixed + " with --conv slice"}},
		{graph.Options{InputFormat: graph.InputUint8NHWC, Preprocess: &recipe}, []string{"--dynamic-size with --input-format uint8-nhwc is not supported", "use --dynamic-size with --input-format float32-nchw", fixed + " with --input-format uint8-nhwc"}},
		{graph.Options{DType: graph.DTypeFloat16}, []string{"--dynamic-size with --dtype float16 is not supported", "use --dynamic-size with --dtype float32", fixed + " with --dtype float16"}},
		{graph.Options{DType: graph.DTypeBFloat16}, []string{"--dynamic-size with --dtype bfloat16 is not supported", fixed + " with --dtype bfloat16"}},
	} {
		static := tc.opts
		if _, err := graph.Build(m, static); err != nil {
			t.Errorf("Build(%+v) without --dynamic-size: %v (the alternative the message offers must work)", static, err)
		}
		o := tc.opts
		o.DynamicSize = true
		_, err := graph.Build(m, o)
		if err == nil {
			t.Errorf("Build(%+v) accepted it", o)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Build(%+v): %q lacks %q", o, err, w)
			}
		}
	}
}

// TestDynamicSizeWithImgSize checks that ConvertFile refuses --dynamic-size
// with an --img-size that resamples pos_embed, before writing anything (the
// graph would resample the already resampled grid again: at 224 the model
// was 0.013 from the official vim_t_d2 logits), and accepts the
// checkpoint's own size, which changes nothing.
func TestDynamicSizeWithImgSize(t *testing.T) {
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	dir := t.TempDir()
	for _, tc := range []struct {
		h, w int
		want string
	}{
		{160, 0, "--dynamic-size with --img-size 160 is not supported"},
		{160, 224, "--dynamic-size with --img-size 160x224 is not supported"},
		{224, 0, ""},
	} {
		out := filepath.Join(dir, fmt.Sprintf("m%d_%d.onnx", tc.h, tc.w))
		_, err := graph.ConvertFile(ckpt, out, graph.ConvertOptions{Load: convert.Options{ImgSize: tc.h, ImgWidth: tc.w}, Build: graph.Options{DynamicSize: true}})
		_, statErr := os.Stat(out)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("--img-size %d (the checkpoint's own) with --dynamic-size: %v", tc.h, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "weights' 14×14")):
			t.Errorf("--img-size %d×%d with --dynamic-size: err %v, want one containing %q and the weights' grid", tc.h, tc.w, err, tc.want)
		case tc.want != "" && statErr == nil:
			t.Errorf("--img-size %d×%d with --dynamic-size: refused but %s was written", tc.h, tc.w, out)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%s holds %d entries, want only the accepted model", dir, len(ents))
	}
}
