package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/modeltest"
	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/runtime/classify"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

// imagesDir holds the images of the preprocessing fixtures and their
// manifest (python3-pil + python3-torchvision, scripts/make-preprocess-fixtures.py).
var imagesDir = repo.Path("runtime/preprocess/testdata")

// preprocessManifest is the part of the fixtures' manifest.json these tests
// read: per image, the sha256 of torchvision's float32 tensor per recipe.
type preprocessManifest struct {
	Images []struct {
		File    string `json:"file"`
		Results map[string]struct {
			TensorSHA256 string `json:"tensor_sha256"`
		} `json:"results"`
	} `json:"images"`
	Bad map[string]string `json:"bad"`
}

func readPreprocessManifest(t *testing.T) preprocessManifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(imagesDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m preprocessManifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Images) == 0 || len(m.Bad) == 0 {
		t.Fatal("manifest lists no images or no bad files")
	}
	return m
}

// photos are the real photographs among the fixture images.
var photos = []string{"photo_chelsea.png", "photo_hubble_deep_field.jpg", "photo_retina.jpg", "photo_rocket.jpg"}

// TestPreprocessCommandMatchesTorchvision checks that `vimconvert
// preprocess` writes, for every fixture image, the very tensor that
// python3-pil + python3-torchvision made with hustvl/Vim's eval transform.
func TestPreprocessCommandMatchesTorchvision(t *testing.T) {
	bin, dir := vimconvertBin(t)
	m := readPreprocessManifest(t)
	out := t.TempDir()
	n := map[int]int{}
	for _, im := range m.Images {
		for _, size := range []int{224, 448} { // hustvl/Vim's crop 0.875: resize 256 and 512
			want, ok := im.Results[fmt.Sprintf("vim%d", size)]
			if !ok {
				continue
			}
			n[size]++
			npyPath := filepath.Join(out, fmt.Sprintf("%s.%d.npy", im.File, size))
			_, stderr, code := runCLI(t, bin, dir, "preprocess", filepath.Join(imagesDir, "images", im.File), "-o", npyPath, "--img-size", fmt.Sprint(size))
			if code != 0 {
				t.Errorf("preprocess %s: exit %d: %s", im.File, code, stderr)
				continue
			}
			a, err := npy.ReadFile(npyPath)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("[1 3 %d %d]", size, size); fmt.Sprint(a.Shape) != want {
				t.Errorf("%s: shape %v, want %s", im.File, a.Shape, want)
			}
			raw := make([]byte, 4*len(a.F32))
			for i, v := range a.F32 {
				binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
			}
			if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != want.TensorSHA256 {
				t.Errorf("%s at %d: tensor differs from torchvision's (sha256)", im.File, size)
			}
		}
	}
	if n[224] < 20 || n[448] < 2 {
		t.Fatalf("only %v images per size with a tensor in the manifest", n)
	}
	// A bad image leaves no output and says why.
	npyPath := filepath.Join(out, "bad.npy")
	_, stderr, code := runCLI(t, bin, dir, "preprocess", filepath.Join(imagesDir, "bad", "truncated.jpg"), "-o", npyPath)
	if _, err := os.Stat(npyPath); code != 1 || !strings.Contains(stderr, "truncated.jpg") || err == nil {
		t.Errorf("truncated.jpg: exit %d (want 1), output exists: %v, stderr %q", code, err == nil, stderr)
	}
}

// jsonLine is one line of `classify --json`.
type jsonLine struct {
	File  string                `json:"file"`
	Top   []classify.Prediction `json:"top"`
	Error string                `json:"error"`
}

func classifyJSON(t *testing.T, bin, dir string, args ...string) ([]jsonLine, string, int) {
	t.Helper()
	stdout, stderr, code := runCLI(t, bin, dir, append([]string{"classify", "--json"}, args...)...)
	var lines []jsonLine
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var l jsonLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("classify --json line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines, stderr, code
}

// TestClassifyAgreesWithPredict runs `classify` on the photos (batch 1 and
// 8, ONNX model and checkpoint) and checks each against `predict` on the
// tensor `preprocess` wrote: same top-5 classes, same probabilities.
func TestClassifyAgreesWithPredict(t *testing.T) {
	requireRuntime(t)
	bin, dir := vimconvertBin(t)
	ckpt := filepath.Join(repo.Fixture("vim_t_d2"), "checkpoint.pth")
	tmp := t.TempDir()
	model := filepath.Join(tmp, "vim.onnx")
	if _, stderr, code := runCLI(t, bin, dir, "convert", ckpt, "-o", model); code != 0 {
		t.Fatalf("convert: %s", stderr)
	}
	var files []string
	want := map[string][]classify.Prediction{}
	for _, p := range photos {
		img := filepath.Join(imagesDir, "images", p)
		files = append(files, img)
		x, y := filepath.Join(tmp, p+".x.npy"), filepath.Join(tmp, p+".y.npy")
		if _, stderr, code := runCLI(t, bin, dir, "preprocess", img, "-o", x); code != 0 {
			t.Fatalf("preprocess %s: %s", p, stderr)
		}
		if _, stderr, code := runCLI(t, bin, dir, "predict", "--model", model, "--input", x, "--output", y); code != 0 {
			t.Fatalf("predict %s: %s", p, stderr)
		}
		logits, err := npy.ReadFile(y)
		if err != nil {
			t.Fatal(err)
		}
		want[img] = classify.TopK(logits.F32, 5, preprocess.ImageNetLabels())
	}
	for _, tc := range []struct {
		name string
		args []string
		tol  float64 // on probabilities
	}{
		// Same ORT session kind and batch size as predict: identical logits.
		{"onnx batch 1", []string{model, "--batch", "1"}, 1e-12},
		// Batched GEMMs may round differently from batch 1 in the last bits.
		{"onnx batch 8", []string{model, "--batch", "8", "--threads", "2"}, 1e-6},
		// The Go reference agrees with ORT within the parity tolerance on logits.
		{"checkpoint", []string{ckpt, "--batch", "2"}, parityTol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines, stderr, code := classifyJSON(t, bin, dir, append(tc.args, files...)...)
			if code != 0 || len(lines) != len(files) {
				t.Fatalf("exit %d, %d lines for %d files; stderr: %s", code, len(lines), len(files), stderr)
			}
			for i, l := range lines {
				if l.File != files[i] {
					t.Fatalf("line %d is %s, want %s (file order)", i, l.File, files[i])
				}
				comparePredictions(t, l.File, l.Top, want[l.File], tc.tol)
			}
		})
	}
}

func comparePredictions(t *testing.T, file string, got, want []classify.Prediction, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d classes, want %d", file, len(got), len(want))
	}
	for k := range want {
		if got[k].Index != want[k].Index || got[k].Label != want[k].Label || math.Abs(got[k].Prob-want[k].Prob) > tol {
			t.Errorf("%s rank %d: got %+v, predict gives %+v (tol %g)", file, k, got[k], want[k], tol)
		}
	}
}

// TestClassifyBadFiles classifies a directory of bad files next to a good
// photo: each bad file gets its own JSON error line naming it, the photo is
// still classified, and the exit status is 1.
func TestClassifyBadFiles(t *testing.T) {
	requireRuntime(t)
	bin, dir := vimconvertBin(t)
	m := readPreprocessManifest(t)
	model := filepath.Join(t.TempDir(), "vim.onnx")
	if _, stderr, code := runCLI(t, bin, dir, "convert", filepath.Join(repo.Fixture("vim_t_d2"), "checkpoint.pth"), "-o", model); code != 0 {
		t.Fatalf("convert: %s", stderr)
	}
	good := filepath.Join(imagesDir, "images", "photo_rocket.jpg")
	badDir := filepath.Join(imagesDir, "bad")
	lines, stderr, code := classifyJSON(t, bin, dir, model, "--batch", "4", good, badDir, filepath.Join(badDir, "missing.jpg"))
	if code != 1 {
		t.Errorf("exit %d, want 1; stderr %s", code, stderr)
	}
	if len(lines) != 2+len(m.Bad) {
		t.Fatalf("%d lines, want %d", len(lines), 2+len(m.Bad))
	}
	if lines[0].File != good || len(lines[0].Top) != 5 || lines[0].Error != "" {
		t.Errorf("good photo: %+v", lines[0])
	}
	seen := map[string]bool{}
	for _, l := range lines[1:] {
		name := filepath.Base(l.File)
		seen[name] = true
		if l.Error == "" || l.Top != nil || !strings.Contains(l.Error, name) {
			t.Errorf("%s: want an error naming the file and no classes, got %+v", name, l)
		}
	}
	for name := range m.Bad {
		if !seen[name] {
			t.Errorf("bad file %s has no line", name)
		}
	}
	if !strings.Contains(stderr, fmt.Sprintf("%d of %d files", len(m.Bad)+1, len(m.Bad)+2)) {
		t.Errorf("stderr does not count the failures: %q", stderr)
	}
}

// TestUint8InputParity exports vim_t_d2 twice, taking float32 NCHW and
// uint8 NHWC, and runs both on the fixture photos: the graph's own
// ToTensor + Normalize must give the logits of the float path.
func TestUint8InputParity(t *testing.T) {
	requireRuntime(t)
	ckpt := filepath.Join(repo.Fixture("vim_t_d2"), "checkpoint.pth")
	rec, err := preprocess.ImageNetRecipe(224, preprocess.VimEvalCropPct)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range photos {
		paths = append(paths, filepath.Join(imagesDir, "images", p))
	}
	b, err := preprocess.LoadBatch(rec, paths, 0)
	if err != nil {
		t.Fatal(err)
	}
	x, err := b.NCHW()
	if err != nil {
		t.Fatal(err)
	}
	u8, err := b.NHWC()
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(paths))
	inputs := map[graph.InputFormat]*runtime.Tensor{
		graph.InputFloatNCHW: {Shape: []int64{n, 3, 224, 224}, Data: x},
		graph.InputUint8NHWC: {Shape: []int64{n, 224, 224, 3}, Bytes: u8},
	}
	logits := map[graph.InputFormat][]float32{}
	paths8 := ""
	for f, in := range inputs {
		_, path := exportModel(t, ckpt, convert.Options{}, graph.Options{InputFormat: f, Preprocess: &rec})
		if f == graph.InputUint8NHWC {
			paths8 = path
		}
		s, err := runtime.NewSession(path, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: in})
		s.Destroy()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		logits[f] = out[graph.LogitsName].Data
		if f == graph.InputUint8NHWC { // float data for a uint8 input is refused, not reinterpreted
			s, err := runtime.NewSession(path, runtime.Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Run(map[string]*runtime.Tensor{graph.InputName: {Shape: in.Shape, Data: x}})
			s.Destroy()
			if err == nil || !strings.Contains(err.Error(), "takes uint8") {
				t.Errorf("float32 data for the uint8 input: error %v, want one naming both element types", err)
			}
		}
	}
	maxd := 0.0
	for i, v := range logits[graph.InputFloatNCHW] {
		maxd = math.Max(maxd, math.Abs(float64(v-logits[graph.InputUint8NHWC][i])))
	}
	t.Logf("uint8-nhwc vs float32-nchw logits: max |Δ| %.3g over %d images", maxd, n)
	if maxd > 1e-6 {
		t.Errorf("uint8-nhwc logits differ from the float path by %.3g > 1e-6", maxd)
	}
	checkONNX(t, paths8) // last: skips without python3-onnx
}

// TestClassifyFollowsModelSize converts vim_t_d2 at 448: classify feeds it
// 448 crops of a 512 resize (read from its metadata) and refuses another
// size.
func TestClassifyFollowsModelSize(t *testing.T) {
	requireRuntime(t)
	bin, dir := vimconvertBin(t)
	model := filepath.Join(t.TempDir(), "vim448.onnx")
	if _, stderr, code := runCLI(t, bin, dir, "convert", filepath.Join(repo.Fixture("vim_t_d2"), "checkpoint.pth"), "-o", model, "--img-size", "448"); code != 0 {
		t.Fatalf("convert: %s", stderr)
	}
	cm, err := classify.Open(model, classify.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Close()
	if cm.Recipe.InputSize != 448 || cm.Recipe.ResizeShort != 512 || len(cm.Notes) != 0 {
		t.Errorf("recipe %+v, notes %q; want 448 from a 512 resize, recorded (no notes)", cm.Recipe, cm.Notes)
	}
	photo := filepath.Join(imagesDir, "images", "photo_rocket.jpg")
	if lines, stderr, code := classifyJSON(t, bin, dir, model, photo); code != 0 || len(lines) != 1 || len(lines[0].Top) != 5 {
		t.Errorf("classify at 448: exit %d, %+v, %s", code, lines, stderr)
	}
	if _, stderr, code := classifyJSON(t, bin, dir, model, photo, "--img-size", "224"); code != 1 || !strings.Contains(stderr, "448x448 images only") {
		t.Errorf("--img-size 224 on a 448 model: exit %d, stderr %q; want a refusal", code, stderr)
	}
}

// TestClassifyModelWithoutMetadata opens a model that records no
// preprocessing or class names (as exported before they were recorded):
// it is fed hustvl/Vim's eval transform at its input size and named with
// ImageNet-1k's classes, and both assumptions are notes.
func TestClassifyModelWithoutMetadata(t *testing.T) {
	requireRuntime(t)
	_, path := exportModel(t, filepath.Join(repo.Fixture("vim_t_d2"), "checkpoint.pth"), convert.Options{}, graph.Options{})
	m, err := classify.Open(path, classify.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Recipe.InputSize != 224 || m.Recipe.ResizeShort != 256 || len(m.Labels) != 1000 || len(m.Notes) != 2 {
		t.Errorf("recipe %+v, %d labels, notes %q; want 224 from 256, ImageNet-1k, two notes", m.Recipe, len(m.Labels), m.Notes)
	}
}

// TestClassifyMambaOutAnySize classifies with a MambaOut export (any input
// size, timm's recipe recorded in its older metadata form, 5 classes and no
// names): the trained size 224 without resizing margin (crop_pct 1.0) by
// default, --img-size picks another, and the classes are indices. The
// checkpoint opened directly (Go reference) gives the same recipe and
// classes.
func TestClassifyMambaOutAnySize(t *testing.T) {
	requireRuntime(t)
	_, path := modeltest.MambaOutFile(t, repo.Fixture("mambaout_synthetic", "training.pth"))
	photo := filepath.Join(imagesDir, "images", "photo_rocket.jpg")
	for _, tc := range []struct {
		size, wantSize, wantSide int
	}{{0, 224, 224}, {160, 160, 160}} {
		m, err := classify.Open(path, classify.ModelOptions{ImgSize: tc.size})
		if err != nil {
			t.Fatal(err)
		}
		if m.Recipe.InputSize != tc.wantSize || m.Recipe.ResizeShort != tc.wantSide || m.Labels != nil {
			t.Errorf("--img-size %d: recipe %+v, labels %v; want %d from %d, no names", tc.size, m.Recipe, m.Labels, tc.wantSize, tc.wantSide)
		}
		var got []classify.Result
		_, err = m.Classify(context.Background(), []string{photo}, classify.Options{}, func(r classify.Result) error {
			got = append(got, r)
			return nil
		})
		m.Close()
		if err != nil || len(got) != 1 || got[0].Err != nil || len(got[0].Top) != 5 || got[0].Top[0].Label != "" {
			t.Errorf("--img-size %d: %+v, %v; want 5 unnamed classes", tc.size, got, err)
			continue
		}
		// The checkpoint itself, in the Go reference: the same recipe
		// and the same classes.
		cm, err := classify.Open(repo.Fixture("mambaout_synthetic", "training.pth"), classify.ModelOptions{ImgSize: tc.size})
		if err != nil {
			t.Fatal(err)
		}
		var fromCkpt []classify.Result
		_, err = cm.Classify(context.Background(), []string{photo}, classify.Options{}, func(r classify.Result) error {
			fromCkpt = append(fromCkpt, r)
			return nil
		})
		cm.Close()
		if err != nil || len(fromCkpt) != 1 || fromCkpt[0].Err != nil || cm.Recipe != m.Recipe {
			t.Errorf("--img-size %d, checkpoint: %+v, %v, recipe %+v; want one result with the model's recipe %+v", tc.size, fromCkpt, err, cm.Recipe, m.Recipe)
			continue
		}
		comparePredictions(t, photo, fromCkpt[0].Top, got[0].Top, 1e-4)
	}
	bad := classify.ModelOptions{Checkpoint: convert.Options{Stride: 8}}
	if _, err := classify.Open(repo.Fixture("mambaout_synthetic", "training.pth"), bad); err == nil || !strings.Contains(err.Error(), "do not apply") {
		t.Errorf("a Vim stride for a MambaOut checkpoint: err = %v", err)
	}
}
