package ops

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// ortWarningRe matches an ORT log line at WARNING severity or above.
var ortWarningRe = regexp.MustCompile(`\[[WEF]:onnxruntime`)

// TestShapeInferenceNoWarning runs each op in the C host with ORT logging
// at WARNING, in every tested runtime, and requires that ORT prints
// nothing. With a -1 in the inferred output shape ORT warned on every run
// ("VerifyOutputSizes] Expected shape from model of {-1,-1,-1} does not
// match actual shape of {2,5,4}"); the *_unnamed models have no dim names
// at all, so the op must make up its own.
func TestShapeInferenceNoWarning(t *testing.T) {
	host := testHost(t)
	const B, L, D, N, K, X = 2, 5, 4, 3, 3, 6
	act, bc := []int{B, L, D}, []int{B, L, N}
	scanShapes := [][]int{act, act, {D, N}, bc, bc, {D}, {D}}
	var scanIn [][]int
	scanIn = append(append(append(scanIn, scanShapes...), scanShapes...), act)
	convIn := [][]int{{B, L, X}, {D, 1, K}, {D}, {D, 1, K}, {D}}
	models := []struct {
		file   string
		names  []string
		shapes [][]int
	}{
		{"scan_bidirectional.onnx", biInputs, scanIn},
		{"scan_bidirectional_unnamed.onnx", biInputs, scanIn},
		{"conv_bidirectional.onnx", []string{"x", "w_f", "b_f", "w_b", "b_b"}, convIn},
		{"conv_bidirectional_unnamed.onnx", []string{"x", "w_f", "b_f", "w_b", "b_b"}, convIn},
	}
	dir := t.TempDir()
	for _, m := range models {
		var args []string
		for i, name := range m.names {
			args = append(args, "--input", writeHostInput(t, dir, name, m.shapes[i], i))
		}
		for _, v := range TestedRuntimes {
			lib := repo.Path("third_party", "onnxruntime", v, "libonnxruntime.so.1")
			if _, err := os.Stat(lib); err != nil {
				t.Logf("ONNX Runtime %s not fetched: skipped", v)
				continue
			}
			cmdArgs := append([]string{lib, pluginLibrary(), "--model", "testdata/" + m.file, "--log-level", "2",
				"--repeat", "1"}, args...)
			out, err := exec.Command(host, cmdArgs...).CombinedOutput()
			if err != nil {
				t.Errorf("%s, ORT %s: host failed: %v\n%s", m.file, v, err, out)
				continue
			}
			if ortWarningRe.Match(out) {
				t.Errorf("%s, ORT %s: ORT logged at WARNING or above:\n%s", m.file, v, out)
			}
		}
	}
}

// writeHostInput writes a float32 tensor of the given shape for the C host
// (values in [-1, 0): negative A keeps the scan stable) and returns its
// --input argument NAME=FILE:D0xD1x...
func writeHostInput(t *testing.T, dir, name string, shape []int, seed int) string {
	t.Helper()
	n := 1
	dims := make([]string, len(shape))
	for i, d := range shape {
		n *= d
		dims[i] = fmt.Sprint(d)
	}
	b := make([]byte, 4*n)
	for i := range n {
		v := -float32((i*7+seed*13)%17+1) / 17
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	path := filepath.Join(dir, name+".f32")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s=%s:%s", name, path, strings.Join(dims, "x"))
}
