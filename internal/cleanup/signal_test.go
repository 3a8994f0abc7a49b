package cleanup

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain runs as a child of TestNotifyExit when CLEANUP_TEST_CHILD says
// how: it registers a temporary, signals itself and then either returns
// when its context is cancelled ("watch") or blocks for good ("block",
// like an ONNX Runtime call that ignores the context).
func TestMain(m *testing.M) {
	mode := os.Getenv("CLEANUP_TEST_CHILD")
	if mode == "" {
		os.Exit(m.Run())
	}
	in := Notify(context.Background(), os.Stderr, "child")
	f, err := CreateTemp(os.Getenv("CLEANUP_TEST_DIR"), "out.bin")
	if err != nil {
		os.Exit(3)
	}
	f.Close()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	if mode == "block" {
		select {}
	}
	<-in.Context().Done()
	in.Exit()
	os.Exit(4) // Exit returned: no signal seen
}

func TestNotifyExit(t *testing.T) {
	tests := []struct {
		mode    string
		minTime time.Duration
		reason  string
	}{
		{"watch", 0, "work that watches its context stops at once"},
		{"block", Grace, "work that ignores its context is ended after Grace"},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "CLEANUP_TEST_CHILD="+tc.mode, "CLEANUP_TEST_DIR="+dir)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			took := time.Since(start)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 143 {
				t.Fatalf("%s: child ended with %v, want exit status 143:\n%s", tc.reason, err, out)
			}
			if strings.Count(string(out), "\n") != 1 || !strings.HasPrefix(string(out), "child: interrupted by SIGTERM: removed 1 temporary") {
				t.Errorf("%s: output %q, want one line \"child: interrupted by SIGTERM: removed 1 temporary ...\"", tc.reason, out)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
				t.Errorf("%s: left %v", tc.reason, left)
			}
			if hidden, _ := filepath.Glob(filepath.Join(dir, ".*")); len(hidden) > 0 {
				t.Errorf("%s: left %v", tc.reason, hidden)
			}
			if took < tc.minTime {
				t.Errorf("%s: took %v, less than %v", tc.reason, took, tc.minTime)
			}
		})
	}
}
