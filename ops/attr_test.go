package ops

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// attrCases are models with an attribute the plugin must refuse when the
// session is created (ops/testdata/make_attr_models.py). ONNX Runtime
// checks no attribute of a custom op. check is the refusal of the plugin's
// attribute check (common/attr_check.c, on in every tested runtime); kernel
// is the refusal of the op's kernel, which is all a host that turns the
// check off ("vimconvert.attribute_check" = "0") or runs ORT < 1.23 gets;
// "" where the kernel cannot see the problem and the session is created.
type attrCase struct {
	reason        string
	model         string
	names         []string
	check, kernel string // substrings of the session error
}

// want is the session error expected with the check on or off ("" = none).
func (c attrCase) want(checkOn bool) string {
	if checkOn {
		return c.check
	}
	return c.kernel
}

var attrCases = []attrCase{
	{"divide_out = 0.0 (float) must not read as absent", "bad_divide_out_float.onnx", biInputs,
		"attribute divide_out is a float, want an int", "attribute divide_out is a float, want an int"},
	{"divide_out = \"zero\" (string)", "bad_divide_out_string.onnx", biInputs,
		"attribute divide_out is a string, want an int", "attribute divide_out is a string, want an int"},
	{"divide_out = [0] (ints)", "bad_divide_out_ints.onnx", biInputs,
		"attribute divide_out is a list of ints, want an int", "attribute divide_out is a list of ints, want an int"},
	{"divide_out = [0.0] (floats)", "bad_divide_out_floats.onnx", biInputs,
		"attribute divide_out is a list of floats, want an int", "attribute divide_out is a list of floats, want an int"},
	{"divide_out = [\"0\"] (strings: the kernel recognises it by ORT's message)",
		"bad_divide_out_strings.onnx", biInputs,
		"attribute divide_out is a list of strings, want an int", "attribute divide_out is another type, want an int"},
	{"divide_out as a tensor", "bad_divide_out_tensor.onnx", biInputs,
		"attribute divide_out is a tensor, want an int", "attribute divide_out is another type, want an int"},
	{"SelectiveScan has no divide_out (int 0 given)", "bad_unidirectional_divide_out.onnx", uniInputs,
		`(SelectiveScan): unknown attribute "divide_out" (the op takes no attributes)`,
		"SelectiveScan: has no attribute divide_out"},
	{"SelectiveScan has no divide_out (float 1.0 given)", "bad_unidirectional_divide_out_float.onnx", uniInputs,
		`(SelectiveScan): unknown attribute "divide_out"`, "SelectiveScan: has no attribute divide_out"},
	{"a misspelt divide_out would run with the default", "bad_unknown_attribute.onnx", biInputs,
		`(SelectiveScanBidirectional): unknown attribute "dividee_out" (the op takes divide_out (an int))`, ""},
	{"the conv op takes no attribute", "bad_conv_unknown_attribute.onnx", convInputNames,
		`(CausalConv1dSiLUBidirectional): unknown attribute "foo" (the op takes no attributes)`, ""},
	{"divide_out by ref_attr_name outside a function would read as 0", "bad_ref_attribute.onnx", biInputs,
		"attribute divide_out has no value (given by ref_attr_name", ""},
	{"inside an If branch (ORT checks each subgraph)", "bad_unknown_attribute_in_if.onnx",
		append([]string{"cond"}, biInputs...), `unknown attribute "dividee_out"`, ""},
	{"unknown attribute of a type ORT's OpAttr_GetType has no value for (TENSORS)",
		"bad_unknown_attribute_tensors.onnx", biInputs, `unknown attribute "dividee_out"`, ""},
	{"unknown attribute of type TYPE_PROTO on the conv op", "bad_conv_unknown_attribute_type_proto.onnx",
		convInputNames, `unknown attribute "foo"`, ""},
	{"inside a model function (ORT inlines it first)", "bad_unknown_attribute_in_function.onnx", biInputs,
		`unknown attribute "dividee_out"`, ""},
}

// goodAttrCases load with the check on.
var goodAttrCases = []struct {
	reason string
	model  string
	names  []string
}{
	{"bidirectional without divide_out (default 1)", "scan_bidirectional.onnx", biInputs},
	{"bidirectional with divide_out = 1", "scan_bidirectional_divide1.onnx", biInputs},
	{"bidirectional with divide_out = 0", "scan_bidirectional_sum.onnx", biInputs},
	{"unidirectional without divide_out", "scan_unidirectional.onnx", uniInputs},
	{"conv", "conv_bidirectional.onnx", convInputNames},
	{"divide_out by ref_attr_name inside a function, given by the call", "scan_function_ref_divide_out.onnx", biInputs},
}

// attrSession opens ops/testdata/<model> through the Go bindings (ORT
// 1.29.0) with the plugin, the attribute check on or off.
func attrSession(t *testing.T, model string, names []string, checkOn bool) error {
	t.Helper()
	opts, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatalf("session options: %v", err)
	}
	defer opts.Destroy()
	if !checkOn {
		if err := opts.AddSessionConfigEntry("vimconvert.attribute_check", "0"); err != nil {
			t.Fatal(err)
		}
	}
	if err := opts.RegisterCustomOpsLibrary(pluginLibrary()); err != nil {
		t.Fatalf("registering plugin: %v", err)
	}
	s, err := ort.NewDynamicAdvancedSession("testdata/"+model, names, []string{"y"}, opts)
	if err == nil {
		s.Destroy()
	}
	return err
}

// TestAttributeRefusal checks through the Go bindings (ORT 1.29.0) that
// every case is refused by name at session creation, by the attribute check
// and, with the check off, by the kernel where it can see the problem; and
// that valid models load either way.
func TestAttributeRefusal(t *testing.T) {
	needORT(t)
	for _, tc := range attrCases {
		t.Run(tc.reason, func(t *testing.T) {
			for _, on := range []bool{true, false} {
				want, err := tc.want(on), attrSession(t, tc.model, tc.names, on)
				switch {
				case want == "" && err != nil:
					t.Errorf("check off: %v, want the session created (the kernel cannot see this)", err)
				case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
					t.Errorf("check on=%v: error %v, want one containing %q", on, err, want)
				}
			}
		})
	}
	for _, tc := range goodAttrCases {
		for _, on := range []bool{true, false} {
			if err := attrSession(t, tc.model, tc.names, on); err != nil {
				t.Errorf("%s (check on=%v): %v", tc.reason, on, err)
			}
		}
	}
}

// TestAttributeRefusalHost runs the same models through the C test host
// against every fetched TestedRuntimes version (only 1.29.0 can be loaded by
// the Go bindings): the check is an execution provider that the plugin
// registers itself, which each runtime must accept.
func TestAttributeRefusalHost(t *testing.T) {
	host := testHost(t)
	for _, v := range TestedRuntimes {
		t.Run(v, func(t *testing.T) {
			lib := repo.Path("third_party", "onnxruntime", v, "libonnxruntime.so.1")
			if _, err := os.Stat(lib); err != nil {
				t.Skipf("ONNX Runtime %s not fetched (scripts/fetch-onnxruntime.sh %s): %v", v, v, err)
			}
			run := func(model string, checkOn bool) string {
				// No inputs given: a session that was created fails at the
				// run, with "run: ".
				args := []string{lib, pluginLibrary(), "--model", "testdata/" + model}
				if !checkOn {
					args = append(args, "--config", "vimconvert.attribute_check=0")
				}
				out, _ := exec.Command(host, args...).CombinedOutput()
				return string(out)
			}
			for _, tc := range attrCases {
				for _, on := range []bool{true, false} {
					want, out := tc.want(on), run(tc.model, on)
					created := !strings.Contains(out, "session: ") && strings.Contains(out, "run: ")
					switch {
					case want == "" && !created:
						t.Errorf("%s, check off: want the session created, got:\n%s", tc.reason, out)
					case want != "" && (!strings.Contains(out, "session: ") || !strings.Contains(out, want)):
						t.Errorf("%s, check on=%v: want a session error containing %q, got:\n%s", tc.reason, on, want, out)
					}
				}
			}
			for _, tc := range goodAttrCases {
				if out := run(tc.model, true); strings.Contains(out, "session: ") {
					t.Errorf("%s refused at session creation:\n%s", tc.reason, out)
				}
			}
		})
	}
}

// TestAttributeCheckLifecycleHost runs the C host's --lifecycle and
// --unlinked-copy modes in every fetched TestedRuntimes version: the
// attribute check must refuse bad_unknown_attribute.onnx and let
// scan_bidirectional.onnx load when the host registers the plugin before
// creating ORT's environment, and again after it released that environment
// and created another; and a plugin whose file was deleted after loading
// (so the check cannot register it) must fail registration naming the
// opt-out, leave the options usable, and load with the check off.
func TestAttributeCheckLifecycleHost(t *testing.T) {
	host := testHost(t)
	for _, v := range TestedRuntimes {
		lib := repo.Path("third_party", "onnxruntime", v, "libonnxruntime.so.1")
		if _, err := os.Stat(lib); err != nil {
			t.Logf("ONNX Runtime %s not fetched: skipped", v)
			continue
		}
		for mode, pass := range map[string]string{"--lifecycle": "lifecycle: pass", "--unlinked-copy": "host checks: pass"} {
			out, err := exec.Command(host, lib, pluginLibrary(), "--testdata", "testdata", mode).CombinedOutput()
			if err != nil || !strings.Contains(string(out), pass) {
				t.Errorf("ORT %s %s: %v\n%s", v, mode, err, out)
			}
		}
	}
}
