package cleanup

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// deadPID returns the id of a process that has exited (and been reaped).
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	pid := cmd.Process.Pid
	if processRuns(pid) {
		t.Skipf("pid %d was reused at once", pid)
	}
	return pid
}

func TestCreateTempRenameRemove(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "model.onnx")
	f, err := CreateTemp(dir, final)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	name := filepath.Base(f.Name())
	wantPrefix := ".model.onnx.tmp-vimconvert-" + strconv.Itoa(os.Getpid()) + "-"
	if !strings.HasPrefix(name, wantPrefix) || !staleFileRe.MatchString(name) {
		t.Fatalf("temp name %q: want prefix %q, matching the stale pattern", name, wantPrefix)
	}
	if !slices.Contains(Pending(), f.Name()) {
		t.Fatalf("%s not registered: %v", f.Name(), Pending())
	}
	if err := Rename(f.Name(), final); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(Pending(), f.Name()) {
		t.Errorf("%s still registered after Rename: an interrupt would try to remove it", f.Name())
	}
	d, err := MkdirTemp(dir, "verify")
	if err != nil {
		t.Fatal(err)
	}
	if !staleDirRe.MatchString(filepath.Base(d)) || !slices.Contains(Pending(), d) {
		t.Fatalf("temp dir %s: not named like MkdirTemp's or not registered", d)
	}
	if err := os.WriteFile(filepath.Join(d, "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Remove(d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); !os.IsNotExist(err) || slices.Contains(Pending(), d) {
		t.Errorf("Remove left %s (stat %v) or kept it registered", d, err)
	}
	if _, err := MkdirTemp(dir, "Bad/kind"); err == nil {
		t.Error("MkdirTemp accepted a kind with a slash")
	}
	h, err := MkdirHiddenTemp(dir, "triton")
	if err != nil {
		t.Fatal(err)
	}
	if base := filepath.Base(h); base[0] != '.' || !staleDirRe.MatchString(base) || !slices.Contains(Pending(), h) {
		t.Errorf("hidden temp dir %s: not hidden, not named like MkdirTemp's or not registered", h)
	}
	if err := Remove(h); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveStale(t *testing.T) {
	dead := strconv.Itoa(deadPID(t))
	live := strconv.Itoa(os.Getpid())
	tests := []struct {
		name    string
		dir     bool
		removed bool
		reason  string
	}{
		{".out.onnx.tmp-vimconvert-" + dead + "-123", false, true, "temp file of a dead process"},
		{"vimconvert-verify-" + dead + "-456", true, true, "temp folder of a dead process"},
		{"vimconvert-bench-" + dead + "-789", true, true, "bench folder of a dead process"},
		{".vimconvert-triton-" + dead + "-789", true, true, "hidden staging folder of a dead process"},
		{".vimconvert-triton-" + live + "-789", true, false, "hidden staging folder of a live process"},
		{".out.onnx.tmp-vimconvert-" + live + "-123", false, false, "temp file of a live process (this one)"},
		{"vimconvert-verify-" + live + "-1", true, false, "temp folder of a live process"},
		{".out.onnx.tmp-123", false, false, "not named by this package (no pid): not ours to remove"},
		{"vimconvert-e2e-" + dead, true, false, "os.MkdirTemp name without a pid part"},
		{"out.onnx", false, false, "a final output"},
		{".out.onnx.tmp-vimconvert-" + dead + "-123", true, false, "a folder named like a temp file"},
		{"vimconvert-verify-" + dead + "-456.txt", false, false, "a file named almost like a temp folder"},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, tc.name)
			var err error
			if tc.dir {
				err = os.MkdirAll(filepath.Join(p, "inner"), 0o755)
			} else {
				err = os.WriteFile(p, []byte("partial"), 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := RemoveStale(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(p)
			if gone := os.IsNotExist(statErr); gone != tc.removed || (len(got) == 1) != tc.removed {
				t.Errorf("%s: removed %v (reported %v), want removed %v", tc.name, gone, got, tc.removed)
			}
		})
	}
}

// TestCreateTempRemovesStale: a write into a folder removes what a killed
// process left there.
func TestCreateTempRemovesStale(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".m.onnx.tmp-vimconvert-"+strconv.Itoa(deadPID(t))+"-1")
	if err := os.WriteFile(stale, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := CreateTemp(dir, "m.onnx")
	if err != nil {
		t.Fatal(err)
	}
	defer Remove(f.Name())
	f.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("CreateTemp kept the dead process's %s", stale)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		sig    os.Signal
		want   int
		reason string
	}{
		{syscall.SIGINT, 130, "shell convention for Ctrl-C"},
		{syscall.SIGTERM, 143, "shell convention for kill"},
		{os.Interrupt, 130, "os.Interrupt is SIGINT"},
	}
	for _, tc := range tests {
		if got := ExitCode(tc.sig); got != tc.want {
			t.Errorf("%s: ExitCode(%v) = %d, want %d", tc.reason, tc.sig, got, tc.want)
		}
	}
}

// TestStartForget: a started process is registered until Forget, and the
// interrupt path kills it.
func TestStartForget(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := Start(cmd); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	registry.Lock()
	_, ok := registry.procs[cmd.Process]
	registry.Unlock()
	if !ok {
		t.Fatal("Start did not register the process")
	}
	if cmd.SysProcAttr == nil || cmd.SysProcAttr.Pdeathsig != syscall.SIGKILL {
		t.Error("the worker is not set to die with its parent")
	}
	registry.Lock()
	saved := registry.paths
	registry.paths = map[string]bool{} // remove nothing else of this test binary
	_, procs := removeAllLocked()
	registry.paths = saved
	registry.Unlock()
	err := cmd.Wait()
	Forget(cmd)
	if procs < 1 || err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("interrupt path stopped %d processes; sleep ended with %v, want killed", procs, err)
	}
	registry.Lock()
	_, ok = registry.procs[cmd.Process]
	registry.Unlock()
	if ok {
		t.Error("Forget kept the process")
	}
}

// TestWriteFile: a successful write replaces the file whole (mode 0644);
// a failing one leaves the old file as it was; neither leaves a temporary
// in the folder or in the registry.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	put := func(s string, fail error) error {
		return WriteFile(path, func(f *os.File) error {
			if _, err := f.WriteString(s); err != nil {
				return err
			}
			return fail
		})
	}
	if err := put("first", nil); err != nil {
		t.Fatal(err)
	}
	if err := put("half-written", os.ErrDeadlineExceeded); err != os.ErrDeadlineExceeded {
		t.Errorf("failing write returned %v, want its own error", err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "first" {
		t.Errorf("after a failed write the file holds %q (%v), want the first write's \"first\"", b, err)
	}
	if st, err := os.Stat(path); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only out.bin", len(entries))
	}
	if p := Pending(); len(p) != 0 {
		t.Errorf("registry still holds %v", p)
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "x"), func(*os.File) error { return nil }); err == nil {
		t.Error("WriteFile into a missing folder: no error")
	}
}
