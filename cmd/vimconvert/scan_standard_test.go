package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/verify"
)

// TestConvertVerifyStandardScan converts the depth-2 fixture with
// --scan standard and verifies it through the CLI: the model has only
// default-domain nodes and meets the Go reference to 1e-4.
func TestConvertVerifyStandardScan(t *testing.T) {
	needORT(t)
	ckpt, model := convertDepth2(t, "std.onnx", "--scan", string(graph.ScanStandard))
	var out, errb bytes.Buffer
	for _, n := range readModel(t, model).GetGraph().GetNode() {
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			t.Fatalf("--scan standard model has node %s of domain %q", n.GetName(), d)
		}
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"verify", ckpt, model, "--batch", "1", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, out.String(), errb.String())
	}
	var res verify.FileReport
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("verify --json output: %v\n%s", err, out.String())
	}
	if !res.Pass || len(res.Outputs) == 0 || res.Outputs[0].Report.MaxAbs > 1e-4 {
		t.Errorf("verify of the standard-scan model: pass %v, outputs %+v", res.Pass, res.Outputs)
	}
}
