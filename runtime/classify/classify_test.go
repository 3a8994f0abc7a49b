package classify

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

func TestTopK(t *testing.T) {
	for _, tc := range []struct {
		why    string
		logits []float32
		k      int
		labels []string
		want   []int
	}{
		{"highest logit first", []float32{1, 3, 2}, 3, nil, []int{1, 2, 0}},
		{"k caps the list", []float32{1, 3, 2}, 1, nil, []int{1}},
		{"k beyond the classes gives every class", []float32{0, 1}, 5, nil, []int{1, 0}},
		{"ties keep the lower index first", []float32{2, 5, 5, 2}, 4, nil, []int{1, 2, 0, 3}},
		{"labels name the classes", []float32{0, 9}, 1, []string{"cat", "dog"}, []int{1}},
		{"large logits do not overflow exp", []float32{1000, 999}, 2, nil, []int{0, 1}},
	} {
		got := TopK(tc.logits, tc.k, tc.labels)
		var idx []int
		for _, p := range got {
			idx = append(idx, p.Index)
			if tc.labels != nil && p.Label != tc.labels[p.Index] {
				t.Errorf("%s: class %d labelled %q", tc.why, p.Index, p.Label)
			}
			if math.IsNaN(p.Prob) || p.Prob <= 0 || p.Prob > 1 {
				t.Errorf("%s: probability %v", tc.why, p.Prob)
			}
		}
		if !reflect.DeepEqual(idx, tc.want) {
			t.Errorf("%s: indices %v, want %v", tc.why, idx, tc.want)
		}
	}
	// softmax of [0, ln 3]: 1/4 and 3/4.
	p := TopK([]float32{0, float32(math.Log(3))}, 2, nil)
	if math.Abs(p[0].Prob-0.75) > 1e-7 || math.Abs(p[1].Prob-0.25) > 1e-7 {
		t.Errorf("softmax of [0, ln 3] = %v, %v; want 0.75, 0.25", p[0].Prob, p[1].Prob)
	}
}

func TestResolveRecipe(t *testing.T) {
	vim448, _ := preprocess.ImageNetRecipe(448, 0.875)
	dyn09, _ := preprocess.ImageNetRecipe(224, 0.9) // resize 248
	old09 := dyn09
	old09.CropPct = 0 // a recipe recorded before crop_pct was
	timm := preprocess.Recipe{InputSize: 224, ResizeShort: 224, Interpolation: preprocess.InterpolationBicubic,
		Crop: preprocess.CropCenter, Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5},
		ChannelOrder: preprocess.ChannelOrderRGB, Layout: preprocess.LayoutNCHW}
	for _, tc := range []struct {
		why        string
		rec        *preprocess.Recipe
		fixed      int
		o          ModelOptions
		size, side int
		notes      int
		err        string
	}{
		{"a 448 model resizes to int(448/0.875)", &vim448, 448, ModelOptions{}, 448, 512, 0, ""},
		{"no recipe: Vim's eval transform, with a note", nil, 224, ModelOptions{}, 224, 256, 1, ""},
		{"--crop-pct overrides the recorded crop", &vim448, 448, ModelOptions{CropPct: 1}, 448, 448, 0, ""},
		{"a fixed-size model refuses another size", &vim448, 448, ModelOptions{ImgSize: 224}, 0, 0, 0, "448x448 images only"},
		{"any-size model: the trained size by default", &timm, -1, ModelOptions{}, 224, 224, 0, ""},
		{"any-size model: --img-size keeps the recorded crop fraction", &timm, -1, ModelOptions{ImgSize: 288}, 288, 288, 0, ""},
		{"any-size model: --img-size 448 at the recorded crop_pct 0.9 resizes to int(448/0.9), not 448*248/224", &dyn09, -1, ModelOptions{ImgSize: 448}, 448, 497, 0, ""},
		{"a recipe without crop_pct: the ratio 224/248 stands in", &old09, -1, ModelOptions{ImgSize: 448}, 448, 496, 0, ""},
		{"any-size model without a recipe needs --img-size", nil, -1, ModelOptions{}, 0, 0, 0, "give --img-size"},
	} {
		var notes []string
		r, err := resolveRecipe("m.onnx", tc.rec, tc.fixed, tc.o, &notes)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.why, err, tc.err)
			}
			continue
		}
		if err != nil || r.InputSize != tc.size || r.ResizeShort != tc.side || len(notes) != tc.notes {
			t.Errorf("%s: %+v, %v, notes %q; want size %d, resize %d, %d notes", tc.why, r, err, notes, tc.size, tc.side, tc.notes)
		}
		if tc.rec != nil && r.Mean != tc.rec.Mean {
			t.Errorf("%s: mean %v, want the recorded %v", tc.why, r.Mean, tc.rec.Mean)
		}
	}
}

func TestExpandPaths(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.JPG", "a.png", "sub/c.bmp", "notes.txt", ".hidden.jpg", ".git/d.png", "e.webp", "f.jfif", "g.TIFF", "h.xcf"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ExpandPaths([]string{"given.txt", dir})
	want := []string{"given.txt", filepath.Join(dir, "a.png"), filepath.Join(dir, "b.JPG"), filepath.Join(dir, "e.webp"),
		filepath.Join(dir, "f.jfif"), filepath.Join(dir, "g.TIFF"), filepath.Join(dir, "sub", "c.bmp")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ExpandPaths = %q, %v; want %q (files as given, directories sorted, hidden and non-image names skipped; WebP and TIFF kept to be reported, not skipped unseen)", got, err, want)
	}
	// Symlinked folders are walked (torchvision's ImageFolder follows them), a link
	// back to an ancestor is not walked again, a broken link is listed to get its error.
	linked := t.TempDir()
	for _, l := range []struct{ target, name string }{
		{filepath.Join(dir, "sub"), "m_sub"}, {linked, "z_loop"}, {filepath.Join(linked, "missing.jpg"), "broken.jpg"},
	} {
		if err := os.Symlink(l.target, filepath.Join(linked, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	got, err = ExpandPaths([]string{linked})
	want = []string{filepath.Join(linked, "broken.jpg"), filepath.Join(linked, "m_sub", "c.bmp")}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ExpandPaths(folder of links) = %q, %v; want %q", got, err, want)
	}
	empty := t.TempDir()
	if _, err := ExpandPaths([]string{empty}); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("empty directory: error %v, want one naming it", err)
	}
}

// fakeModel is a Model whose logits are the first pixel's red byte / 64
// for class 0 ("red") and 1 for class 1 ("dark"), and which fails on a batch holding fail images.
func fakeModel(t *testing.T, fail int) *Model {
	r, err := preprocess.ImageNetRecipe(8, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := &Model{Recipe: r, Format: graph.InputUint8NHWC, Classes: 2, Labels: []string{"red", "dark"}}
	m.logits = func(_ []float32, u8 []uint8, n int) ([]float32, error) {
		if n == fail {
			return nil, errors.New("model failed")
		}
		out := make([]float32, 2*n)
		for i := range n {
			out[2*i], out[2*i+1] = float32(u8[i*8*8*3])/64, 1
		}
		return out, nil
	}
	return m
}

func writePNG(t *testing.T, path string, red uint8) {
	t.Helper()
	// 8x8 RGB PNG with a single colour, built with the standard library.
	var b bytes.Buffer
	if err := encodeSolidPNG(&b, 8, 8, red); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestClassifyKeepsOrderAndReportsBadFiles(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i, red := range []uint8{255, 0, 255, 0, 255} {
		p := filepath.Join(dir, string(rune('a'+i))+".png")
		writePNG(t, p, red)
		files = append(files, p)
	}
	bad := filepath.Join(dir, "c_bad.png")
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	files = append(files[:3], append([]string{bad}, files[3:]...)...)
	for _, batch := range []int{1, 2, 4, 8} {
		var got []Result
		st, err := fakeModel(t, -1).Classify(context.Background(), files, Options{TopK: 1, Batch: batch, Workers: 2}, func(r Result) error {
			got = append(got, r)
			return nil
		})
		if err != nil || st.Files != len(files) || st.Failed != 1 {
			t.Fatalf("batch %d: stats %+v, err %v; want %d files, 1 failed", batch, st, err, len(files))
		}
		for i, r := range got {
			if r.File != files[i] {
				t.Fatalf("batch %d: result %d is %s, want %s (file order)", batch, i, r.File, files[i])
			}
			if r.File == bad {
				if r.Err == nil || r.Top != nil || !strings.Contains(r.Error, "c_bad.png") {
					t.Errorf("batch %d: bad file result %+v, want an error naming it", batch, r)
				}
				continue
			}
			want := "dark"
			if strings.HasSuffix(r.File, "a.png") || strings.HasSuffix(r.File, "c.png") || strings.HasSuffix(r.File, "e.png") {
				want = "red"
			}
			if r.Err != nil || len(r.Top) != 1 || r.Top[0].Label != want {
				t.Errorf("batch %d: %s: %+v, want top class %s", batch, r.File, r, want)
			}
		}
	}
	// A failing model run fails the files of that batch only.
	var errs int
	_, err := fakeModel(t, 2).Classify(context.Background(), files, Options{Batch: 3}, func(r Result) error {
		if r.Err != nil {
			errs++
		}
		return nil
	})
	// Batches of 3: [a b c] runs 3, [c_bad d e] runs 2 and fails: 3 errors.
	if err != nil || errs != 3 {
		t.Errorf("model failure: %d file errors, err %v; want 3 (the failing batch and the bad file)", errs, err)
	}
}

func TestWriteResultJSON(t *testing.T) {
	var b bytes.Buffer
	r := Result{File: "x.jpg", Top: []Prediction{{Index: 3, Label: "tiger shark", Prob: 0.5}}}
	if err := WriteResult(&b, r, true); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != `{"file":"x.jpg","top":[{"index":3,"label":"tiger shark","prob":0.5}]}`+"\n" {
		t.Errorf("JSON line %q", got)
	}
	b.Reset()
	if err := WriteResult(&b, Result{File: "y.jpg", Err: errors.New("y.jpg: empty file")}, true); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != `{"file":"y.jpg","error":"y.jpg: empty file"}`+"\n" {
		t.Errorf("JSON error line %q", got)
	}
	b.Reset()
	_ = WriteResult(&b, Result{File: "z", Top: []Prediction{{Index: 7, Prob: 1}}}, true)
	if strings.Contains(b.String(), "label") {
		t.Errorf("a head without labels printed a label: %q", b.String())
	}
}

func TestRecordedRecipe(t *testing.T) {
	vim, _ := preprocess.ImageNetRecipe(224, preprocess.VimEvalCropPct)
	vimJSON, _ := vim.JSON()
	for _, tc := range []struct {
		why   string
		meta  map[string]string
		fixed int
		side  int // resize side of the recipe; 0: none recorded
		err   string
	}{
		{"a vimconvert recipe is read as recorded", map[string]string{graph.MetaPreprocessRecipe: vimJSON}, 224, 256, ""},
		{"nothing recorded", map[string]string{}, 224, 0, ""},
		{"MambaOut's older form: timm's crop_pct 1.0", map[string]string{graph.MetaPreprocess: `{"input_size":224,"crop_pct":1,"interpolation":"bicubic","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}`}, -1, 224, ""},
		{"a recipe for another size than the input would misfeed it", map[string]string{graph.MetaPreprocessRecipe: vimJSON}, 448, 0, "takes 448"},
		{"malformed recipe JSON names the key", map[string]string{graph.MetaPreprocessRecipe: `{"input_size":`}, 224, 0, graph.MetaPreprocessRecipe},
		{"an interpolation preprocess does not implement", map[string]string{graph.MetaPreprocess: `{"input_size":224,"crop_pct":1,"interpolation":"bilinear"}`}, -1, 0, "bilinear"},
	} {
		r, err := recordedRecipe("m.onnx", tc.meta, tc.fixed)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.why, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.why, err)
		case tc.side == 0 && r != nil, tc.side != 0 && (r == nil || r.ResizeShort != tc.side):
			t.Errorf("%s: recipe %+v, want resize side %d", tc.why, r, tc.side)
		}
	}
}

func TestWriteResultText(t *testing.T) {
	var b bytes.Buffer
	r := Result{File: "x.jpg", Top: []Prediction{{Index: 3, Label: "tiger shark", Prob: 0.5}, {Index: 12, Prob: 0.25}}}
	if err := WriteResult(&b, r, false); err != nil {
		t.Fatal(err)
	}
	// One line per class; a class without a name ends at its index.
	if want := "x.jpg\n  0.5000     3  tiger shark\n  0.2500    12\n"; b.String() != want {
		t.Errorf("text %q, want %q", b.String(), want)
	}
	b.Reset()
	_ = WriteResult(&b, Result{File: "y.jpg", Err: errors.New("y.jpg: empty file")}, false)
	if want := "y.jpg: error: y.jpg: empty file\n"; b.String() != want {
		t.Errorf("text error %q, want %q", b.String(), want)
	}
}
