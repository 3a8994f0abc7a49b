package convert_test

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// Golden data: convert/testdata/resize/make_golden.py (real PyTorch 1.13
// F.interpolate, bicubic, align_corners=False).
const resizeDir = "testdata/resize"

// torchTol: PyTorch interpolates float32 data in float32 arithmetic, we in
// float64; the golden values are O(1).
const torchTol = 2e-6

func readNpy(t *testing.T, name string) *npy.Array {
	t.Helper()
	a, err := npy.ReadFile(filepath.Join(resizeDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func f32(t *testing.T, a *npy.Array) []float32 {
	t.Helper()
	return a.Float32()
}

// nchwToHWC turns [1, C, H, W] into [H, W, C] float64.
func nchwToHWC(d []float32, c, h, w int) []float64 {
	out := make([]float64, len(d))
	for ci := 0; ci < c; ci++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				out[(y*w+x)*c+ci] = float64(d[(ci*h+y)*w+x])
			}
		}
	}
	return out
}

func TestBicubicResizeMatchesTorch(t *testing.T) {
	in := readNpy(t, "grid_in.npy")
	if len(in.Shape) != 4 || in.Shape[0] != 1 {
		t.Fatalf("grid_in shape %v", in.Shape)
	}
	c, h, w := in.Shape[1], in.Shape[2], in.Shape[3]
	src := nchwToHWC(f32(t, in), c, h, w)
	cases := []struct {
		reason string
		file   string
		size   int
	}{
		{"upsample 14 -> 28 (224 -> 448 at patch 16)", "grid_28.npy", 28},
		{"downsample 14 -> 9: neighbours clamped, no antialias", "grid_9.npy", 9},
		{"same size is the identity", "grid_14.npy", 14},
	}
	for _, tc := range cases {
		want := nchwToHWC(f32(t, readNpy(t, tc.file)), c, tc.size, tc.size)
		got := convert.BicubicResize(src, h, w, c, tc.size, tc.size)
		var d float64
		for i := range want {
			d = max(d, math.Abs(got[i]-want[i]))
		}
		t.Logf("%s: max|d| = %.3g", tc.reason, d)
		if d > torchTol || len(got) != len(want) {
			t.Errorf("%s: max|d| = %.3g > %g (len %d, want %d)", tc.reason, d, torchTol, len(got), len(want))
		}
	}
}

// posModel returns a model with only what ResizePosEmbed reads: a 14×14
// patch-16 geometry and pos_embed rows from the golden input.
func posModel(t *testing.T, cls convert.ClsToken) *convert.Model {
	t.Helper()
	pe := readNpy(t, "pos_in.npy") // [1, 197, 8]
	data := f32(t, pe)
	c := convert.Config{EmbedDim: 8, PatchSize: 16, Stride: 16, ImgSize: 224,
		AbsPosEmbed: true, ClsToken: cls}
	L := 196
	switch cls {
	case convert.ClsMiddle:
		L = 197
	case convert.ClsHead:
		L = 197
	case convert.ClsDouble:
		L = 198
		data = append(append([]float32(nil), data...), data[8:16]...) // a tail row
	default:
		data = data[8:] // the 196 rows after the first
	}
	return &convert.Model{Config: c, PosEmbed: &convert.Tensor{Name: "pos_embed", Shape: []int{1, L, 8}, DType: "float32", Data: data}}
}

func TestResizePosEmbedMatchesTorch(t *testing.T) {
	cases := []struct {
		reason string
		cls    convert.ClsToken
		file   string
	}{
		{"middle cls: row 98 is the cls row, re-inserted at 392", convert.ClsMiddle, "pos_mid_28.npy"},
		{"head cls: row 0 (what vim/main.py assumes for every model)", convert.ClsHead, "pos_head_28.npy"},
	}
	for _, tc := range cases {
		m := posModel(t, tc.cls)
		if err := convert.ResizePosEmbed(m, 448); err != nil {
			t.Fatal(err)
		}
		want := f32(t, readNpy(t, tc.file))
		if got := m.PosEmbed.Shape; len(got) != 3 || got[1] != 785 || got[2] != 8 {
			t.Fatalf("%s: pos_embed shape %v, want [1 785 8]", tc.reason, got)
		}
		var d float64
		for i := range want {
			d = max(d, math.Abs(float64(m.PosEmbed.Data[i])-float64(want[i])))
		}
		t.Logf("%s: max|d| = %.3g", tc.reason, d)
		if d > torchTol {
			t.Errorf("%s: max|d| = %.3g > %g", tc.reason, d, torchTol)
		}
		c := m.Config
		wantPos := 392
		if tc.cls == convert.ClsHead {
			wantPos = 0
		}
		if c.ImgSize != 448 || c.GridSize() != 28 || c.NumPatches() != 784 || c.SeqLen() != 785 || c.ClsTokenPosition() != wantPos {
			t.Errorf("%s: config img %d grid %d patches %d seq %d cls@%d", tc.reason, c.ImgSize, c.GridSize(), c.NumPatches(), c.SeqLen(), c.ClsTokenPosition())
		}
	}
	// The two readings of the same weights differ: the official fine-tune
	// interpolation (row 0 = cls) is wrong for a middle-cls model.
	mid, head := f32(t, readNpy(t, "pos_mid_28.npy")), f32(t, readNpy(t, "pos_head_28.npy"))
	var d float64
	for i := range mid {
		d = max(d, math.Abs(float64(mid[i]-head[i])))
	}
	if d < 0.1 {
		t.Errorf("middle and head goldens differ by only %.3g: the golden does not tell the two apart", d)
	}
}

func TestResizePosEmbedClsPlacements(t *testing.T) {
	// double: rows 0 and last kept; none: every row resized as the grid.
	m := posModel(t, convert.ClsDouble)
	orig := append([]float32(nil), m.PosEmbed.Data...)
	if err := convert.ResizePosEmbed(m, 144); err != nil { // 9×9 grid
		t.Fatal(err)
	}
	c := m.Config
	if c.SeqLen() != 83 || c.NumPatches() != 81 || c.GridSize() != 9 || c.ClsTokenPosition() != 0 || len(m.PosEmbed.Data) != 83*8 {
		t.Fatalf("double: config %+v, %d values", c, len(m.PosEmbed.Data))
	}
	for j := 0; j < 8; j++ {
		if m.PosEmbed.Data[j] != orig[j] || m.PosEmbed.Data[82*8+j] != orig[197*8+j] {
			t.Fatalf("double: cls rows not kept at channel %d", j)
		}
	}

	m = posModel(t, convert.ClsNone)
	src := make([]float64, len(m.PosEmbed.Data))
	for i, v := range m.PosEmbed.Data {
		src[i] = float64(v)
	}
	want := convert.BicubicResize(src, 14, 14, 8, 9, 9)
	if err := convert.ResizePosEmbed(m, 144); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if m.PosEmbed.Data[i] != float32(w) {
			t.Fatalf("none: row %d differs from the plain grid resize", i/8)
		}
	}
	if m.Config.ClsTokenPosition() != -1 || m.Config.SeqLen() != 81 {
		t.Errorf("none: config %+v", m.Config)
	}

	// Same size: untouched (same tensor).
	m = posModel(t, convert.ClsMiddle)
	pe := m.PosEmbed
	if err := convert.ResizePosEmbed(m, 224); err != nil || m.PosEmbed != pe {
		t.Errorf("resize to the current size changed the model (err %v)", err)
	}

	// No pos_embed: geometry only.
	m = posModel(t, convert.ClsMiddle)
	m.PosEmbed = nil
	if err := convert.ResizePosEmbed(m, 1248); err != nil {
		t.Fatal(err)
	}
	if m.Config.NumPatches() != 78*78 || m.Config.ClsTokenPosition() != 78*78/2 || m.Config.SeqLen() != 78*78+1 {
		t.Errorf("no pos_embed: config %+v", m.Config)
	}
}

func TestResizePosEmbedRejects(t *testing.T) {
	cases := []struct {
		reason  string
		img     int
		mutate  func(m *convert.Model)
		wantErr string
	}{
		{"not a multiple of the stride", 230, nil, "does not fit patch 16 and stride 16"},
		{"smaller than a patch", 8, nil, "smaller than the patch size"},
		{"zero", 0, nil, "smaller than the patch size"},
		{"pos_embed rows disagree with the config", 448, func(m *convert.Model) { m.PosEmbed.Shape = []int{1, 196, 8} }, "want [1, 197, D]"},
		{"unknown cls placement", 448, func(m *convert.Model) { m.Config.ClsToken = "left" }, "unknown cls token placement"},
		{"grid beyond MaxSeqLen", 16 * 257, nil, "257×257 grid, more than the 65536 tokens"},
		{"grid² overflows int", 16 << 36, nil, "more than the 65536 tokens"},
		{"256×256 patches plus cls beyond MaxSeqLen", 16 * 256, nil, "65536 patches + 1 cls tokens exceed"},
		{"pos_embed values beyond MaxPosEmbedValues", 16 * 255, func(m *convert.Model) {
			// 65026 tokens × 1100 channels = 71.5M values > 2^26
			m.PosEmbed = &convert.Tensor{Name: "pos_embed", Shape: []int{1, 197, 1100}, DType: "float32", Data: make([]float32, 197*1100)}
		}, "would hold more than 67108864 values"},
	}
	for _, tc := range cases {
		m := posModel(t, convert.ClsMiddle)
		if tc.mutate != nil {
			tc.mutate(m)
		}
		before := m.Config
		err := convert.ResizePosEmbed(m, tc.img)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want %q", tc.reason, err, tc.wantErr)
		}
		if m.Config != before {
			t.Errorf("%s: config changed on error", tc.reason)
		}
	}
	if err := convert.ResizePosEmbed(nil, 224); err == nil {
		t.Error("nil model accepted")
	}
}

// TestLoadImgSizeResizes: an --img-size the weights cannot have is a resize
// (noted in Info); one they can have is not.
func TestLoadImgSizeResizes(t *testing.T) {
	ckpt := filepath.Join(repo.Fixture("vim_t_d2"), "checkpoint.pth")
	base, _, err := convert.Load(ckpt, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, info, err := convert.Load(ckpt, convert.Options{ImgSize: 448})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if c.ImgSize != 448 || c.GridSize() != 28 || c.NumPatches() != 784 || c.SeqLen() != 785 || c.ClsTokenPosition() != 392 || c.Stride != 16 {
		t.Errorf("config after --img-size 448: %+v", c)
	}
	if err := convert.ResizePosEmbed(base, 448); err != nil {
		t.Fatal(err)
	}
	for i, v := range base.PosEmbed.Data {
		if m.PosEmbed.Data[i] != v {
			t.Fatalf("pos_embed[%d] = %g, want %g (ResizePosEmbed of the 224 model)", i, m.PosEmbed.Data[i], v)
		}
	}
	noted := false
	for _, a := range info.Assumed {
		noted = noted || strings.Contains(a, "resampled bicubically from the weights' 14×14 grid (img_size 224) to 28×28 for img_size 448")
	}
	if !noted {
		t.Errorf("Info.Assumed does not list the resize: %q", info.Assumed)
	}

	// The stride-8 fixture at its own size: no resize; at 448: 55×55 at stride 8.
	s8 := filepath.Join(repo.Fixture("vim_t_stride8_d2"), "checkpoint.pth")
	m, info, err = convert.Load(s8, convert.Options{ImgSize: 224})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.GridSize() != 27 || m.Config.Stride != 8 || strings.Contains(strings.Join(info.Assumed, "\n"), "resampled") {
		t.Errorf("stride-8 at 224: grid %d stride %d, assumed %q", m.Config.GridSize(), m.Config.Stride, info.Assumed)
	}
	m, _, err = convert.Load(s8, convert.Options{ImgSize: 448})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.GridSize() != 55 || m.Config.Stride != 8 || m.Config.SeqLen() != 55*55+1 {
		t.Errorf("stride-8 at 448: grid %d stride %d seq %d", m.Config.GridSize(), m.Config.Stride, m.Config.SeqLen())
	}
}

// TestResizePosEmbedNonSquare resizes a middle-cls pos_embed to a 12×20
// grid (192×320 pixels) against PyTorch in float64, and checks the
// geometry a non-square Config reports. The float32 output may differ
// from the float64 golden by its own rounding (values are O(1), |v| < 8).
func TestResizePosEmbedNonSquare(t *testing.T) {
	const f32Rounding = 8 * 0x1p-24 // half an ulp of float32 below 8
	m := posModel(t, convert.ClsMiddle)
	if err := convert.ResizePosEmbedHW(m, 192, 320); err != nil {
		t.Fatal(err)
	}
	want := readNpy(t, "pos_mid_12x20.npy").F64
	if got := m.PosEmbed.Shape; len(got) != 3 || got[1] != 241 || got[2] != 8 || len(want) != 241*8 {
		t.Fatalf("pos_embed shape %v, want [1 241 8] (golden holds %d float64 values)", got, len(want))
	}
	var d float64
	for i := range want {
		d = max(d, math.Abs(float64(m.PosEmbed.Data[i])-want[i]))
	}
	t.Logf("14x14 -> 12x20: max|d| = %.3g", d)
	if d > f32Rounding {
		t.Errorf("max|d| = %.3g > %g", d, f32Rounding)
	}
	c := m.Config
	gh, gw := c.GridHW()
	if c.ImgSize != 192 || c.Width() != 320 || c.Square() || gh != 12 || gw != 20 || c.NumPatches() != 240 || c.SeqLen() != 241 || c.ClsTokenPosition() != 120 {
		t.Errorf("config %d×%d grid %d×%d patches %d seq %d cls@%d", c.ImgSize, c.Width(), gh, gw, c.NumPatches(), c.SeqLen(), c.ClsTokenPosition())
	}
	// Back to square: ImgWidth is cleared, so the JSON is a square model's.
	if err := convert.ResizePosEmbedHW(m, 224, 224); err != nil {
		t.Fatal(err)
	}
	if m.Config.ImgWidth != 0 || !m.Config.Square() {
		t.Errorf("after resizing to 224×224: img_width %d", m.Config.ImgWidth)
	}
}

// TestCheckImageSide checks the sizes accepted and the nearest sizes named.
func TestCheckImageSide(t *testing.T) {
	tests := []struct {
		reason  string
		what    string
		n, p, s int
		wantErr string // "" = fits
	}{
		{"224 at patch 16 stride 16", "height", 224, 16, 16, ""},
		{"one patch is the smallest size", "width", 16, 16, 16, ""},
		{"stride 8: 232 = 16 + 27·8", "width", 232, 16, 8, ""},
		{"450 names 448 and 464", "height", 450, 16, 16, "height 450 does not fit patch 16 and stride 16: (450 - 16) is not a multiple of 16 (try 448 or 464)"},
		{"below the patch names the patch", "width", 10, 16, 16, "width 10 is smaller than the patch size 16 (smallest: 16)"},
		{"bad model geometry", "img size", 224, 0, 16, "model has patch size 0 and stride 16"},
	}
	for _, tc := range tests {
		err := convert.CheckImageSide(tc.what, tc.n, tc.p, tc.s)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.wantErr {
			t.Errorf("%s: error %q, want %q", tc.reason, got, tc.wantErr)
		}
	}
}

// TestLoadNonSquare loads a checkpoint at --img-size HxW: pos_embed is
// resampled once from the weights' grid (equal to ResizePosEmbedHW of the
// native model), noted in Info.Assumed; a width off the stride is refused.
func TestLoadNonSquare(t *testing.T) {
	ckpt := filepath.Join(repo.Fixture("vim_t_d2"), "checkpoint.pth")
	base, _, err := convert.Load(ckpt, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		reason string
		h, w   int
		note   string
	}{
		{"both sides resized", 192, 320, "to 12×20 for img_size 192×320"},
		{"native height, other width", 224, 448, "to 14×28 for img_size 224×448"},
	}
	for _, tc := range tests {
		m, info, err := convert.Load(ckpt, convert.Options{ImgSize: tc.h, ImgWidth: tc.w})
		if err != nil {
			t.Fatal(err)
		}
		want := *base
		if err := convert.ResizePosEmbedHW(&want, tc.h, tc.w); err != nil {
			t.Fatal(err)
		}
		if m.Config != want.Config || len(m.PosEmbed.Data) != len(want.PosEmbed.Data) {
			t.Fatalf("%s: config %+v, want %+v", tc.reason, m.Config, want.Config)
		}
		for i, v := range want.PosEmbed.Data {
			if m.PosEmbed.Data[i] != v {
				t.Fatalf("%s: pos_embed[%d] = %g, want %g", tc.reason, i, m.PosEmbed.Data[i], v)
			}
		}
		if !strings.Contains(strings.Join(info.Assumed, "\n"), tc.note) {
			t.Errorf("%s: Info.Assumed %q lacks %q", tc.reason, info.Assumed, tc.note)
		}
	}
	if _, _, err := convert.Load(ckpt, convert.Options{ImgSize: 224, ImgWidth: 230}); err == nil || !strings.Contains(err.Error(), "width 230 does not fit patch 16 and stride 16") {
		t.Errorf("width 230: err = %v", err)
	}
	for _, s := range []struct{ in, want string }{{"512", "512 512"}, {"192x320", "192 320"}, {"192×320", "192 320"}, {"0x5", "error"}, {"12x", "error"}, {"a", "error"}} {
		h, w, err := convert.ParseImageSize(s.in)
		got := fmt.Sprint(h, " ", w)
		if err != nil {
			got = "error"
		}
		if got != s.want {
			t.Errorf("ParseImageSize(%q) = %s, want %s", s.in, got, s.want)
		}
	}
}
