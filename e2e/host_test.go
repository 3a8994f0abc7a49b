package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/internal/testutil"
	"github.com/vimconvert/vimconvert/ops"
)

// hostProgram returns ops' C test host (plain C, ORT through dlopen, no Go),
// building it with `make -C ops host` when it is missing.
func hostProgram(t *testing.T) string {
	t.Helper()
	host := repo.Path("build", "vimconvert_ops_host")
	if _, err := os.Stat(host); err == nil {
		return host
	}
	out, err := exec.Command("make", "-C", repo.Path("ops"), "host").CombinedOutput()
	if err != nil {
		t.Fatalf("make -C ops host: %v\n%s", err, out)
	}
	if _, err := os.Stat(host); err != nil {
		t.Fatalf("make -C ops host did not produce %s", host)
	}
	return host
}

var (
	maxAbsRe = regexp.MustCompile(`max_abs_diff=([0-9.eE+-]+|nan|inf)`)
	// An ORT log line at WARNING severity or above: "[W:onnxruntime:...",
	// "[E:...", "[F:..." (the host prints ORT's log to stderr).
	ortWarningRe = regexp.MustCompile(`\[[WEF]:onnxruntime`)
)

// hostModels are the exported models the C host runs in every tested
// runtime. minorAtLeast is the lowest ORT 1.x minor version that has the
// model's ops (com.microsoft.LinearAttention: 1.25).
var hostModels = []struct {
	name         string
	gopts        graph.Options
	minorAtLeast int
}{
	{"scan-plugin", graph.Options{Scan: graph.ScanPlugin}, 0},
	{"scan-linear-attention", graph.Options{Scan: graph.ScanLinearAttention}, 25},
	// Before the conv op's shape inference named its dims, ORT warned on
	// every run: "VerifyOutputSizes] Expected shape from model of {-1,1000}
	// does not match actual shape of {N,1000} for output logits".
	{"conv-plugin", graph.Options{Scan: graph.ScanPlugin, DepthwiseConv: graph.ConvPlugin}, 0},
}

// ortMinor returns the minor version of an ORT version string "1.M.P".
func ortMinor(t *testing.T, ver string) int {
	t.Helper()
	parts := strings.Split(ver, ".")
	if len(parts) != 3 || parts[0] != "1" {
		t.Fatalf("ORT version %q is not 1.M.P", ver)
	}
	m, err := strconv.Atoi(parts[1])
	if err != nil {
		t.Fatalf("ORT version %q: %v", ver, err)
	}
	return m
}

// TestCHostRunsExportedModel runs exported Vim models (plugin scan,
// LinearAttention scan, plugin conv) in the C host program in every tested
// ORT (ops.TestedRuntimes: the plugin asks for the lowest C API it needs),
// requires the official logits within 1e-4, refuses logits moved by 1e-3,
// and, with ORT logging at WARNING, requires that ORT prints no warning.
func TestCHostRunsExportedModel(t *testing.T) {
	requireRuntime(t)
	host := hostProgram(t)
	fx := fixtures()[0]
	x := loadTensors(t, filepath.Join(fx.dir, "input.pth"))["x"]
	want := loadTensors(t, filepath.Join(fx.dir, "expected.pth"))["logits"]
	dir := t.TempDir()
	xFile, wantFile, offFile := filepath.Join(dir, "x.f32"), filepath.Join(dir, "logits.f32"), filepath.Join(dir, "off.f32")
	writeRaw(t, xFile, x.Data)
	writeRaw(t, wantFile, want.Data)
	off := append([]float32(nil), want.Data...)
	off[len(off)/2] += 1e-3 // ten times the tolerance
	writeRaw(t, offFile, off)
	dims := make([]string, len(x.Shape))
	for i, d := range x.Shape {
		dims[i] = strconv.Itoa(d)
	}
	input := fmt.Sprintf("%s=%s:%s", graph.InputName, xFile, strings.Join(dims, "x"))
	plugin := repo.Path("build", "libvimconvert_ops.so")

	for _, hm := range hostModels {
		_, model := exportModel(t, filepath.Join(fx.dir, "checkpoint.pth"), convert.Options{}, hm.gopts)
		for _, ver := range ops.TestedRuntimes {
			t.Run(hm.name+"/ort-"+ver, func(t *testing.T) {
				lib := repo.Path("third_party", "onnxruntime", ver, "libonnxruntime.so.1")
				if _, err := os.Stat(lib); err != nil {
					t.Skipf("ONNX Runtime %s absent (%s): run `make setup`", ver, lib)
				}
				if ortMinor(t, ver) < hm.minorAtLeast {
					t.Skipf("ORT %s predates the model's ops (1.%d)", ver, hm.minorAtLeast)
				}
				out, err := exec.Command(host, lib, plugin, "--model", model, "--input", input,
					"--expect", wantFile, "--tol", "1e-4", "--repeat", "2", "--log-level", "2").CombinedOutput()
				if err != nil {
					t.Fatalf("host on the exported model: %v\n%s", err, out)
				}
				m := maxAbsRe.FindSubmatch(out)
				if m == nil {
					t.Fatalf("host printed no max_abs_diff:\n%s", out)
				}
				d, err := strconv.ParseFloat(string(m[1]), 64)
				if err != nil || !(d <= 1e-4) {
					t.Errorf("host max_abs_diff %s (want <= 1e-4)", m[1])
				}
				if ortWarningRe.Match(out) {
					t.Errorf("ORT logged warnings (log level WARNING, 3 runs):\n%s", out)
				}
				t.Logf("C host, ORT %s: %s", ver, strings.Join(strings.Fields(string(out)), " "))

				out, err = exec.Command(host, lib, plugin, "--model", model, "--input", input,
					"--expect", offFile, "--tol", "1e-4").CombinedOutput()
				if err == nil {
					t.Errorf("host accepted logits moved by 1e-3:\n%s", out)
				}
			})
		}
	}
}

// TestCHostLeavesNoTempFiles runs the C host (which sets
// ORT_DISABLE_TELEMETRY=1 before creating ORT's environment) with a private
// TMPDIR in every tested runtime and requires that the directory stays
// empty: without the variable ORT 1.29.0-1.31.1 write .ses there (and
// 1.29/1.30 an empty mat-debug-PID.log per process). As a control, the
// same run with ORT_DISABLE_TELEMETRY=0 must leave .ses in 1.29.0.
func TestCHostLeavesNoTempFiles(t *testing.T) {
	requireRuntime(t)
	host := hostProgram(t)
	plugin := repo.Path("build", "libvimconvert_ops.so")
	model := repo.Path("ops", "testdata", "scan_bidirectional.onnx")
	run := func(t *testing.T, lib, telemetry string) []string {
		tmp := t.TempDir()
		cmd := exec.Command(host, lib, plugin, "--model", model)
		// ORT's telemetry client stays off when CI is set (as in CI runs),
		// which would make both runs vacuous: the host runs without it.
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CI=") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "TMPDIR="+tmp, "ORT_DISABLE_TELEMETRY="+telemetry)
		out, _ := cmd.CombinedOutput() // no inputs given: the run fails after the session is made
		if !strings.Contains(string(out), "ONNX Runtime") || strings.Contains(string(out), "session: ") {
			t.Fatalf("host did not create a session:\n%s", out)
		}
		return testutil.DirNames(t, tmp)
	}
	for _, ver := range ops.TestedRuntimes {
		t.Run("ort-"+ver, func(t *testing.T) {
			lib := repo.Path("third_party", "onnxruntime", ver, "libonnxruntime.so.1")
			if _, err := os.Stat(lib); err != nil {
				t.Skipf("ONNX Runtime %s absent (%s): run `make setup`", ver, lib)
			}
			if left := run(t, lib, "1"); len(left) > 0 {
				t.Errorf("ORT %s left %v in TMPDIR with ORT_DISABLE_TELEMETRY=1", ver, left)
			}
			if ver == "1.29.0" {
				left := run(t, lib, "0")
				if !strings.Contains(strings.Join(left, " "), ".ses") {
					t.Errorf("control: ORT %s with ORT_DISABLE_TELEMETRY=0 left %v, want .ses (does the variable still matter?)", ver, left)
				}
			}
		})
	}
}
