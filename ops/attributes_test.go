package ops

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/internal/testutil"
)

// TestCheckAttributesTestdata runs CheckAttributes on every committed test
// model: the attribute models (make_attr_models.py) are refused naming the
// node, op and attribute; every other model passes (bad_input_count etc.
// are wrong in other ways the plugin itself reports).
func TestCheckAttributesTestdata(t *testing.T) {
	bad := map[string]string{
		"bad_unknown_attribute.onnx":      `(SelectiveScanBidirectional): unknown attribute "dividee_out" (the op takes divide_out (INT))`,
		"bad_conv_unknown_attribute.onnx": `(CausalConv1dSiLUBidirectional): unknown attribute "foo" (the op takes no attributes)`,
		"bad_ref_attribute.onnx":          `(SelectiveScanBidirectional): attribute divide_out refers to function attribute "d" (ref_attr_name)`,
		"bad_divide_out_float.onnx":       "attribute divide_out is FLOAT, want INT",
		"bad_divide_out_string.onnx":      "attribute divide_out is STRING, want INT",
		"bad_divide_out_ints.onnx":        "attribute divide_out is INTS, want INT",
		"bad_divide_out_floats.onnx":      "attribute divide_out is FLOATS, want INT",
		"bad_divide_out_strings.onnx":     "attribute divide_out is STRINGS, want INT",
		"bad_divide_out_tensor.onnx":      "attribute divide_out is TENSOR, want INT",
		"bad_unidirectional_divide_out.onnx": `(SelectiveScan): unknown attribute "divide_out" ` +
			"(the op takes no attributes)",
		"bad_unidirectional_divide_out_float.onnx": `(SelectiveScan): unknown attribute "divide_out"`,
		"bad_unknown_attribute_in_if.onnx": `attribute then_branch graph "then" node 0 (SelectiveScanBidirectional): ` +
			`unknown attribute "dividee_out"`,
		"bad_unknown_attribute_in_function.onnx":     `unknown attribute "dividee_out"`,
		"bad_unknown_attribute_tensors.onnx":         `unknown attribute "dividee_out"`,
		"bad_conv_unknown_attribute_type_proto.onnx": `unknown attribute "foo"`,
	}
	files, err := filepath.Glob("testdata/*.onnx")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test models (%v)", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckAttributes(b)
		want, isBad := bad[filepath.Base(f)]
		switch {
		case isBad && err == nil:
			t.Errorf("%s: accepted, want an error containing %q", f, want)
		case isBad && (!errors.Is(err, ErrBadAttribute) || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: error %q, want ErrBadAttribute containing %q", f, err, want)
		case !isBad && err != nil:
			t.Errorf("%s: %v", f, err)
		}
		delete(bad, filepath.Base(f))
	}
	for f := range bad {
		t.Errorf("testdata/%s missing (run make_attr_models.py)", f)
	}
}

// pluginNode returns a NodeProto of Domain with the given attributes.
func pluginNode(op string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Domain: proto.String(Domain), Name: proto.String("n"), Attribute: attrs}
}

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func modelOf(t *testing.T, m *onnxpb.ModelProto) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCheckAttributesCases covers what the committed models do not:
// subgraphs, functions, repeats, missing types, unknown ops, bad bytes.
func TestCheckAttributesCases(t *testing.T) {
	bi := "SelectiveScanBidirectional"
	graphOf := func(nodes ...*onnxpb.NodeProto) *onnxpb.GraphProto {
		return &onnxpb.GraphProto{Name: proto.String("main"), Node: nodes}
	}
	ifWith := func(body *onnxpb.NodeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String("If"), Name: proto.String("if"), Attribute: []*onnxpb.AttributeProto{{
			Name: proto.String("then_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: graphOf(body)}}}
	}
	ref := &onnxpb.AttributeProto{Name: proto.String("divide_out"), Type: onnxpb.AttributeProto_INT.Enum(), RefAttrName: proto.String("d")}
	cases := []struct {
		reason string
		model  *onnxpb.ModelProto
		want   string // "" = accepted
	}{
		{"divide_out 0 is valid", &onnxpb.ModelProto{Graph: graphOf(pluginNode(bi, intAttr("divide_out", 0)))}, ""},
		{"no plugin ops", &onnxpb.ModelProto{Graph: graphOf(&onnxpb.NodeProto{OpType: proto.String("Relu"),
			Attribute: []*onnxpb.AttributeProto{intAttr("foo", 1)}})}, ""},
		{"a misspelt attribute inside an If branch is found",
			&onnxpb.ModelProto{Graph: graphOf(ifWith(pluginNode(bi, intAttr("dividee_out", 0))))},
			`graph "main" node 0 "if" attribute then_branch graph "main" node 0 "n" (SelectiveScanBidirectional): unknown attribute "dividee_out"`},
		{"ref_attr_name inside a function body is ONNX's own mechanism",
			&onnxpb.ModelProto{Functions: []*onnxpb.FunctionProto{{Name: proto.String("f"), Node: []*onnxpb.NodeProto{pluginNode(bi, ref)}}}}, ""},
		{"but an unknown attribute in a function body is not",
			&onnxpb.ModelProto{Functions: []*onnxpb.FunctionProto{{Name: proto.String("f"), Node: []*onnxpb.NodeProto{
				pluginNode("SelectiveScan", intAttr("divide_out", 1))}}}},
			`function "f" node 0 "n" (SelectiveScan): unknown attribute "divide_out"`},
		{"an attribute given twice (ORT would read one of them)",
			&onnxpb.ModelProto{Graph: graphOf(pluginNode(bi, intAttr("divide_out", 0), intAttr("divide_out", 1)))},
			"attribute divide_out given twice"},
		{"an attribute without a type",
			&onnxpb.ModelProto{Graph: graphOf(pluginNode(bi, &onnxpb.AttributeProto{Name: proto.String("divide_out"), I: proto.Int64(0)}))},
			"attribute divide_out has no type, want INT"},
		{"an op the domain does not have",
			&onnxpb.ModelProto{Graph: graphOf(pluginNode("SelectiveScanBidirectionl"))},
			`ai.vimconvert has no op "SelectiveScanBidirectionl" (it has CausalConv1dSiLUBidirectional, SelectiveScan, SelectiveScanBidirectional)`},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			err := CheckAttributes(modelOf(t, tc.model))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBadAttribute) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrBadAttribute containing %q", err, tc.want)
			}
		})
	}
	t.Run("truncated bytes are an error, not a pass", func(t *testing.T) {
		b := modelOf(t, &onnxpb.ModelProto{Graph: graphOf(pluginNode(bi, intAttr("dividee_out", 0)))})
		err := CheckAttributes(b[:len(b)-3])
		if err == nil || errors.Is(err, ErrBadAttribute) {
			t.Fatalf("error %v, want a malformed-protobuf error", err)
		}
	})
}

// exportedPluginModel builds vim_t_d2 with the plugin scan and conv.
func exportedPluginModel(tb testing.TB) *onnxpb.ModelProto {
	tb.Helper()
	m, _, err := convert.Load(repo.Fixture("vim_t_d2")+"/checkpoint.pth", convert.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	mp, err := graph.Build(m, graph.Options{Scan: graph.ScanPlugin, DepthwiseConv: graph.ConvPlugin})
	if err != nil {
		tb.Fatal(err)
	}
	return mp
}

// BenchmarkCheckAttributes: the check on an exported vim_t_d2 (3.8 MB,
// nearly all of it weights, which are skipped undecoded).
func BenchmarkCheckAttributes(b *testing.B) {
	data, err := proto.Marshal(exportedPluginModel(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := CheckAttributes(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCheckAttributesExportedModel: what the converter writes passes, with
// every plugin op in it.
func TestCheckAttributesExportedModel(t *testing.T) {
	mp := exportedPluginModel(t)
	ops := map[string]bool{}
	for _, n := range mp.Graph.Node {
		if n.GetDomain() == Domain {
			ops[n.GetOpType()] = true
		}
	}
	if !ops["SelectiveScanBidirectional"] || !ops["CausalConv1dSiLUBidirectional"] {
		t.Fatalf("exported model has plugin ops %v, want the scan and the conv", ops)
	}
	if err := CheckAttributes(modelOf(t, mp)); err != nil {
		t.Fatal(err)
	}
}

// TestOpAttributesMatchPlugin keeps OpAttributes in step with the C
// sources: the same op names as plugin.h's VC_OP_*, every attribute name
// read somewhere in the kernels, and the same (op, name, type) rows as the
// attribute check's table in common/attr_check.c.
func TestOpAttributesMatchPlugin(t *testing.T) {
	h := string(testutil.ReadFile(t, "common/plugin.h"))
	defines := map[string]string{} // VC_OP_X -> op name
	for _, m := range regexp.MustCompile(`#define (VC_OP_\w+) "(\w+)"`).FindAllStringSubmatch(h, -1) {
		defines[m[1]] = m[2]
	}
	cOps := slices.Sorted(maps.Values(defines))
	goOps := slices.Sorted(maps.Keys(OpAttributes))
	if !slices.Equal(cOps, goOps) {
		t.Errorf("plugin.h ops %v, OpAttributes %v", cOps, goOps)
	}
	kernels := string(testutil.ReadFile(t, "common/scan_op.c")) + string(testutil.ReadFile(t, "common/conv_op.c"))
	var want []string
	for op, attrs := range OpAttributes {
		for _, a := range attrs {
			if !strings.Contains(kernels, `"`+a.Name+`"`) {
				t.Errorf("%s: attribute %s is read nowhere in the kernels", op, a.Name)
			}
			want = append(want, op+" "+a.Name+" "+a.Type.String())
		}
	}
	var table []string
	row := regexp.MustCompile(`\{(VC_OP_\w+), "(\w+)", ORT_OP_ATTR_(\w+)\}`)
	for _, m := range row.FindAllStringSubmatch(string(testutil.ReadFile(t, "common/attr_check.c")), -1) {
		table = append(table, defines[m[1]]+" "+m[2]+" "+m[3])
	}
	slices.Sort(want)
	slices.Sort(table)
	if len(table) == 0 || !slices.Equal(table, want) {
		t.Errorf("attr_check.c known_attributes %q, OpAttributes %q", table, want)
	}
}
