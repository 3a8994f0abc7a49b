// Package cleanup keeps the list of what this process created and has not
// yet handed over (temporary files and directories, worker processes), so
// that an interrupt (SIGINT, SIGTERM; see Notify) removes them before the
// process exits, and so that what a SIGKILL strands is recognisable by name
// and removed by the next run (RemoveStale).
//
// Temporary names carry the creating process id:
//
//	.OUT.onnx.tmp-vimconvert-PID-RAND   beside the final file (CreateTemp)
//	vimconvert-KIND-PID-RAND            a temporary directory (MkdirTemp)
//
// The registry is passive: a program that never calls Notify only pays a
// map insert per temporary. Every change to it (create, rename into place,
// remove, start a process) holds one lock that the interrupt path takes and
// never releases, so an interrupt sees either the temporary or the final
// file, never a half-renamed state.
package cleanup

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
)

// tempFileMark separates the final file's name from the pid and random
// suffix in a temporary file's name.
const tempFileMark = ".tmp-vimconvert-"

// tempDirPrefix starts the name of every temporary directory.
const tempDirPrefix = "vimconvert-"

var (
	// staleFileRe matches CreateTemp's names: group 1 is the pid.
	staleFileRe = regexp.MustCompile(`^\..+\.tmp-vimconvert-([0-9]+)-[0-9]+$`)
	// staleDirRe matches MkdirTemp's and MkdirHiddenTemp's names: group 1
	// is the pid.
	staleDirRe = regexp.MustCompile(`^\.?vimconvert-[a-z0-9]+-([0-9]+)-[0-9]+$`)
	// kindRe is what MkdirTemp accepts as a kind.
	kindRe = regexp.MustCompile(`^[a-z0-9]+$`)
)

// registry is the process-wide list of what an interrupt removes.
var registry = struct {
	sync.Mutex
	paths map[string]bool // temporary files and directories (removed with os.RemoveAll)
	procs map[*os.Process]bool
}{paths: map[string]bool{}, procs: map[*os.Process]bool{}}

// CreateTemp removes the stale temporaries in dir (see RemoveStale), then
// creates and opens a new hidden file in dir named after final (the base
// name of the file it will become) with this process's id, and registers
// it. Hand it over with Rename, or drop it with Remove.
func CreateTemp(dir, final string) (*os.File, error) {
	_, _ = RemoveStale(dir) // best effort: a folder we cannot list fails below
	registry.Lock()
	defer registry.Unlock()
	pattern := "." + filepath.Base(final) + tempFileMark + strconv.Itoa(os.Getpid()) + "-*"
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	registry.paths[f.Name()] = true
	return f, nil
}

// MkdirTemp removes the stale temporaries in dir ("" = os.TempDir()), then
// creates a new directory there named vimconvert-KIND-PID-RAND and
// registers it. kind is lower-case letters and digits ("verify", "bench").
// Remove it (with everything in it) with Remove.
func MkdirTemp(dir, kind string) (string, error) {
	return mkdirTemp(dir, "", kind)
}

// MkdirHiddenTemp is MkdirTemp with a hidden name, .vimconvert-KIND-PID-RAND:
// for staging inside a folder that another program lists, such as a model
// repository a server polls. Hand it over with Rename, or drop it with
// Remove.
func MkdirHiddenTemp(dir, kind string) (string, error) {
	return mkdirTemp(dir, ".", kind)
}

func mkdirTemp(dir, hidden, kind string) (string, error) {
	if !kindRe.MatchString(kind) {
		return "", fmt.Errorf("cleanup: temporary directory kind %q: want lower-case letters and digits", kind)
	}
	if dir == "" {
		dir = os.TempDir()
	}
	_, _ = RemoveStale(dir)
	registry.Lock()
	defer registry.Unlock()
	path, err := os.MkdirTemp(dir, hidden+tempDirPrefix+kind+"-"+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return "", err
	}
	registry.paths[path] = true
	return path, nil
}

// WriteFile writes the file path so that path never holds a partial file:
// write fills a temporary from CreateTemp in path's folder, which is then
// synced, made mode 0644, closed and renamed over path (Rename), and the
// folder synced so that the rename lasts. On any error the temporary is
// removed and path is left as it was.
func WriteFile(path string, write func(f *os.File) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := CreateTemp(dir, path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename durable; a failure here does not undo the write.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Rename moves the temporary tmp to final (os.Rename) and forgets it: from
// then on final is the caller's. An interrupt happens wholly before or
// after it.
func Rename(tmp, final string) error {
	registry.Lock()
	defer registry.Unlock()
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	delete(registry.paths, tmp)
	return nil
}

// Remove deletes the temporary path (with everything in it) and forgets
// it. A path already gone is no error.
func Remove(path string) error {
	registry.Lock()
	defer registry.Unlock()
	delete(registry.paths, path)
	return os.RemoveAll(path)
}

// Start starts cmd (cmd.Start) and registers its process, which an
// interrupt kills; call Forget after cmd.Wait. On Linux the child is also
// killed when this process dies by a signal it cannot catch (SIGKILL):
// see setParentDeathSignal.
func Start(cmd *exec.Cmd) error {
	setParentDeathSignal(cmd)
	registry.Lock()
	defer registry.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	registry.procs[cmd.Process] = true
	return nil
}

// Forget drops cmd's process, started by Start, from the registry (after
// it was waited for).
func Forget(cmd *exec.Cmd) {
	registry.Lock()
	defer registry.Unlock()
	delete(registry.procs, cmd.Process)
}

// Pending returns the temporaries currently registered (for tests and
// messages).
func Pending() []string {
	registry.Lock()
	defer registry.Unlock()
	out := make([]string, 0, len(registry.paths))
	for p := range registry.paths {
		out = append(out, p)
	}
	return out
}

// removeAllLocked kills the registered processes and removes the registered
// temporaries; the caller holds the registry lock. It returns how many of
// each it handled.
func removeAllLocked() (paths, procs int) {
	for p := range registry.procs {
		_ = p.Kill() // SIGKILL; the zombie goes with this process
		procs++
	}
	for p := range registry.paths {
		if os.RemoveAll(p) == nil {
			paths++
		}
	}
	return paths, procs
}

// RemoveStale removes, from dir, the temporaries of vimconvert processes
// that no longer run: files named like CreateTemp's and directories named
// like MkdirTemp's whose process id is not a running process. A live
// process with that id (this one, another vimconvert, or an unrelated
// process that reuses a dead one's id) keeps them. It returns the names
// removed.
func RemoveStale(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		re := staleFileRe
		if e.IsDir() {
			re = staleDirRe
		}
		m := re.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || processRuns(pid) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}

// processRuns reports whether a process with id pid exists (also one of
// another user, which signal 0 may not reach).
func processRuns(pid int) bool {
	if pid <= 0 {
		return true // not a process id: keep the file
	}
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
