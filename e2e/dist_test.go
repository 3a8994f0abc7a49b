package e2e

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// makeDist is the command running scripts/make-dist.sh into out with the
// test's Go.
func makeDist(out string) *exec.Cmd {
	cmd := exec.Command("bash", filepath.Join(repo.Root(), "scripts", "make-dist.sh"), out)
	cmd.Dir = repo.Root()
	if gobin, err := exec.LookPath("go"); err == nil {
		cmd.Env = append(os.Environ(), "GO="+gobin)
	} else {
		cmd.Env = append(os.Environ(), "GO="+filepath.Join(goruntime.GOROOT(), "bin", "go"))
	}
	return cmd
}

// buildBundle runs scripts/make-dist.sh into a temporary folder and returns
// the tarball's path.
func buildBundle(t *testing.T) string {
	t.Helper()
	requireRuntime(t)
	out := t.TempDir()
	logs, err := makeDist(out).CombinedOutput()
	if err != nil {
		t.Fatalf("make-dist.sh: %v\n%s", err, logs)
	}
	matches, _ := filepath.Glob(filepath.Join(out, "vimconvert-*-linux-*.tar.gz"))
	if len(matches) != 1 {
		t.Fatalf("make-dist.sh wrote %v, want one vimconvert-VERSION-linux-ARCH.tar.gz\n%s", matches, logs)
	}
	return matches[0]
}

// extract unpacks a .tar.gz into dir (regular files and folders only, no
// path outside dir) and returns the names it holds.
func extract(t *testing.T, tarball, dir string) []string {
	t.Helper()
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if !filepath.IsLocal(h.Name) {
			t.Fatalf("bundle entry %q leaves the folder", h.Name)
		}
		p := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			var w *os.File
			if w, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, h.FileInfo().Mode().Perm()); err == nil {
				_, err = io.Copy(w, tr)
				w.Close()
			}
		default:
			t.Fatalf("bundle entry %q has type %c: want files and folders only", h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

// runClean runs bin in dir with nothing in the environment but PATH, HOME
// and TMPDIR: no ONNX Runtime or plugin variables.
func runClean(t *testing.T, bin, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	tmp := t.TempDir()
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + tmp, "TMPDIR=" + tmp}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return string(out), code
}

// TestDistBundle builds the release bundle, extracts it outside the
// checkout and converts + verifies the bundled fixture from yet another
// working directory with a clean environment: the binary must find the
// ONNX Runtime and the plugin of its own bundle.
func TestDistBundle(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and extracts the release bundle (~60 MB)")
	}
	tarball := buildBundle(t)
	where := t.TempDir()
	names := extract(t, tarball, where)
	top := strings.TrimSuffix(filepath.Base(tarball), ".tar.gz")
	root := filepath.Join(where, top)
	for _, want := range []string{"bin/vimconvert", "lib/libonnxruntime.so.1", "lib/libvimconvert_ops.so",
		"licenses/onnxruntime-LICENSE", "licenses/go-LICENSE", "licenses/github.com_yalue_onnxruntime_go-LICENSE", "README.md"} {
		if !slices.Contains(names, top+"/"+want) {
			t.Errorf("bundle lacks %s (has %v)", want, names)
		}
	}
	if _, err := os.Stat(repo.Path("runtime", "preprocess", "imagenet1k.txt")); err == nil && !slices.Contains(names, top+"/share/vimconvert/imagenet1k.txt") {
		t.Error("bundle lacks share/vimconvert/imagenet1k.txt")
	}
	// Every JPEG library the binary links resolves into the bundle's lib/.
	ldd, err := exec.Command("ldd", filepath.Join(root, "bin", "vimconvert")).CombinedOutput()
	if err != nil {
		t.Fatalf("ldd: %v\n%s", err, ldd)
	}
	for _, line := range strings.Split(string(ldd), "\n") {
		_, resolved, _ := strings.Cut(line, "=> ")
		resolved, _, _ = strings.Cut(strings.TrimSpace(resolved), " (")
		if strings.Contains(line, "libjpeg") && !strings.HasPrefix(filepath.Clean(resolved), filepath.Join(root, "lib")+"/") {
			t.Errorf("JPEG library not taken from the bundle: %s", strings.TrimSpace(line))
		}
	}
	work := t.TempDir() // neither the checkout nor the bundle
	bin := filepath.Join(root, "bin", "vimconvert")

	out, code := runClean(t, bin, work, "version")
	if code != 0 {
		t.Fatalf("version: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"onnxruntime 1.29.0",
		"library   " + filepath.Join(root, "lib", "libonnxruntime.so.1"),
		"plugin " + filepath.Join(root, "lib", "libvimconvert_ops.so"),
		"registered in onnxruntime 1.29.0",
		"cpu isa",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}

	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	out, code = runClean(t, bin, work, "convert", ckpt, "-o", "vim.onnx")
	if code != 0 {
		t.Fatalf("convert in %s: exit %d\n%s", work, code, out)
	}
	// The plugin usage after convert names the bundle's plugin and never a
	// checkout's 'make plugin' (it did, inside a bundle).
	if !strings.Contains(out, "plugin "+filepath.Join(root, "lib", "libvimconvert_ops.so")+" before") || !strings.Contains(out, "shipped in the release bundle") || strings.Contains(out, "make plugin") {
		t.Errorf("convert's plugin usage in a bundle: want the bundle's lib/ plugin and no 'make plugin':\n%s", out)
	}
	out, code = runClean(t, bin, work, "verify", ckpt, "vim.onnx", "--threads", "1")
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "PASS") {
		t.Errorf("verify printed no PASS:\n%s", out)
	}
	// The Triton entry takes the bundle's plugin.
	if out, code := runClean(t, bin, work, "convert", ckpt, "-o", "served.onnx", "--triton-repo", "models"); code != 0 {
		t.Fatalf("convert --triton-repo: exit %d\n%s", code, out)
	}
	checkTritonEntry(t, filepath.Join(work, "models"), "served", filepath.Join(work, "served.onnx"), 8, true)

	// A bundle that lost its plugin says so, and where it belongs.
	if err := os.Remove(filepath.Join(root, "lib", "libvimconvert_ops.so")); err != nil {
		t.Fatal(err)
	}
	out, code = runClean(t, bin, work, "convert", ckpt, "-o", "again.onnx")
	if code != 0 || !strings.Contains(out, filepath.Join(root, "lib", "libvimconvert_ops.so")+" (not found)") || !strings.Contains(out, "extract the bundle again") || strings.Contains(out, "make plugin") {
		t.Errorf("convert in a bundle without its plugin: exit %d; want the lib/ path not found, 'extract the bundle again', no 'make plugin':\n%s", code, out)
	}
}

// TestDistFailedTarLeavesNothing runs make-dist.sh with a tar that writes
// part of its archive and fails (a full disk, or an interrupt while the
// archive is written): the output folder must hold nothing afterwards (it
// used to keep the partial NAME.tar.gz.tmp).
func TestDistFailedTarLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary")
	}
	requireRuntime(t)
	fake := t.TempDir()
	script := "#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in -czf) echo partial > \"$2\";; esac; shift; done\nexit 1\n"
	if err := os.WriteFile(filepath.Join(fake, "tar"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := makeDist(out)
	cmd.Env = append(cmd.Env, "PATH="+fake+string(os.PathListSeparator)+os.Getenv("PATH"))
	logs, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("make-dist.sh succeeded with a failing tar:\n%s", logs)
	}
	ents, _ := os.ReadDir(out)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if len(left) > 0 {
		t.Errorf("a failed make-dist.sh left %v in the output folder, want nothing\n%s", left, logs)
	}
}

// TestDistStaleStageRemoved SIGKILLs make-dist.sh (and the build it runs)
// once its stage folder exists, which leaves the folder behind (no EXIT
// trap runs), and checks that the next run removes it, as the stage folder
// of a process that no longer runs, while it keeps one whose process runs
// (this test's) and one whose name holds no process id; the run still
// writes its tarball. Stage folders were never cleaned.
func TestDistStaleStageRemoved(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary")
	}
	requireRuntime(t)
	out := t.TempDir()
	cmd := makeDist(out)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the kill reaches go build too
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stale []string
	for deadline := time.Now().Add(2 * time.Minute); len(stale) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		stale, _ = filepath.Glob(filepath.Join(out, ".stage-*"))
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	if len(stale) != 1 {
		t.Fatalf("make-dist.sh made stage folders %v before the kill, want one", stale)
	}
	if _, err := os.Stat(stale[0]); err != nil {
		t.Fatalf("the killed run's stage folder is gone already (%v): the test kills too late", err)
	}
	live := filepath.Join(out, ".stage-"+strconv.Itoa(os.Getpid())+"-live01")
	noPID := filepath.Join(out, ".stage-notapid")
	for _, d := range []string{live, noPID} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logs, err := makeDist(out).CombinedOutput()
	if err != nil {
		t.Fatalf("make-dist.sh after a killed run: %v\n%s", err, logs)
	}
	if _, err := os.Stat(stale[0]); !os.IsNotExist(err) {
		t.Errorf("the killed run's stage folder %s is still there (%v)", filepath.Base(stale[0]), err)
	}
	for _, d := range []string{live, noPID} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed (%v); want it kept", filepath.Base(d), err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(out, "vimconvert-*-linux-*.tar.gz")); len(m) != 1 {
		t.Errorf("make-dist.sh wrote %v, want the tarball\n%s", m, logs)
	}
}
