package ops

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
		t.Skip("valgrind run (~12 s) skipped in -short")
	}
	valgrind, err := exec.LookPath("valgrind")
	if err != nil {
		t.Skip("valgrind not installed (`make setup` installs it)")
	}
	host := testHost(t)
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

// TestInstallDepsInstallsValgrind runs scripts/install-deps.sh (what CI
// and `make setup` run) with valgrind missing from PATH and apt-get and
// sudo replaced by recorders, and checks that it asks apt for valgrind, so
// that TestShapeInferenceStatusReleased runs in CI instead of skipping.
func TestInstallDepsInstallsValgrind(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"bash", "gcc", "make", "npm", "dpkg-query", "grep", "id", "cat"} {
		if p, err := exec.LookPath(tool); err == nil {
			if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
				t.Fatal(err)
			}
		}
	}
	log := filepath.Join(t.TempDir(), "apt.log")
	fake := "#!" + filepath.Join(bin, "bash") + "\necho \"$*\" >> " + log + "\n"
	if err := os.WriteFile(filepath.Join(bin, "apt-get"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	sudo := "#!" + filepath.Join(bin, "bash") + "\n\"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte(sudo), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "bash"), repo.Path("scripts", "install-deps.sh"))
	cmd.Env = []string{"PATH=" + bin}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install-deps.sh: %v\n%s", err, out)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("install-deps.sh ran no apt-get with valgrind absent: %v", err)
	}
	var installs []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "install") {
			installs = append(installs, strings.Fields(line)...)
		}
	}
	if !slices.Contains(installs, "valgrind") {
		t.Errorf("install-deps.sh did not install valgrind; apt-get calls:\n%s", b)
	}
}
