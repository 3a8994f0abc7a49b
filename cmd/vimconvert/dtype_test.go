package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/verify"
)

// TestConvertVerifyFloat16 converts the depth-2 fixture with --dtype
// float16 and verifies it through the CLI: without --tol, verify applies
// the 16-bit tolerance, says so, and passes; with --tol 1e-4 it fails.
func TestConvertVerifyFloat16(t *testing.T) {
	needORT(t)
	ckpt, model := convertDepth2(t, "f16.onnx", "--dtype", "float16")
	var out, errb bytes.Buffer
	if d, err := graph.ModelDType(readModel(t, model)); err != nil || d != graph.DTypeFloat16 {
		t.Fatalf("model dtype %q, %v: want float16", d, err)
	}
	tests := []struct {
		reason   string
		args     []string
		wantCode int
		wantTol  float64
	}{
		{"default tolerance follows the model's dtype", nil, 0, 1e-2},
		{"an explicit --tol is kept", []string{"--tol", "1e-4"}, 1, 1e-4},
	}
	for _, tc := range tests {
		out.Reset()
		errb.Reset()
		args := append([]string{"verify", ckpt, model, "--batch", "1", "--json"}, tc.args...)
		if code := run(args, &out, &errb); code != tc.wantCode {
			t.Fatalf("%s: verify exit %d, want %d\n%s%s", tc.reason, code, tc.wantCode, out.String(), errb.String())
		}
		var res verify.FileReport
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%s: verify --json output: %v\n%s", tc.reason, err, out.String())
		}
		if res.Tol != tc.wantTol || res.DType != "float16" {
			t.Errorf("%s: tol %g dtype %q, want %g float16", tc.reason, res.Tol, res.DType, tc.wantTol)
		}
	}
}

// TestConvertOpset27 converts with --opset 27: the standard ops are chosen
// without --scan/--conv, and an explicit --scan plugin is refused.
func TestConvertOpset27(t *testing.T) {
	ckpt, model := convertDepth2(t, "o27.onnx", "--opset", "27")
	var out, errb bytes.Buffer
	ops := map[string]bool{}
	for _, n := range readModel(t, model).GetGraph().GetNode() {
		ops[n.GetOpType()] = true
	}
	if !ops[graph.OpONNXLinearAttention] || !ops[graph.OpCausalConvWithState] || ops[graph.OpScanBidirectional] {
		t.Errorf("--opset 27 model ops %v: want LinearAttention and CausalConvWithState, no plugin op", ops)
	}
	errb.Reset()
	if code := run([]string{"convert", ckpt, "-o", model + ".2", "--opset", "27", "--scan", "plugin"}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "opset 27 exports the standard LinearAttention") {
		t.Errorf("--opset 27 --scan plugin: exit %d, stderr %q: want a refusal naming opset 27", code, errb.String())
	}
}
