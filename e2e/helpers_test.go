package e2e

import (
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/modeltest"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
)

// parityTol is the project's parity tolerance on fp32 logits (max |Δ|).
const parityTol = 1e-4

// fixture is one golden model directory (checkpoint.pth, input.pth,
// expected.pth) written by the official code.
type fixture struct {
	name string
	dir  string // "" when absent (shared full-depth fixture on a fresh clone)
}

func fixtures() []fixture {
	return []fixture{
		{"vim_t_d2", repo.Fixture("vim_t_d2")},
		{"vim_t_stride8_d2", repo.Fixture("vim_t_stride8_d2")},
		{"vim_t", repo.SharedFixture("vim_t")},
	}
}

// requireRuntime skips when the ONNX Runtime library is truly absent and
// fails when ORT is there but the plugin is not built (make builds both).
func requireRuntime(t *testing.T) {
	t.Helper()
	lib := runtime.DefaultLibraryPath()
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("ONNX Runtime absent (%s): run `make setup`", lib)
	}
	if _, err := os.Stat(runtime.DefaultPluginPath()); err != nil {
		t.Fatalf("plugin not built (%s): run `make plugin` (or `make`)", runtime.DefaultPluginPath())
	}
}

// python returns /usr/bin/python3 when it can import onnx, else skips.
func requireOnnxPython(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import onnx").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import onnx (install python3-onnx, `make setup`): %v %s", py, err, out)
	}
	return py
}

// checkONNX runs onnx.checker.check_model(full_check=True) on path.
func checkONNX(t *testing.T, path string) {
	t.Helper()
	py := requireOnnxPython(t)
	script := "import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print('ok', m.ir_version, [(o.domain, o.version) for o in m.opset_import])"
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker rejected %s: %v\n%s", path, err, out)
	}
	if !strings.HasPrefix(string(out), "ok ") {
		t.Fatalf("onnx.checker printed %q", out)
	}
}

// loadTensors reads a fixture's .pth dict, failing the test on error.
func loadTensors(t *testing.T, path string) map[string]*convert.Tensor {
	t.Helper()
	ts, err := convert.ReadTensorFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return ts
}

// exportModel loads ckpt with opts, builds the graph with gopts and writes
// it to a temp file.
func exportModel(t *testing.T, ckpt string, opts convert.Options, gopts graph.Options) (*convert.Model, string) {
	t.Helper()
	m, _, err := convert.Load(ckpt, opts)
	if err != nil {
		t.Fatalf("convert.Load(%s): %v", ckpt, err)
	}
	return m, modeltest.File(t, m, gopts)
}

func int64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}

func ints(s []int64) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}

// expectParity compares want (expected) and got under shape, failing when
// max |Δ| > tol or (when top1) any top-1 differs. It returns the report.
func expectParity[E, A float32 | float64](t *testing.T, what string, want []E, got []A, shape []int, top1 bool) verify.Report {
	t.Helper()
	r := verify.Compare(want, got, shape)
	if !r.Pass(parityTol) {
		t.Errorf("%s: max |Δ| %.3g > %g\n%s", what, r.MaxAbs, parityTol, r)
	}
	if top1 && !r.Top1OK() {
		t.Errorf("%s: top-1 agrees in %d of %d rows\n%s", what, r.Top1Agree, r.Top1Rows, r)
	}
	return r
}

// writeRaw writes little-endian float32 values (the C host's file format).
func writeRaw(t *testing.T, path string, data []float32) {
	t.Helper()
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
