package ops

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// attrCases are models whose divide_out attribute is present but wrong
// (ops/testdata/make_attr_models.py). ONNX Runtime does not check a custom
// op's attribute types, so each must be refused by the plugin when the
// session is created; before, a non-int divide_out read as "absent" and ran
// with the default 1 (output silently halved).
var attrCases = []struct {
	reason string
	model  string
	names  []string
	want   string // substring of the session error
}{
	{"divide_out = 0.0 (float) must not read as absent", "bad_divide_out_float.onnx", biInputs,
		"attribute divide_out is a float, want an int"},
	{"divide_out = \"zero\" (string)", "bad_divide_out_string.onnx", biInputs,
		"attribute divide_out is a string, want an int"},
	{"divide_out = [0] (ints)", "bad_divide_out_ints.onnx", biInputs,
		"attribute divide_out is a list of ints, want an int"},
	{"divide_out = [0.0] (floats)", "bad_divide_out_floats.onnx", biInputs,
		"attribute divide_out is a list of floats, want an int"},
	{"divide_out = [\"0\"] (strings: no v17 call reads it; recognised by ORT's message)",
		"bad_divide_out_strings.onnx", biInputs, "attribute divide_out is another type, want an int"},
	{"divide_out as a tensor (no v17 call reads it)", "bad_divide_out_tensor.onnx", biInputs,
		"attribute divide_out is another type, want an int"},
	{"SelectiveScan has no divide_out (int 0 given)", "bad_unidirectional_divide_out.onnx", uniInputs,
		"SelectiveScan: has no attribute divide_out"},
	{"SelectiveScan has no divide_out (float 1.0 given)", "bad_unidirectional_divide_out_float.onnx", uniInputs,
		"SelectiveScan: has no attribute divide_out"},
}

// TestDivideOutAttributeType checks through the Go bindings (ORT 1.29.0)
// that every wrong divide_out is refused at session creation, and that the
// models without the attribute or with an int one still load.
func TestDivideOutAttributeType(t *testing.T) {
	needORT(t)
	for _, tc := range attrCases {
		t.Run(tc.reason, func(t *testing.T) {
			s, err := session(t, tc.model, tc.names, 1)
			if err == nil {
				s.Destroy()
				t.Fatalf("session created, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	good := []struct {
		reason string
		model  string
		names  []string
	}{
		{"bidirectional without divide_out (default 1)", "scan_bidirectional.onnx", biInputs},
		{"bidirectional with divide_out = 1", "scan_bidirectional_divide1.onnx", biInputs},
		{"bidirectional with divide_out = 0", "scan_bidirectional_sum.onnx", biInputs},
		{"unidirectional without divide_out", "scan_unidirectional.onnx", uniInputs},
	}
	for _, tc := range good {
		t.Run(tc.reason, func(t *testing.T) {
			s, err := session(t, tc.model, tc.names, 1)
			if err != nil {
				t.Fatalf("session: %v", err)
			}
			s.Destroy()
		})
	}
}

// TestDivideOutAttributeTypeHost runs the same models through the C test
// host against every fetched TestedRuntimes version (only 1.29.0 can be
// loaded by the Go bindings): the attribute messages ORT gives may differ
// between versions.
func TestDivideOutAttributeTypeHost(t *testing.T) {
	host := repo.Path("build", "vimconvert_ops_host")
	if _, err := os.Stat(host); err != nil {
		t.Fatalf("%s not built: run `make -C ops` (%v)", host, err)
	}
	for _, v := range TestedRuntimes {
		t.Run(v, func(t *testing.T) {
			lib := repo.Path("third_party", "onnxruntime", v, "libonnxruntime.so.1")
			if _, err := os.Stat(lib); err != nil {
				t.Skipf("ONNX Runtime %s not fetched (scripts/fetch-onnxruntime.sh %s): %v", v, v, err)
			}
			for _, tc := range attrCases {
				// No inputs given: a model that loads fails later, at the run,
				// with a different message.
				out, err := exec.Command(host, lib, pluginLibrary(), "--model", "testdata/"+tc.model).CombinedOutput()
				if err == nil {
					t.Errorf("%s: host exited 0, want a session error\n%s", tc.reason, out)
					continue
				}
				if !strings.Contains(string(out), "session: ") || !strings.Contains(string(out), tc.want) {
					t.Errorf("%s: want a session error containing %q, got:\n%s", tc.reason, tc.want, out)
				}
			}
			// Control: a model without the attribute gets past session creation.
			out, _ := exec.Command(host, lib, pluginLibrary(), "--model", "testdata/scan_bidirectional.onnx").CombinedOutput()
			if strings.Contains(string(out), "session: ") {
				t.Errorf("scan_bidirectional.onnx (no divide_out) refused at session creation:\n%s", out)
			}
		})
	}
}

// TestHostAttributesPluginCannotSee records, in every tested runtime, why
// CheckAttributes exists: ORT creates the session for the models whose
// attribute problem no C API call lets the plugin see (an unknown name on
// either op, divide_out by ref_attr_name), so only a check before ORT
// refuses them. Should a runtime start refusing one at session creation,
// this fails: ops/README.md ("Attributes the plugin cannot see") then needs
// updating, and the plugin may be able to refuse it itself.
func TestHostAttributesPluginCannotSee(t *testing.T) {
	host := repo.Path("build", "vimconvert_ops_host")
	if _, err := os.Stat(host); err != nil {
		t.Fatalf("%s not built: run `make -C ops` (%v)", host, err)
	}
	models := []string{"bad_unknown_attribute.onnx", "bad_conv_unknown_attribute.onnx", "bad_ref_attribute.onnx"}
	for _, v := range TestedRuntimes {
		lib := repo.Path("third_party", "onnxruntime", v, "libonnxruntime.so.1")
		if _, err := os.Stat(lib); err != nil {
			t.Logf("ONNX Runtime %s not fetched: skipped", v)
			continue
		}
		for _, m := range models {
			// No inputs given: a session that was created fails at the run.
			out, _ := exec.Command(host, lib, pluginLibrary(), "--model", "testdata/"+m).CombinedOutput()
			if strings.Contains(string(out), "session: ") || !strings.Contains(string(out), "run: ") {
				t.Errorf("ORT %s, %s: want the session created (the plugin cannot see this attribute), got:\n%s", v, m, out)
			}
		}
	}
}
