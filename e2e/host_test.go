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

var maxAbsRe = regexp.MustCompile(`max_abs_diff=([0-9.eE+-]+|nan|inf)`)

// TestCHostRunsExportedModel runs an exported Vim model in the C host
// program, in ORT 1.29.0 and in the older 1.24.3 (the plugin asks for the
// lowest C API it needs), and requires the official logits within 1e-4.
func TestCHostRunsExportedModel(t *testing.T) {
	requireRuntime(t)
	host := hostProgram(t)
	fx := fixtures()[0]
	_, model := exportModel(t, filepath.Join(fx.dir, "checkpoint.pth"), convert.Options{}, graph.Options{})
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

	for _, ver := range []string{"1.29.0", "1.24.3"} {
		t.Run("ort-"+ver, func(t *testing.T) {
			lib := repo.Path("third_party", "onnxruntime", ver, "libonnxruntime.so.1")
			if _, err := os.Stat(lib); err != nil {
				t.Skipf("ONNX Runtime %s absent (%s): run `make setup`", ver, lib)
			}
			out, err := exec.Command(host, lib, plugin, "--model", model, "--input", input,
				"--expect", wantFile, "--tol", "1e-4", "--repeat", "3").CombinedOutput()
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
			t.Logf("C host, ORT %s: %s", ver, strings.Join(strings.Fields(string(out)), " "))

			out, err = exec.Command(host, lib, plugin, "--model", model, "--input", input,
				"--expect", offFile, "--tol", "1e-4").CombinedOutput()
			if err == nil {
				t.Errorf("host accepted logits moved by 1e-3:\n%s", out)
			}
		})
	}
}
