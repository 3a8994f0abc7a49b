package ops

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// lossRecordRe matches one valgrind "definitely lost" record with its stack.
var lossRecordRe = regexp.MustCompile(`(?m)^==\d+== [\d,]+ bytes in [\d,]+ blocks are definitely lost in loss record[^\n]*\n(?:==\d+==    (?:at|by) [^\n]*\n)+`)

// TestShapeInferenceStatusReleased runs the C host under valgrind on
// bad_static_shape.onnx, whose static shapes make the scan's shape
// inference fail. ORT ignores the status that shape inference returns and
// never frees it (92 bytes per node before the plugin released it
// itself): no definitely-lost block may have been allocated from the
// plugin. ORT's own leaks are not this test's business.
func TestShapeInferenceStatusReleased(t *testing.T) {
	if testing.Short() {
		t.Skip("valgrind run (~30 s) skipped in -short")
	}
	valgrind, err := exec.LookPath("valgrind")
	if err != nil {
		t.Skip("valgrind not installed (apt-get install valgrind)")
	}
	host := repo.Path("build", "vimconvert_ops_host")
	if _, err := os.Stat(host); err != nil {
		t.Fatalf("%s not built: run `make -C ops` (%v)", host, err)
	}
	lib := ortLibrary()
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("ONNX Runtime library %s absent: %v", lib, err)
	}
	out, _ := exec.Command(valgrind, "--leak-check=full", "--num-callers=30", host, lib, pluginLibrary(),
		"--model", "testdata/bad_static_shape.onnx").CombinedOutput()
	if !strings.Contains(string(out), "LEAK SUMMARY") && !strings.Contains(string(out), "All heap blocks were freed") {
		t.Fatalf("valgrind printed no leak report:\n%s", out)
	}
	if !strings.Contains(string(out), "run: ") {
		t.Fatalf("host did not reach the run (want the session created, the run refused):\n%s", out)
	}
	for _, rec := range lossRecordRe.FindAllString(string(out), -1) {
		if strings.Contains(rec, "libvimconvert_ops.so") {
			t.Errorf("block allocated from the plugin leaked:\n%s", rec)
		}
	}
}
