package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/internal/testutil"
)

// TestNoORTTempFiles runs a model in a child process with a private TMPDIR
// and requires the directory to stay empty: Init sets
// ORT_DISABLE_TELEMETRY, which stops ORT 1.29's telemetry client from
// writing .ses and mat-debug-PID.log there. A user's own "0" is kept, and
// then .ses appears (the control that shows the check can fail).
func TestNoORTTempFiles(t *testing.T) {
	if os.Getenv("VIMCONVERT_TEST_TEMP_CHILD") == "1" {
		if err := Init(""); err != nil {
			fmt.Println("RESULT:", err)
			return
		}
		s, err := NewSession(filepath.Join("testdata", "add_relu.onnx"), Options{NoPlugin: true})
		if err != nil {
			fmt.Println("RESULT:", err)
			return
		}
		x := &Tensor{Shape: []int64{1, 3, 2, 2}, Data: make([]float32, 12)}
		_, err = s.Run(map[string]*Tensor{s.InputNames()[0]: x})
		s.Destroy()
		fmt.Println("RESULT: ran", err, os.Getenv(EnvDisableTelemetry))
		return
	}
	requireORT(t)
	tests := []struct {
		env    []string // extra environment of the child
		want   string   // a file TMPDIR must then hold ("" = none at all)
		reason string
	}{
		{nil, "", "variable unset: Init disables ORT's telemetry, nothing is written"},
		{[]string{EnvDisableTelemetry + "=0"}, ".ses", "the user's ORT_DISABLE_TELEMETRY=0 is kept: ORT writes .ses"},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			tmp := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestNoORTTempFiles$", "-test.v")
			for _, kv := range os.Environ() {
				// ORT's telemetry also stays off when CI is set (as in CI
				// runs), which would make the control vacuous.
				if !strings.HasPrefix(kv, EnvDisableTelemetry+"=") && !strings.HasPrefix(kv, "TMPDIR=") && !strings.HasPrefix(kv, "CI=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(append(cmd.Env, "VIMCONVERT_TEST_TEMP_CHILD=1", "TMPDIR="+tmp), tc.env...)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "RESULT: ran <nil>") {
				t.Fatalf("child did not run the model: %v\n%s", err, out)
			}
			names := testutil.DirNames(t, tmp)
			got := strings.Join(names, " ")
			if (tc.want == "" && len(names) > 0) || !strings.Contains(got, tc.want) {
				t.Errorf("TMPDIR holds [%s], want %q", got, tc.want)
			}
		})
	}
}

// TestNewSessionRefusesUnknownAttributes: ONNX Runtime cannot tell the
// plugin a node's attribute names, so NewSession refuses (before ORT sees
// the model) an attribute the op does not take, naming the model and the
// attribute.
func TestNewSessionRefusesUnknownAttributes(t *testing.T) {
	requireORT(t)
	tests := []struct {
		model  string
		want   string
		reason string
	}{
		{"bad_unknown_attribute.onnx", `unknown attribute "dividee_out"`, "typo of divide_out would run with the default"},
		{"bad_conv_unknown_attribute.onnx", `unknown attribute "foo"`, "the fused conv takes no attributes"},
		{"bad_ref_attribute.onnx", `ref_attr_name`, "a function attribute reference outside a function reads as 0"},
	}
	for _, tc := range tests {
		path := repo.Path("ops", "testdata", tc.model)
		_, err := NewSession(path, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "runtime: "+path+": ") {
			t.Errorf("%s: %s: error %v, want \"runtime: %s: ...%s...\"", tc.reason, tc.model, err, path, tc.want)
		}
	}
	// The same op with its own attribute is accepted.
	s, err := NewSession(repo.Path("ops", "testdata", "scan_bidirectional.onnx"), Options{})
	if err != nil {
		t.Fatalf("a valid plugin model: %v", err)
	}
	s.Destroy()
}
