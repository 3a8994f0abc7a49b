package preprocess

import (
	"strings"
	"testing"
)

func TestImageNetRecipeSizes(t *testing.T) {
	tests := []struct {
		input      int
		cropPct    float64
		wantResize int
		reason     string
	}{
		{224, VimEvalCropPct, 256, "hustvl/Vim default: int(224 / 0.875)"},
		{448, VimEvalCropPct, 512, "a 448 model resizes to int(448 / 0.875)"},
		{384, VimEvalCropPct, 438, "int(438.857...) truncates"},
		{224, 1.0, 224, "timm crop_pct 1.0 (MambaOut): resize to the input size"},
		{224, 0.95, 235, "timm's floor(224 / 0.95) = floor(235.79)"},
	}
	for _, tc := range tests {
		r, err := ImageNetRecipe(tc.input, tc.cropPct)
		if err != nil || r.ResizeShort != tc.wantResize || r.InputSize != tc.input {
			t.Errorf("ImageNetRecipe(%d, %v) = %+v, %v; want resize %d (%s)", tc.input, tc.cropPct, r, err, tc.wantResize, tc.reason)
		}
	}
}

func TestRecipeRefusals(t *testing.T) {
	good, err := ImageNetRecipe(224, VimEvalCropPct)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		edit   func(*Recipe)
		want   string
		reason string
	}{
		{"zero size", func(r *Recipe) { r.InputSize = 0 }, "input_size 0", "no crop"},
		{"huge size", func(r *Recipe) { r.InputSize, r.ResizeShort = 20000, 20000 }, "input_size 20000", "a 1.2 GB crop from untrusted metadata"},
		{"crop beyond resize", func(r *Recipe) { r.ResizeShort = 200 }, "resize_size 200", "torchvision would pad; not reproduced"},
		{"bilinear", func(r *Recipe) { r.Interpolation = "bilinear" }, `interpolation "bilinear"`, "only bicubic is implemented"},
		{"random crop", func(r *Recipe) { r.Crop = "random" }, `crop "random"`, "eval only"},
		{"BGR", func(r *Recipe) { r.ChannelOrder = "BGR" }, `channel_order "BGR"`, "only RGB is produced"},
		{"NHWC", func(r *Recipe) { r.Layout = "NHWC" }, `layout "NHWC"`, "only NCHW is produced"},
		{"zero std", func(r *Recipe) { r.Std[1] = 0 }, "channel 1", "division by zero"},
	}
	for _, tc := range tests {
		r := good
		tc.edit(&r)
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v; want an error with %q (%s)", tc.name, err, tc.want, tc.reason)
		}
	}
	for _, pct := range []float64{0, -0.5, 1.5} {
		if _, err := ImageNetRecipe(224, pct); err == nil {
			t.Errorf("ImageNetRecipe(224, %v) accepted", pct)
		}
	}
}

func TestRecipeJSONRoundTrip(t *testing.T) {
	r, err := ImageNetRecipe(448, VimEvalCropPct)
	if err != nil {
		t.Fatal(err)
	}
	js, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"input_size":448,"resize_size":512,"interpolation":"bicubic","crop":"center","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225],"channel_order":"RGB","layout":"NCHW","crop_pct":0.875}`
	if js != want {
		t.Errorf("JSON() = %s\nwant     %s", js, want)
	}
	back, err := ParseRecipe([]byte(js))
	if err != nil || back != r {
		t.Errorf("ParseRecipe(JSON()) = %+v, %v; want %+v", back, err, r)
	}
	bad := []struct{ json, want, reason string }{
		{strings.Replace(want, `"layout":"NCHW"`, `"layout":"NCHW","extra":1`, 1), "unknown field", "a field this version does not know could change the meaning"},
		{strings.Replace(want, `,"crop":"center"`, ``, 1), `no "crop"`, "a missing field must not default silently"},
		{strings.Replace(want, `"input_size":448`, `"input_size":600`, 1), "resize_size 512", "invalid recipe"},
		{want + `{}`, "after top-level value", "trailing data"},
		{strings.Replace(want, `"crop_pct":0.875`, `"crop_pct":0.9`, 1), "crop_pct 0.9 does not give resize_size 512", "crop_pct must be the one resize_size came from"},
		{strings.Replace(want, `"crop_pct":0.875`, `"crop_pct":1.5`, 1), "crop_pct 1.5", "crop_pct outside (0, 1]"},
		{`[1]`, "recipe JSON", "not an object"},
	}
	for _, tc := range bad {
		if _, err := ParseRecipe([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRecipe(%s) = %v; want %q (%s)", tc.json, err, tc.want, tc.reason)
		}
	}
}

// A recipe recorded before crop_pct existed still parses; its crop fraction is then the
// ratio input_size/resize_size, while a recorded crop_pct is taken as is.
func TestRecipeCropPct(t *testing.T) {
	old := `{"input_size":224,"resize_size":248,"interpolation":"bicubic","crop":"center","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225],"channel_order":"RGB","layout":"NCHW"}`
	r, err := ParseRecipe([]byte(old))
	if err != nil || r.CropPct != 0 || r.EvalCropPct() != 224.0/248 {
		t.Errorf("ParseRecipe(without crop_pct) = %+v, %v; want CropPct 0, EvalCropPct 224/248", r, err)
	}
	r, err = ImageNetRecipe(224, 0.9)
	if err != nil || r.ResizeShort != 248 || r.EvalCropPct() != 0.9 {
		t.Fatalf("ImageNetRecipe(224, 0.9) = %+v, %v; want resize 248, EvalCropPct 0.9", r, err)
	}
	if got := ResizeShortSide(448, r.EvalCropPct()); got != 497 {
		t.Errorf("at 448: resize %d, want int(448/0.9) = 497", got)
	}
}

func TestOutputSizeAndOffsets(t *testing.T) {
	tests := []struct {
		w, h, short, wantW, wantH int
		reason                    string
	}{
		{640, 427, 256, 383, 256, "landscape: int(256*640/427) = int(383.7)"},
		{427, 640, 256, 256, 383, "portrait"},
		{1000, 37, 256, 6918, 256, "extreme aspect: long side int(6918.9)"},
		{7, 5, 448, 627, 448, "tiny image upsampled"},
		{300, 300, 256, 256, 256, "square"},
	}
	for _, tc := range tests {
		if w, h := OutputSize(tc.w, tc.h, tc.short); w != tc.wantW || h != tc.wantH {
			t.Errorf("OutputSize(%d, %d, %d) = %d, %d; want %d, %d (%s)", tc.w, tc.h, tc.short, w, h, tc.wantW, tc.wantH, tc.reason)
		}
	}
	// Python's round(): half to even.
	for _, c := range []struct{ size, crop, want int }{{257, 224, 16}, {259, 224, 18}, {256, 224, 16}, {225, 224, 0}, {227, 224, 2}} {
		if got := centerOffset(c.size, c.crop); got != c.want {
			t.Errorf("centerOffset(%d, %d) = %d, want %d", c.size, c.crop, got, c.want)
		}
	}
}

func TestTensorRefusesBadImages(t *testing.T) {
	r, err := ImageNetRecipe(32, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []*RGB8{nil, {}, {Width: 2, Height: 2, Pix: make([]uint8, 11)}} {
		if x, err := r.Tensor(img); err == nil || x != nil {
			t.Errorf("Tensor(%+v) = %d values, %v; want an error", img, len(x), err)
		}
	}
	crop := &RGB8{Width: 32, Height: 32, Pix: make([]uint8, 3*32*32)}
	if err := r.Normalize(make([]float32, 10), crop); err == nil {
		t.Error("Normalize into a short slice accepted")
	}
}
