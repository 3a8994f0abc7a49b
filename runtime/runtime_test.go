package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestMain points the runtime defaults at the checkout's library and plugin
// (the job of the command, not of the package) unless the environment does.
func TestMain(m *testing.M) {
	for key, rel := range map[string][]string{EnvLibrary: LibraryRelPath, EnvPlugin: PluginRelPath} {
		if p := repo.Path(rel...); os.Getenv(key) == "" && p != "" {
			os.Setenv(key, p)
		}
	}
	os.Exit(m.Run())
}

// requireORT skips the test when the ONNX Runtime library is truly absent.
func requireORT(t *testing.T) {
	t.Helper()
	p := DefaultLibraryPath()
	if _, err := os.Stat(p); err != nil {
		t.Skipf("ONNX Runtime library absent (%q): run `make setup`", p)
	}
	if err := Init(""); err != nil {
		t.Fatalf("Init: %v", err)
	}
}

func TestReadModelInfo(t *testing.T) {
	info, err := ReadModelInfo(filepath.Join("testdata", "add_relu.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	want := &ModelInfo{
		Inputs:  []ValueInfo{{Name: "pixel_values", ElemType: 1, Shape: []int64{-1, 3, 2, 2}, DimParams: []string{"batch", "", "", ""}}},
		Outputs: []ValueInfo{{Name: "logits", ElemType: 1, Shape: []int64{-1, 3, 2, 2}, DimParams: []string{"batch", "", "", ""}}},
		Opsets:  map[string]int64{"": 17},
	}
	if d := cmp.Diff(want, info); d != "" {
		t.Errorf("add_relu.onnx info (-want +got):\n%s", d)
	}

	info, err = ReadModelInfo(filepath.Join("testdata", "custom_op.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range info.Inputs {
		names = append(names, in.Name)
	}
	if d := cmp.Diff([]string{"u", "delta", "A", "B", "C", "D", "delta_bias", "z"}, names); d != "" {
		t.Errorf("custom_op.onnx input names (-want +got):\n%s", d)
	}
	if info.Opsets["ai.vimconvert"] != 1 {
		t.Errorf("custom_op.onnx opsets = %v, want ai.vimconvert:1", info.Opsets)
	}
}

func TestParseModelInfoErrors(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "add_relu.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"empty", nil, "no graph field at all"},
		{"truncated", good[:len(good)/2], "a length-delimited field runs past the end"},
		{"text", []byte("this is not a protobuf file\n"), "a text file passed by mistake"},
		{"bad tag", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "varint overflow in the tag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseModelInfo(tc.data); err == nil {
				t.Errorf("ParseModelInfo accepted %s (%s)", tc.name, tc.reason)
			}
		})
	}
	if _, err := ReadModelInfo(filepath.Join(t.TempDir(), "nope.onnx")); !errors.Is(err, ErrModelMissing) {
		t.Errorf("missing model: err = %v, want ErrModelMissing", err)
	}
}

func TestDefaultPaths(t *testing.T) {
	t.Setenv(EnvLibrary, "/x/libonnxruntime.so.1")
	t.Setenv(EnvPlugin, "/y/plugin.so")
	if got := DefaultLibraryPath(); got != "/x/libonnxruntime.so.1" {
		t.Errorf("DefaultLibraryPath with %s set = %q", EnvLibrary, got)
	}
	if got := DefaultPluginPath(); got != "/y/plugin.so" {
		t.Errorf("DefaultPluginPath with %s set = %q", EnvPlugin, got)
	}
	t.Setenv(EnvLibrary, "")
	t.Setenv(EnvPlugin, "")
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	root := filepath.Dir(filepath.Dir(exe))
	if want := filepath.Join(append([]string{root}, LibraryRelPath...)...); DefaultLibraryPath() != want {
		t.Errorf("DefaultLibraryPath = %q, want %q beside the executable's directory", DefaultLibraryPath(), want)
	}
	if want := filepath.Join(append([]string{root}, PluginRelPath...)...); DefaultPluginPath() != want {
		t.Errorf("DefaultPluginPath = %q, want %q beside the executable's directory", DefaultPluginPath(), want)
	}
}

func TestInitErrors(t *testing.T) {
	err := Init(filepath.Join(t.TempDir(), "libonnxruntime.so.1"))
	if !errors.Is(err, ErrLibraryMissing) || !strings.Contains(err.Error(), "make setup") {
		t.Errorf("Init(missing) = %v, want ErrLibraryMissing mentioning `make setup`", err)
	}
	requireORT(t)
	if err := Init(DefaultLibraryPath()); err != nil {
		t.Errorf("second Init with the same library: %v", err)
	}
	if err := Init(""); err != nil {
		t.Errorf("Init(\"\") after Init: %v", err)
	}
	if v := Version(); v != ORTVersion {
		t.Errorf("Version() = %q, want %q", v, ORTVersion)
	}
	want, err := filepath.EvalSymlinks(DefaultLibraryPath())
	if err != nil {
		t.Fatal(err)
	}
	if got := LoadedLibrary(); got != want {
		t.Errorf("LoadedLibrary() = %q, want %q", got, want)
	}
	old := repo.Path("third_party", "onnxruntime", "1.24.3", "libonnxruntime.so.1")
	if _, err := os.Stat(old); err != nil {
		t.Logf("skipping the other-library check: %s absent", old)
		return
	}
	if err := Init(old); !errors.Is(err, ErrOtherLibrary) {
		t.Errorf("Init(1.24.3) after 1.29.0 = %v, want ErrOtherLibrary", err)
	}
}

// addRelu computes the add_relu.onnx model in Go.
func addRelu(x []float32, batch int) []float32 {
	bias := []float32{1, -1, 0.5}
	out := make([]float32, len(x))
	for i, v := range x {
		c := (i / 4) % 3 // [batch, 3, 2, 2]
		out[i] = max(v+bias[c], 0)
	}
	return out
}

func TestRunAddRelu(t *testing.T) {
	requireORT(t)
	s, err := NewSession(filepath.Join("testdata", "add_relu.onnx"), Options{NoPlugin: true, IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	if d := cmp.Diff([]string{"pixel_values"}, s.InputNames()); d != "" {
		t.Errorf("InputNames (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"logits"}, s.OutputNames()); d != "" {
		t.Errorf("OutputNames (-want +got):\n%s", d)
	}
	for _, batch := range []int{1, 3, 2} {
		x := make([]float32, batch*12)
		for i := range x {
			x[i] = float32(i%7) - 3.25
		}
		out, err := s.Run(map[string]*Tensor{"pixel_values": {Shape: []int64{int64(batch), 3, 2, 2}, Data: x}})
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		got := out["logits"]
		if got == nil {
			t.Fatalf("batch %d: no logits in %v", batch, out)
		}
		if d := cmp.Diff([]int64{int64(batch), 3, 2, 2}, got.Shape); d != "" {
			t.Errorf("batch %d: shape (-want +got):\n%s", batch, d)
		}
		if d := cmp.Diff(addRelu(x, batch), got.Data); d != "" {
			t.Errorf("batch %d: values (-want +got):\n%s", batch, d)
		}
	}
}

func TestRunConcurrent(t *testing.T) {
	s := addReluSession(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := make([]float32, 12)
			for i := range x {
				x[i] = float32(g) - float32(i)
			}
			out, err := s.Run(map[string]*Tensor{"pixel_values": {Shape: []int64{1, 3, 2, 2}, Data: x}})
			if err != nil {
				errs <- err
				return
			}
			if d := cmp.Diff(addRelu(x, 1), out["logits"].Data); d != "" {
				errs <- errors.New("goroutine result differs: " + d)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRunErrors(t *testing.T) {
	s := addReluSession(t)
	twelve := make([]float32, 12)
	tests := []struct {
		name   string
		inputs map[string]*Tensor
		want   string
		reason string
	}{
		{"missing input", map[string]*Tensor{}, `missing input "pixel_values"`, "every graph input must be fed"},
		{"unknown input", map[string]*Tensor{"pixel_values": {Shape: []int64{1, 3, 2, 2}, Data: twelve}, "x": {Shape: []int64{1}, Data: []float32{1}}},
			`unknown input "x"`, "a typo in an input name must not be ignored"},
		{"rank", map[string]*Tensor{"pixel_values": {Shape: []int64{3, 2, 2}, Data: twelve}}, "rank 3", "the model declares rank 4"},
		{"fixed dim", map[string]*Tensor{"pixel_values": {Shape: []int64{1, 4, 2, 2}, Data: make([]float32, 16)}}, "model wants 3", "channels are fixed at 3"},
		{"short data", map[string]*Tensor{"pixel_values": {Shape: []int64{2, 3, 2, 2}, Data: twelve}}, "needs 24 values, got 12", "ORT would read past the slice"},
		{"zero dim", map[string]*Tensor{"pixel_values": {Shape: []int64{0, 3, 2, 2}, Data: nil}}, "must be positive", "an empty batch is a caller bug"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Run(tc.inputs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v, want error containing %q (%s)", err, tc.want, tc.reason)
			}
		})
	}
	if _, err := s.RunOutputs(map[string]*Tensor{"pixel_values": {Shape: []int64{1, 3, 2, 2}, Data: twelve}}, []string{"features"}); err == nil ||
		!strings.Contains(err.Error(), `unknown output "features"`) {
		t.Errorf("RunOutputs(features) = %v, want unknown output error", err)
	}
	if err := s.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := s.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if _, err := s.Run(map[string]*Tensor{"pixel_values": {Shape: []int64{1, 3, 2, 2}, Data: twelve}}); err == nil {
		t.Error("Run after Destroy succeeded")
	}
}

func TestNewSessionErrors(t *testing.T) {
	requireORT(t)
	dir := t.TempDir()
	if _, err := NewSession(filepath.Join(dir, "absent.onnx"), Options{NoPlugin: true}); !errors.Is(err, ErrModelMissing) {
		t.Errorf("missing model: %v, want ErrModelMissing", err)
	}
	_, err := NewSession(filepath.Join("testdata", "add_relu.onnx"), Options{PluginPath: filepath.Join(dir, "nope.so")})
	if !errors.Is(err, ErrPluginMissing) || !strings.Contains(err.Error(), "make plugin") {
		t.Errorf("missing plugin: %v, want ErrPluginMissing mentioning `make plugin`", err)
	}
	_, err = NewSession(filepath.Join("testdata", "custom_op.onnx"), Options{NoPlugin: true})
	if err == nil || !strings.Contains(err.Error(), "SelectiveScan") {
		t.Errorf("custom op without plugin: %v, want an error naming SelectiveScan", err)
	}
	notSO := filepath.Join(dir, "plugin.so")
	if err := os.WriteFile(notSO, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSession(filepath.Join("testdata", "add_relu.onnx"), Options{PluginPath: notSO}); err == nil {
		t.Error("registering a non-library plugin succeeded")
	}
}

// TestPluginCustomOp checks that a model using the plugin's forward-only
// SelectiveScan runs and matches a direct Go evaluation of the recurrence.
func TestPluginCustomOp(t *testing.T) {
	requireORT(t)
	plugin := DefaultPluginPath()
	if _, err := os.Stat(plugin); err != nil {
		t.Skipf("plugin not built (%s): run `make plugin`", plugin)
	}
	s, err := NewSession(filepath.Join("testdata", "custom_op.onnx"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	const B, L, D, N = 1, 3, 4, 2
	fill := func(n int, f func(i int) float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = f(i)
		}
		return v
	}
	in := map[string]*Tensor{
		"u":          {Shape: []int64{B, L, D}, Data: fill(B*L*D, func(i int) float32 { return float32(i%5)*0.3 - 0.6 })},
		"delta":      {Shape: []int64{B, L, D}, Data: fill(B*L*D, func(i int) float32 { return float32(i%3)*0.2 - 0.1 })},
		"A":          {Shape: []int64{D, N}, Data: fill(D*N, func(i int) float32 { return -0.5 - float32(i)*0.25 })},
		"B":          {Shape: []int64{B, L, N}, Data: fill(B*L*N, func(i int) float32 { return float32(i)*0.1 - 0.2 })},
		"C":          {Shape: []int64{B, L, N}, Data: fill(B*L*N, func(i int) float32 { return 0.4 - float32(i)*0.05 })},
		"D":          {Shape: []int64{D}, Data: []float32{0.5, -0.25, 1, 0.1}},
		"delta_bias": {Shape: []int64{D}, Data: []float32{0.1, -0.3, 0.2, 0}},
		"z":          {Shape: []int64{B, L, D}, Data: fill(B*L*D, func(i int) float32 { return float32(i%4)*0.5 - 1 })},
	}
	out, err := s.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	want := selectiveScanRef(in, L, D, N)
	got := out["y"].Data
	for i := range want {
		if d := float64(got[i]) - want[i]; d > 1e-5 || d < -1e-5 {
			t.Errorf("y[%d] = %g, want %g", i, got[i], want[i])
		}
	}
}

// TestInitTooOldLibrary loads ORT 1.24.3 (C API 24) in a child process,
// since one process can load only one ORT: the bindings need API 29 and
// Init must say so instead of failing obscurely.
func TestInitTooOldLibrary(t *testing.T) {
	old := repo.Path("third_party", "onnxruntime", "1.24.3", "libonnxruntime.so.1")
	if os.Getenv("VIMCONVERT_TEST_INIT_OLD") == "1" {
		err := Init(old)
		if err == nil {
			fmt.Println("RESULT: Init succeeded")
			return
		}
		fmt.Println("RESULT:", err)
		return
	}
	if _, err := os.Stat(old); err != nil {
		t.Skipf("ONNX Runtime 1.24.3 absent (%s): run `make setup`", old)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInitTooOldLibrary$", "-test.v")
	cmd.Env = append(os.Environ(), "VIMCONVERT_TEST_INIT_OLD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "RESULT: runtime: ") || !strings.Contains(string(out), "too old") ||
		!strings.Contains(string(out), ORTVersion) {
		t.Errorf("Init(1.24.3) should fail saying the library is too old and naming %s; child printed:\n%s", ORTVersion, out)
	}
}

// addReluSession opens testdata/add_relu.onnx without the plugin (skipping
// without ONNX Runtime), destroyed when the test ends.
func addReluSession(t *testing.T) *Session {
	t.Helper()
	requireORT(t)
	s, err := NewSession(filepath.Join("testdata", "add_relu.onnx"), Options{NoPlugin: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Destroy() })
	return s
}

// TestNewSessionOpsetTooNew stamps add_relu.onnx with opset 27, which ONNX
// Runtime 1.29 refuses: the error names the model's opset and the last one
// the runtime runs (it used to be ORT's raw message only).
func TestNewSessionOpsetTooNew(t *testing.T) {
	requireORT(t)
	mp, err := onnxfile.ReadFile(filepath.Join("testdata", "add_relu.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == "" {
			o.Version = proto.Int64(27)
		}
	}
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "opset27.onnx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewSession(p, Options{NoPlugin: true})
	if err == nil {
		t.Skipf("ONNX Runtime %s runs opset 27", Version())
	}
	if want := "the model is ONNX opset 27, but ONNX Runtime " + Version() + " runs models up to opset "; !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want one containing %q", err, want)
	}
}
