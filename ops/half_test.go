package ops

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/x448/float16"
	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// halfTypes are the 16-bit activation types of the scan ops, with a
// float32 -> 16 bit -> float32 rounding (nearest even) for each.
var halfTypes = []struct {
	name  string
	elem  onnxpb.TensorProto_DataType
	round func(float32) float32
}{
	{"float16", onnxpb.TensorProto_FLOAT16, func(v float32) float32 { return float16.Fromfloat32(v).Float32() }},
	{"bfloat16", onnxpb.TensorProto_BFLOAT16, roundBFloat16},
}

// roundBFloat16 rounds v to bfloat16, nearest even (finite inputs).
func roundBFloat16(v float32) float32 {
	x := math.Float32bits(v)
	x += 0x7fff + (x>>16)&1
	return math.Float32frombits(x &^ 0xffff)
}

// halfScanModel writes a model with float32 inputs named like the op's
// inputs that casts the activations (u, delta, B, C, z) to elem, runs the
// scan op on them (A, D, delta_bias stay float32) and casts y back to
// float32.
func halfScanModel(t *testing.T, op string, inputs []string, elem onnxpb.TensorProto_DataType) string {
	t.Helper()
	g := &onnxpb.GraphProto{Name: proto.String("half_scan")}
	io := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT))}}}}
	}
	cast := func(in, out string, to onnxpb.TensorProto_DataType) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{Name: proto.String(out), OpType: proto.String("Cast"), Input: []string{in}, Output: []string{out},
			Attribute: []*onnxpb.AttributeProto{{Name: proto.String("to"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(to))}}}
	}
	var scanIn []string
	for _, name := range inputs {
		g.Input = append(g.Input, io(name))
		if strings.HasPrefix(name, "A") || strings.HasPrefix(name, "D") || strings.HasPrefix(name, "delta_bias") {
			scanIn = append(scanIn, name) // float32 islands
			continue
		}
		g.Node = append(g.Node, cast(name, name+"_16", elem))
		scanIn = append(scanIn, name+"_16")
	}
	g.Node = append(g.Node, &onnxpb.NodeProto{Name: proto.String("scan"), OpType: proto.String(op), Domain: proto.String("ai.vimconvert"),
		Input: scanIn, Output: []string{"y16"}})
	g.Node = append(g.Node, cast("y16", "y", onnxpb.TensorProto_FLOAT))
	g.Output = []*onnxpb.ValueInfoProto{io("y")}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g, OpsetImport: []*onnxpb.OperatorSetIdProto{
		{Domain: proto.String(""), Version: proto.Int64(17)}, {Domain: proto.String("ai.vimconvert"), Version: proto.Int64(1)}}}
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "half_scan.onnx")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestScan16Bit runs both scan ops with float16 and bfloat16 activations
// on the official scan fixtures. The 16-bit kernels widen their inputs,
// run the float32 scan and round y once, so their output must equal,
// bit for bit, the float32 op run on the same 16-bit-rounded inputs with
// its y rounded the same way.
func TestScan16Bit(t *testing.T) {
	needORT(t)
	ops := []struct {
		op, ref string
		inputs  []string
		bi      bool
	}{
		{"SelectiveScan", "scan_unidirectional.onnx", uniInputs, false},
		{"SelectiveScanBidirectional", "scan_bidirectional.onnx", biInputs, true},
	}
	for _, path := range scanFixtures(t) {
		f, _ := loadScanFixture(t, path)
		b := backwardOf(f)
		for _, o := range ops {
			for _, ht := range halfTypes {
				t.Run(strings.TrimSuffix(filepath.Base(path), ".pth")+"/"+o.op+"/"+ht.name, func(t *testing.T) {
					in := f.inputs()
					if o.bi {
						in = []array{f.u, f.delta, f.A, f.B, f.C, f.D, f.bias, b.u, b.delta, b.A, b.B, b.C, b.D, b.bias, f.z}
					}
					// Activations rounded to 16 bits, as the Casts of the model do.
					rounded := make([]array, len(in))
					for i, a := range in {
						rounded[i] = a
						name := o.inputs[i]
						if !(strings.HasPrefix(name, "A") || strings.HasPrefix(name, "D") || strings.HasPrefix(name, "delta_bias")) {
							rounded[i] = mapArray(a, ht.round)
						}
					}
					want, err := run(t, mustSession(t, o.ref, o.inputs, 0), rounded)
					if err != nil {
						t.Fatalf("float32 op: %v", err)
					}
					want = mapArray(want, ht.round)
					s, err := openAbs(t, halfScanModel(t, o.op, o.inputs, ht.elem), o.inputs)
					if err != nil {
						t.Fatalf("16-bit session: %v", err)
					}
					defer s.Destroy()
					got, err := run(t, s, in)
					if err != nil {
						t.Fatalf("16-bit op: %v", err)
					}
					if len(got.data) != len(want.data) {
						t.Fatalf("%d outputs, want %d", len(got.data), len(want.data))
					}
					for i := range want.data {
						if got.data[i] != want.data[i] {
							t.Fatalf("y[%d] = %g, want %g (the float32 op on rounded inputs, rounded)", i, got.data[i], want.data[i])
						}
					}
				})
			}
		}
	}
}

// TestScan16BitRefusesMixedTypes feeds a float16 activation and a bfloat16
// one to one node: no kernel matches, and ORT must refuse the model with
// an error rather than run it.
func TestScan16BitRefusesMixedTypes(t *testing.T) {
	needORT(t)
	p := halfScanModel(t, "SelectiveScan", uniInputs, onnxpb.TensorProto_FLOAT16)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	// Make z's cast produce bfloat16 instead of float16.
	for _, n := range m.GetGraph().GetNode() {
		if n.GetOpType() == "Cast" && n.GetInput()[0] == "z" {
			n.Attribute[0].I = proto.Int64(int64(onnxpb.TensorProto_BFLOAT16))
		}
	}
	out, _ := proto.Marshal(&m)
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := openAbs(t, p, uniInputs)
	if err == nil {
		s.Destroy()
		t.Fatal("a SelectiveScan node with float16 u and bfloat16 z was accepted")
	}
	t.Logf("refused as expected: %v", err)
}

// openAbs opens the model at path (output y) with the plugin registered.
func openAbs(t *testing.T, path string, inputs []string) (*ort.DynamicAdvancedSession, error) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	td, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(td, abs)
	if err != nil {
		t.Fatal(err)
	}
	return sessionOutputs(t, rel, inputs, []string{"y"}, 0)
}

// TestHalfConversions runs the C test of the plugin's float32 <-> float16 /
// bfloat16 conversions (ops/test/half_test.c: round trips of every
// encoding, every tie, random float32 patterns), built by `make -C ops`.
func TestHalfConversions(t *testing.T) {
	bin := repo.Path("build", "vimconvert_half_test")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s not built: run `make -C ops` (%v)", bin, err)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("half conversion test failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "half_test: all cases pass") {
		t.Fatalf("unexpected output:\n%s", out)
	}
}
