package ops

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// ortLibrary returns the ONNX Runtime library the tests load:
// $ONNXRUNTIME_SHARED_LIBRARY_PATH or third_party/onnxruntime/1.29.0.
func ortLibrary() string {
	if p := os.Getenv("ONNXRUNTIME_SHARED_LIBRARY_PATH"); p != "" {
		return p
	}
	return repo.Path("third_party", "onnxruntime", "1.29.0", "libonnxruntime.so.1")
}

// testHost returns the C test host (build/vimconvert_ops_host), failing t
// when it is not built.
func testHost(t *testing.T) string {
	t.Helper()
	host := repo.Path("build", "vimconvert_ops_host")
	if _, err := os.Stat(host); err != nil {
		t.Fatalf("%s not built: run `make -C ops` (%v)", host, err)
	}
	return host
}

// pluginLibrary returns $VIMCONVERT_PLUGIN or build/libvimconvert_ops.so.
func pluginLibrary() string {
	if p := os.Getenv("VIMCONVERT_PLUGIN"); p != "" {
		return p
	}
	return repo.Path("build", "libvimconvert_ops.so")
}

var (
	envOnce sync.Once
	envErr  error
)

// needORT initialises the ONNX Runtime environment once per test binary. It
// skips the test when the runtime library is absent and fails it when the
// plugin is missing (the Makefile builds it before `go test`).
func needORT(t *testing.T) {
	t.Helper()
	lib := ortLibrary()
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("ONNX Runtime library %q not present (run scripts/fetch-onnxruntime.sh or set ONNXRUNTIME_SHARED_LIBRARY_PATH): %v", lib, err)
	}
	if _, err := os.Stat(pluginLibrary()); err != nil {
		t.Fatalf("plugin %q not built: run `make -C ops` (or set VIMCONVERT_PLUGIN): %v", pluginLibrary(), err)
	}
	envOnce.Do(func() {
		// Read by ORT when the environment is created: without it ORT
		// 1.29-1.31 leave $TMPDIR/.ses and a mat-debug-PID.log per test
		// binary (README.md "ONNX Runtime temp files"). os.Setenv reaches
		// the C environment in a cgo binary.
		if _, set := os.LookupEnv("ORT_DISABLE_TELEMETRY"); !set {
			os.Setenv("ORT_DISABLE_TELEMETRY", "1")
		}
		ort.SetSharedLibraryPath(lib)
		envErr = ort.InitializeEnvironment(ort.WithLogLevelFatal())
	})
	if envErr != nil {
		t.Fatalf("initialising ONNX Runtime from %s: %v", lib, envErr)
	}
}

// session opens ops/testdata/<model>, whose output is y, with the plugin
// registered.
func session(t *testing.T, model string, inputs []string, threads int) (*ort.DynamicAdvancedSession, error) {
	t.Helper()
	return sessionOutputs(t, model, inputs, []string{"y"}, threads)
}

// mustSession is session for a model that must open: it fails t
// otherwise and destroys the session when the test ends.
func mustSession(t *testing.T, model string, inputs []string, threads int) *ort.DynamicAdvancedSession {
	t.Helper()
	s, err := session(t, model, inputs, threads)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	t.Cleanup(func() { s.Destroy() })
	return s
}

// sessionOutputs opens ops/testdata/<model> with the plugin registered.
func sessionOutputs(t *testing.T, model string, inputs, outputs []string, threads int) (*ort.DynamicAdvancedSession, error) {
	t.Helper()
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatalf("session options: %v", err)
	}
	defer opts.Destroy()
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			t.Fatalf("SetIntraOpNumThreads: %v", err)
		}
	}
	if err := opts.RegisterCustomOpsLibrary(pluginLibrary()); err != nil {
		t.Fatalf("registering plugin %s: %v", pluginLibrary(), err)
	}
	return ort.NewDynamicAdvancedSession(filepath.Join("testdata", model), inputs, outputs, opts)
}

// array is a float32 tensor in row-major order.
type array struct {
	shape []int64
	data  []float32
}

func (a array) numel() int {
	n := 1
	for _, d := range a.shape {
		n *= int(d)
	}
	return n
}

// fromTensor copies a fixture tensor.
func fromTensor(t *testing.T, ts map[string]*convert.Tensor, name string) array {
	t.Helper()
	x, ok := ts[name]
	if !ok {
		t.Fatalf("fixture has no tensor %q", name)
	}
	s := make([]int64, len(x.Shape))
	for i, d := range x.Shape {
		s[i] = int64(d)
	}
	return array{shape: s, data: append([]float32(nil), x.Data...)}
}

// swapLast2 transposes the last two axes of a rank-3 array:
// [b, x, y] -> [b, y, x] (official (b, d, L) -> token-major (b, L, d)).
func swapLast2(a array) array {
	b, x, y := int(a.shape[0]), int(a.shape[1]), int(a.shape[2])
	out := make([]float32, len(a.data))
	for i := 0; i < b; i++ {
		for j := 0; j < x; j++ {
			for k := 0; k < y; k++ {
				out[(i*y+k)*x+j] = a.data[(i*x+j)*y+k]
			}
		}
	}
	return array{shape: []int64{int64(b), int64(y), int64(x)}, data: out}
}

// flipTime reverses axis 1 of a rank-3 token-major array [b, L, c].
func flipTime(a array) array {
	b, l, c := int(a.shape[0]), int(a.shape[1]), int(a.shape[2])
	out := make([]float32, len(a.data))
	for i := 0; i < b; i++ {
		for t := 0; t < l; t++ {
			copy(out[(i*l+t)*c:(i*l+t+1)*c], a.data[(i*l+l-1-t)*c:(i*l+l-t)*c])
		}
	}
	return array{shape: append([]int64(nil), a.shape...), data: out}
}

// mapArray returns f applied to every element.
func mapArray(a array, f func(float32) float32) array {
	out := make([]float32, len(a.data))
	for i, v := range a.data {
		out[i] = f(v)
	}
	return array{shape: append([]int64(nil), a.shape...), data: out}
}

// newInputs creates the ORT tensors of in; the caller destroys them
// (destroyAll).
func newInputs(t *testing.T, in []array) []ort.Value {
	t.Helper()
	vals := make([]ort.Value, 0, len(in)+1)
	for i, a := range in {
		v, err := ort.NewTensor(ort.NewShape(a.shape...), a.data)
		if err != nil {
			destroyAll(vals)
			t.Fatalf("input %d: %v", i, err)
		}
		vals = append(vals, v)
	}
	return vals
}

// destroyAll destroys every non-nil value of vals.
func destroyAll(vals []ort.Value) {
	for _, v := range vals {
		if v != nil {
			v.Destroy()
		}
	}
}

// runOutputs executes a session on the arrays and returns its nOut
// float32 outputs, copied out of ORT.
func runOutputs(t *testing.T, s *ort.DynamicAdvancedSession, in []array, nOut int) ([]array, error) {
	t.Helper()
	vals := newInputs(t, in)
	defer destroyAll(vals)
	outs := make([]ort.Value, nOut)
	if err := s.Run(vals, outs); err != nil {
		return nil, err
	}
	defer destroyAll(outs)
	res := make([]array, nOut)
	for i, o := range outs {
		y, ok := o.(*ort.Tensor[float32])
		if !ok {
			t.Fatalf("output %d is %T, want *Tensor[float32]", i, o)
		}
		res[i] = array{shape: append([]int64(nil), y.GetShape()...), data: append([]float32(nil), y.GetData()...)}
	}
	return res, nil
}

// run executes a session on the arrays and returns output 0.
func run(t *testing.T, s *ort.DynamicAdvancedSession, in []array) (array, error) {
	t.Helper()
	res, err := runOutputs(t, s, in, 1)
	if err != nil {
		return array{}, err
	}
	return res[0], nil
}

// maxDiff returns max |a - b| (NaN if any element is NaN) and fails the
// test on a shape mismatch.
func maxDiff(t *testing.T, got, want array) float64 {
	t.Helper()
	if fmt.Sprint(got.shape) != fmt.Sprint(want.shape) {
		t.Fatalf("shape %v, want %v", got.shape, want.shape)
	}
	m := 0.0
	for i := range got.data {
		d := math.Abs(float64(got.data[i]) - float64(want.data[i]))
		if !(d <= m) {
			m = d
		}
	}
	return m
}

// scanCase is one unidirectional problem in token-major layout, in the
// SelectiveScan input order: u, delta, A, B, C, D, delta_bias, z.
type scanCase struct {
	u, delta, A, B, C, D, bias, z array
}

func (c scanCase) inputs() []array {
	return []array{c.u, c.delta, c.A, c.B, c.C, c.D, c.bias, c.z}
}

var uniInputs = []string{"u", "delta", "A", "B", "C", "D", "delta_bias", "z"}

var biInputs = []string{"u_f", "delta_f", "A_f", "B_f", "C_f", "D_f", "delta_bias_f",
	"u_b", "delta_b", "A_b", "B_b", "C_b", "D_b", "delta_bias_b", "z"}

// loadScanFixture reads fixtures/scan/<name>.pth: inputs in the official
// layout, converted to token-major, and the expected `out`.
func loadScanFixture(t *testing.T, path string) (scanCase, array) {
	t.Helper()
	ts, err := convert.ReadTensorFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	c := scanCase{
		u:     swapLast2(fromTensor(t, ts, "u")),     // [b, d, L] -> [b, L, d]
		delta: swapLast2(fromTensor(t, ts, "delta")), // [b, d, L] -> [b, L, d]
		A:     fromTensor(t, ts, "A"),                // [d, n]
		B:     swapLast2(fromTensor(t, ts, "B")),     // [b, n, L] -> [b, L, n]
		C:     swapLast2(fromTensor(t, ts, "C")),     // [b, n, L] -> [b, L, n]
		D:     fromTensor(t, ts, "D"),                // [d]
		bias:  fromTensor(t, ts, "delta_bias"),       // [d]
		z:     swapLast2(fromTensor(t, ts, "z")),     // [b, d, L] -> [b, L, d]
	}
	return c, swapLast2(fromTensor(t, ts, "out")) // [b, d, L] -> [b, L, d]
}

func scanFixtures(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(repo.Fixture("scan", "scan_*.pth"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scan fixtures under %s (err %v)", repo.Fixture("scan"), err)
	}
	sort.Strings(paths)
	return paths
}

// Tolerance against the official float32 outputs. The fixtures' own
// float32-vs-float64 noise floor is up to 1.9e-6 (fixtures/README.md); the
// plugin's vectorised exp/log add well under 1e-6 relative.
const fixtureTol = 1e-5

// TestSelectiveScanFixtures runs SelectiveScan on every official
// selective_scan_ref case.
func TestSelectiveScanFixtures(t *testing.T) {
	needORT(t)
	s := mustSession(t, "scan_unidirectional.onnx", uniInputs, 0)
	for _, path := range scanFixtures(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".pth")
		t.Run(name, func(t *testing.T) {
			c, want := loadScanFixture(t, path)
			got, err := run(t, s, c.inputs())
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			d := maxDiff(t, got, want)
			if !(d <= fixtureTol) {
				t.Errorf("max |y - official| = %.3g, want <= %.0e", d, fixtureTol)
			}
			t.Logf("max |y - official| = %.3g", d)
		})
	}
}

// backwardOf derives a second, different direction from a fixture case
// (other A, D, delta_bias, u, B/C swapped) so that mixing up the two
// directions' parameters changes the result.
func backwardOf(c scanCase) scanCase {
	return scanCase{
		u:     mapArray(flipTime(c.u), func(v float32) float32 { return -0.7*v + 0.1 }),
		delta: flipTime(c.delta),
		A:     mapArray(c.A, func(v float32) float32 { return 1.3 * v }),
		B:     flipTime(c.C),
		C:     flipTime(c.B),
		D:     mapArray(c.D, func(v float32) float32 { return 0.5*v + 0.1 }),
		bias:  mapArray(c.bias, func(v float32) float32 { return v - 0.3 }),
		z:     c.z,
	}
}

// TestBidirectionalComposition checks SelectiveScanBidirectional against
// the (fixture-verified) unidirectional op: with forward case f and
// backward inputs b (original token order),
//
//	bi(f, b, z) = scale * (uni(f, z) + flip(uni(flip(b), flip(z))))
//
// because the gate is linear and the backward scan of b is the forward scan
// of flip(b), read back in flipped order. divide_out = 0 must give exactly
// twice divide_out = 1, and the attribute's default must be 1.
func TestBidirectionalComposition(t *testing.T) {
	needORT(t)
	uni := mustSession(t, "scan_unidirectional.onnx", uniInputs, 0)
	models := []struct {
		file  string
		scale float32
	}{
		{"scan_bidirectional.onnx", 0.5},
		{"scan_bidirectional_divide1.onnx", 0.5},
		{"scan_bidirectional_sum.onnx", 1},
		// divide_out = 1 by ref_attr_name inside a model function, which
		// ORT resolves when it inlines it (the attribute check allows it;
		// unresolved it would read as 0, the sum)
		{"scan_function_ref_divide_out.onnx", 0.5},
	}
	for _, path := range scanFixtures(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".pth")
		t.Run(name, func(t *testing.T) {
			f, _ := loadScanFixture(t, path)
			b := backwardOf(f)
			yf, err := run(t, uni, f.inputs())
			if err != nil {
				t.Fatalf("forward: %v", err)
			}
			bflip := scanCase{flipTime(b.u), flipTime(b.delta), b.A, flipTime(b.B), flipTime(b.C), b.D, b.bias, flipTime(f.z)}
			yb, err := run(t, uni, bflip.inputs())
			if err != nil {
				t.Fatalf("backward: %v", err)
			}
			yb = flipTime(yb)
			var results []array
			for _, m := range models {
				bi, err := session(t, m.file, biInputs, 0)
				if err != nil {
					t.Fatalf("%s: session: %v", m.file, err)
				}
				got, err := run(t, bi, []array{f.u, f.delta, f.A, f.B, f.C, f.D, f.bias,
					b.u, b.delta, b.A, b.B, b.C, b.D, b.bias, f.z})
				bi.Destroy()
				if err != nil {
					t.Fatalf("%s: run: %v", m.file, err)
				}
				want := array{shape: yf.shape, data: make([]float32, len(yf.data))}
				for i := range want.data {
					want.data[i] = m.scale * (yf.data[i] + yb.data[i])
				}
				if d := maxDiff(t, got, want); !(d <= fixtureTol) {
					t.Errorf("%s: max |bi - composed unidirectional| = %.3g, want <= %.0e", m.file, d, fixtureTol)
				}
				results = append(results, got)
			}
			for i := range results[0].data {
				if results[0].data[i] != results[1].data[i] || results[2].data[i] != 2*results[0].data[i] {
					t.Fatalf("element %d: default %g, divide_out=1 %g, divide_out=0 %g: want equal, equal, exactly double",
						i, results[0].data[i], results[1].data[i], results[2].data[i])
				}
			}
		})
	}
}

// TestBimambaV2Mixer feeds the scan pieces of the official Vim-tiny v2
// mixer (fixtures/scan/bimamba_v2_mixer.pth) to SelectiveScanBidirectional
// and compares with its `combined` tensor ((fwd.y + bwd.y.flip) / 2, before
// out_proj).
func TestBimambaV2Mixer(t *testing.T) {
	needORT(t)
	ts, err := convert.ReadTensorFile(repo.Fixture("scan", "bimamba_v2_mixer.pth"))
	if err != nil {
		t.Fatalf("reading mixer fixture: %v", err)
	}
	tok := func(name string) array { return swapLast2(fromTensor(t, ts, name)) } // [b, c, L] -> [b, L, c]
	// The backward pieces were computed on xz.flip(-1): flip them back to
	// the original token order the op takes.
	back := func(name string) array { return flipTime(tok(name)) }
	xz := tok("xz") // [1, 768, L] -> [1, L, 768]
	dInner := int(xz.shape[2]) / 2
	z := array{shape: []int64{xz.shape[0], xz.shape[1], int64(dInner)}}
	for r := 0; r < int(xz.shape[0]*xz.shape[1]); r++ { // z = second half of the channels
		z.data = append(z.data, xz.data[r*2*dInner+dInner:(r+1)*2*dInner]...)
	}
	in := []array{
		tok("fwd.conv_out"), tok("fwd.delta_raw"), fromTensor(t, ts, "A"), tok("fwd.B"), tok("fwd.C"),
		fromTensor(t, ts, "param.D"), fromTensor(t, ts, "param.dt_proj.bias"),
		back("bwd.conv_out"), back("bwd.delta_raw"), fromTensor(t, ts, "A_b"), back("bwd.B"), back("bwd.C"),
		fromTensor(t, ts, "param.D_b"), fromTensor(t, ts, "param.dt_proj_b.bias"),
		z,
	}
	want := fromTensor(t, ts, "combined") // already [b, L, d]
	s := mustSession(t, "scan_bidirectional.onnx", biInputs, 0)
	got, err := run(t, s, in)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if d := maxDiff(t, got, want); !(d <= fixtureTol) {
		t.Errorf("max |y - official combined| = %.3g, want <= %.0e", d, fixtureTol)
	} else {
		t.Logf("max |y - official combined| = %.3g", d)
	}
}

// TestThreadsDeterministic checks that splitting the work across ORT's
// intra-op threads gives bit-identical output.
func TestThreadsDeterministic(t *testing.T) {
	needORT(t)
	c, _ := loadScanFixture(t, repo.Fixture("scan", "scan_b3_l197_d384_n16.pth"))
	in := append(c.inputs()[:7:7], backwardOf(c).inputs()[:7]...)
	in = append(in, c.z)
	var outs []array
	for _, threads := range []int{1, 2} {
		s, err := session(t, "scan_bidirectional.onnx", biInputs, threads)
		if err != nil {
			t.Fatalf("session: %v", err)
		}
		y, err := run(t, s, in)
		s.Destroy()
		if err != nil {
			t.Fatalf("run with %d threads: %v", threads, err)
		}
		outs = append(outs, y)
	}
	if d := maxDiff(t, outs[0], outs[1]); d != 0 {
		t.Errorf("1 vs 2 threads differ by %g, want identical", d)
	}
}

// TestEmptyAndTiny covers B = 0 (empty output) and L = 1.
func TestEmptyAndTiny(t *testing.T) {
	needORT(t)
	s := mustSession(t, "scan_bidirectional.onnx", biInputs, 0)
	c, _ := loadScanFixture(t, repo.Fixture("scan", "scan_b1_l1_d8_n16.pth"))
	in := append(c.inputs()[:7:7], backwardOf(c).inputs()[:7]...)
	in = append(in, c.z)
	y, err := run(t, s, in)
	if err != nil {
		t.Fatalf("L = 1: %v", err)
	}
	if fmt.Sprint(y.shape) != "[1 1 8]" {
		t.Errorf("L = 1: output shape %v, want [1 1 8]", y.shape)
	}
	empty := make([]array, len(in))
	for i, a := range in {
		empty[i] = a
		if len(a.shape) == 3 { // [B, L, x] -> [0, L, x]
			empty[i] = array{shape: []int64{0, a.shape[1], a.shape[2]}, data: nil}
		}
	}
	y, err = run(t, s, empty)
	if err != nil {
		t.Fatalf("B = 0: %v", err)
	}
	if fmt.Sprint(y.shape) != "[0 1 8]" || len(y.data) != 0 {
		t.Errorf("B = 0: output shape %v with %d elements, want [0 1 8] and none", y.shape, len(y.data))
	}
}

// TestBadInputs checks that malformed calls give an error naming the
// problem (from ORT or from the op's validation), never a crash, and that
// the session still works afterwards.
func TestBadInputs(t *testing.T) {
	needORT(t)
	c, _ := loadScanFixture(t, repo.Fixture("scan", "scan_b1_l7_d8_n16.pth"))
	good := func() []array { // fresh shape slices: the edits change them
		in := append(c.inputs()[:7:7], backwardOf(c).inputs()[:7]...)
		in = append(in, c.z)
		for i := range in {
			in[i].shape = append([]int64(nil), in[i].shape...)
		}
		return in
	}
	tests := []struct {
		reason string
		model  string
		names  []string
		edit   func([]array) []array
		want   string // substring of the error
	}{
		{
			reason: "B_f has N = 8 while A_f says 16",
			model:  "scan_bidirectional.onnx", names: biInputs,
			edit: func(in []array) []array { in[3].shape[2] = 8; return in },
			want: "input 3 (B_f) has shape [1, 7, 8], want [B, L, N] with N = 16 (from A_f)",
		},
		{
			reason: "z has a different L",
			model:  "scan_bidirectional.onnx", names: biInputs,
			edit: func(in []array) []array { in[14].shape[1] = 6; return in },
			want: "input 14 (z) has shape [1, 6, 8]",
		},
		{
			reason: "D_b has the wrong length",
			model:  "scan_bidirectional.onnx", names: biInputs,
			edit: func(in []array) []array { in[12].shape[0] = 4; return in },
			want: "input 12 (D_b) has shape [4]",
		},
		{
			reason: "u_f of rank 2 (reshaped at run time, so ORT cannot check it)",
			model:  "scan_bidirectional_reshape.onnx", names: append([]string{"u_f_data"}, append(biInputs[1:], "u_f_shape")...),
			edit: func(in []array) []array {
				in[0] = array{shape: []int64{56}, data: in[0].data} // [1, 7, 8] flat; reshaped to [7, 8]
				return in
			},
			want: "input 0 (u_f) has rank 2",
		},
		{
			reason: "wrong element type (float64 input)",
			model:  "bad_dtype.onnx", names: uniInputs,
			want: "tensor(double)",
		},
		{
			reason: "14 inputs instead of 15",
			model:  "bad_input_count.onnx", names: biInputs[:14],
			want: "input size 14",
		},
		{
			reason: "divide_out = 2",
			model:  "bad_divide_out.onnx", names: biInputs,
			want: "divide_out = 2, want 0 or 1",
		},
		{
			reason: "static shapes disagree on N",
			model:  "bad_static_shape.onnx", names: uniInputs,
			edit: func([]array) []array {
				return []array{
					{[]int64{1, 4, 8}, make([]float32, 32)}, {[]int64{1, 4, 8}, make([]float32, 32)},
					{[]int64{8, 16}, make([]float32, 128)}, {[]int64{1, 4, 15}, make([]float32, 60)},
					{[]int64{1, 4, 16}, make([]float32, 64)}, {[]int64{8}, make([]float32, 8)},
					{[]int64{8}, make([]float32, 8)}, {[]int64{1, 4, 8}, make([]float32, 32)},
				}
			},
			want: "input 3 (B) has shape [1, 4, 15]",
		},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			s, err := session(t, tc.model, tc.names, 0)
			if err == nil {
				defer s.Destroy()
				if tc.edit == nil {
					t.Fatalf("session created, want an error containing %q", tc.want)
				}
				in := tc.edit(good())
				if tc.model == "scan_bidirectional_reshape.onnx" {
					err = runReshaped(t, s, in, []int64{7, 8})
				} else {
					_, err = run(t, s, in)
				}
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	// The same process can still run a good call afterwards.
	s := mustSession(t, "scan_bidirectional.onnx", biInputs, 0)
	if _, err := run(t, s, good()); err != nil {
		t.Fatalf("good call after bad ones: %v", err)
	}
}

// runReshaped runs scan_bidirectional_reshape.onnx, whose u_f comes flat
// (input 0) and is reshaped to shape (an int64 input after the others).
func runReshaped(t *testing.T, s *ort.DynamicAdvancedSession, in []array, shape []int64) error {
	t.Helper()
	vals := newInputs(t, in)
	defer destroyAll(vals)
	sv, err := ort.NewTensor(ort.NewShape(int64(len(shape))), shape)
	if err != nil {
		t.Fatalf("shape input: %v", err)
	}
	defer sv.Destroy()
	vals = append(vals, sv)
	outs := []ort.Value{nil}
	if err := s.Run(vals, outs); err != nil {
		return err
	}
	outs[0].Destroy()
	return nil
}

// TestHostProgram runs the C test host (no Go in the loop) against every
// fetched TestedRuntimes version (onnxruntime_go needs C API 29 exactly, so
// only 1.29.0 can be loaded in this process).
func TestHostProgram(t *testing.T) {
	host := testHost(t)
	if _, err := os.Stat(pluginLibrary()); err != nil {
		t.Fatalf("plugin %q not built: run `make -C ops`: %v", pluginLibrary(), err)
	}
	for _, v := range TestedRuntimes {
		t.Run(v, func(t *testing.T) {
			lib := repo.Path("third_party", "onnxruntime", v, "libonnxruntime.so.1")
			if _, err := os.Stat(lib); err != nil {
				t.Skipf("ONNX Runtime %s not fetched (scripts/fetch-onnxruntime.sh %s): %v", v, v, err)
			}
			runCTest(t, "host self-test with ORT "+v, []string{"ONNX Runtime " + v, "host self-test: pass"},
				host, lib, pluginLibrary(), "--testdata", "testdata")
		})
	}
}

// runCTest runs the C test program bin with args and fails t unless it
// exits 0 and its output contains every string of pass; it returns the
// output.
func runCTest(t *testing.T, what string, pass []string, bin string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s failed: %v\n%s", what, err, out)
	}
	for _, p := range pass {
		if !strings.Contains(string(out), p) {
			t.Fatalf("unexpected %s output (no %q):\n%s", what, p, out)
		}
	}
	return out
}

// TestKernelAllISAs runs the C unit test of the CPU kernel, which checks
// every vector variant the CPU supports (AVX-512, AVX2, SSE2/generic)
// against a float64 reference; the tests above only reach the variant the
// plugin picks.
func TestKernelAllISAs(t *testing.T) {
	bin := repo.Path("build", "vimconvert_scan_test")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s not built: run `make -C ops` (%v)", bin, err)
	}
	out := runCTest(t, "kernel test", []string{"scan_test: all cases pass"}, bin)
	t.Logf("%s", out)
}

// TestCUDAKernelEmulation runs cuda/'s host emulation test of the CUDA
// kernel bodies against the CPU kernel (no GPU needed), built by
// `make -C ops` when cuda/emu.mk exists and a C++ compiler is installed.
func TestCUDAKernelEmulation(t *testing.T) {
	if _, err := os.Stat(filepath.Join("cuda", "emu.mk")); err != nil {
		t.Skipf("no cuda/emu.mk in this checkout: %v", err)
	}
	bin := repo.Path("build", "vimconvert_cuda_emu_test")
	if _, err := os.Stat(bin); err != nil {
		if _, cxx := exec.LookPath("g++"); cxx != nil {
			t.Skipf("no C++ compiler (g++) to build the emulation test: %v", cxx)
		}
		t.Fatalf("%s not built: run `make -C ops` (%v)", bin, err)
	}
	runCTest(t, "CUDA emulation test", []string{"cuda emulation test: all passed"}, bin)
}

// convCase is one CausalConv1dSiLUBidirectional problem: x [B, L, X] of
// which channels [0, D) are the conv input, K taps.
type convCase struct {
	reason        string
	b, l, x, d, k int
}

// convInputs returns deterministic pseudo-random inputs x, w_f, b_f, w_b, b_b.
func convInputs(c convCase, seed uint64) []array {
	next := func() float32 { // xorshift, values in [-1, 1)
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return float32(seed>>40)/float32(1<<23) - 1
	}
	fill := func(shape ...int64) array {
		a := array{shape: shape}
		a.data = make([]float32, a.numel())
		for i := range a.data {
			a.data[i] = next() * 2
		}
		return a
	}
	B, L, X, D, K := int64(c.b), int64(c.l), int64(c.x), int64(c.d), int64(c.k)
	return []array{fill(B, L, X), fill(D, 1, K), fill(D), fill(D, 1, K), fill(D)}
}

// convRef is the direct loop over the op's definition (ops/README.md), in
// float64: u_f[t] = SiLU(b_f + Σ_k w_f[k]·x[t-(K-1)+k]), u_b[t] =
// SiLU(b_b + Σ_j w_b[K-1-j]·x[t+j]), x zero outside [0, L).
func convRef(c convCase, in []array) (uf, ub array) {
	x, wf, bf, wb, bb := in[0].data, in[1].data, in[2].data, in[3].data, in[4].data
	shape := []int64{int64(c.b), int64(c.l), int64(c.d)}
	uf = array{shape: shape, data: make([]float32, c.b*c.l*c.d)}
	ub = array{shape: shape, data: make([]float32, c.b*c.l*c.d)}
	silu := func(v float64) float32 { return float32(v / (1 + math.Exp(-v))) }
	at := func(b, t, d int) float64 {
		if t < 0 || t >= c.l {
			return 0
		}
		return float64(x[(b*c.l+t)*c.x+d])
	}
	for b := 0; b < c.b; b++ {
		for t := 0; t < c.l; t++ {
			for d := 0; d < c.d; d++ {
				f, r := float64(bf[d]), float64(bb[d])
				for k := 0; k < c.k; k++ {
					f += float64(wf[d*c.k+k]) * at(b, t-(c.k-1)+k, d)
				}
				for j := 0; j < c.k; j++ {
					r += float64(wb[d*c.k+c.k-1-j]) * at(b, t+j, d)
				}
				uf.data[(b*c.l+t)*c.d+d] = silu(f)
				ub.data[(b*c.l+t)*c.d+d] = silu(r)
			}
		}
	}
	return uf, ub
}

var convInputNames = []string{"x", "w_f", "b_f", "w_b", "b_b"}

// runConv runs testdata/conv_bidirectional.onnx and returns u_f, u_b.
func runConv(t *testing.T, threads int, in []array) (uf, ub array, err error) {
	t.Helper()
	s, err := sessionOutputs(t, "conv_bidirectional.onnx", convInputNames, []string{"u_f", "u_b"}, threads)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	defer s.Destroy()
	res, err := runOutputs(t, s, in, 2)
	if err != nil {
		return array{}, array{}, err
	}
	return res[0], res[1], nil
}

// TestCausalConv1dSiLU compares CausalConv1dSiLUBidirectional with the
// direct loop on edge shapes (L < K, L = 1, channel counts that are not a
// multiple of any vector width, several token blocks, x wider than D as
// when the op reads x from in_proj's [B, L, 2D] output), with 1 and 2
// threads (which must agree exactly). The ISA variant is the CPU's best or
// $VIMCONVERT_CPU_ISA.
func TestCausalConv1dSiLU(t *testing.T) {
	needORT(t)
	cases := []convCase{
		{"Vim-T block shape", 1, 197, 384, 384, 4},
		{"x read from xz [B, L, 2D]", 2, 197, 768, 384, 4},
		{"batch 3, D = 19 (vector tails), several token blocks", 3, 150, 19, 19, 4},
		{"L = 1", 2, 1, 8, 8, 4},
		{"L = 3 < K = 4", 3, 3, 24, 24, 4},
		{"L = 2 < K = 6, X = D + 5", 1, 2, 21, 16, 6},
		{"K = 1 (pointwise)", 1, 70, 33, 33, 1},
		{"L = 64 and 65 around the token-block edge", 2, 65, 40, 40, 4},
	}
	for i, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			in := convInputs(c, uint64(1000+i))
			wf, wb := convRef(c, in)
			var first [2]array
			for _, threads := range []int{1, 2} {
				uf, ub, err := runConv(t, threads, in)
				if err != nil {
					t.Fatalf("%d threads: %v", threads, err)
				}
				// SiLU of sums of up to K products of values in [-2, 2].
				if d := maxDiff(t, uf, wf); !(d <= 2e-5) {
					t.Errorf("%d threads: u_f max|d| = %g vs the direct loop", threads, d)
				}
				if d := maxDiff(t, ub, wb); !(d <= 2e-5) {
					t.Errorf("%d threads: u_b max|d| = %g vs the direct loop", threads, d)
				}
				if threads == 1 {
					first = [2]array{uf, ub}
				} else if maxDiff(t, uf, first[0]) != 0 || maxDiff(t, ub, first[1]) != 0 {
					t.Errorf("1 and 2 threads differ, want identical")
				}
			}
		})
	}
}

// TestCausalConv1dSiLUBadInputs checks that malformed calls give an error
// naming the problem, never a crash, and that empty inputs give empty
// outputs.
func TestCausalConv1dSiLUBadInputs(t *testing.T) {
	needORT(t)
	c := convCase{"", 1, 7, 8, 8, 4}
	tests := []struct {
		reason string
		edit   func([]array) []array
		want   string
	}{
		{"w_b has K = 3 while w_f has 4", func(in []array) []array {
			in[3] = array{shape: []int64{8, 1, 3}, data: in[3].data[:24]}
			return in
		}, "input 3 (w_b) has shape [8, 1, 3], want [D, 1, K] with D = 8, K = 4 (from w_f)"},
		{"b_f has D = 6", func(in []array) []array {
			in[2] = array{shape: []int64{6}, data: in[2].data[:6]}
			return in
		}, "input 2 (b_f) has shape [6]"},
		{"w_f with 2 input channels per group", func(in []array) []array {
			in[1] = array{shape: []int64{4, 2, 4}, data: in[1].data}
			in[2] = array{shape: []int64{4}, data: in[2].data[:4]}
			return in
		}, "input 1 (w_f) has shape [4, 2, 4], want [D, 1, K]"},
		{"x has fewer channels than the weights", func(in []array) []array {
			in[0] = array{shape: []int64{1, 14, 4}, data: in[0].data}
			return in
		}, "input 0 (x) has shape [1, 14, 4], want [B, L, X] with X >= D = 8"},
		{"K = 0 taps", func(in []array) []array {
			in[1] = array{shape: []int64{8, 1, 0}}
			in[3] = array{shape: []int64{8, 1, 0}}
			return in
		}, "K = 0 taps"},
		{"x of rank 2", func(in []array) []array {
			in[0] = array{shape: []int64{7, 8}, data: in[0].data}
			return in
		}, "rank"},
	}
	for i, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			_, _, err := runConv(t, 0, tc.edit(convInputs(c, uint64(i))))
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	in := convInputs(c, 9)
	in[0] = array{shape: []int64{0, 7, 8}}
	uf, ub, err := runConv(t, 0, in)
	if err != nil {
		t.Fatalf("B = 0: %v", err)
	}
	if fmt.Sprint(uf.shape, ub.shape) != "[0 7 8] [0 7 8]" || len(uf.data)+len(ub.data) != 0 {
		t.Errorf("B = 0: outputs %v, %v, want empty [0 7 8]", uf.shape, ub.shape)
	}
	// A good call still works afterwards.
	if _, _, err := runConv(t, 0, convInputs(c, 10)); err != nil {
		t.Fatalf("good call after bad ones: %v", err)
	}
}
