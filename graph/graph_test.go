package graph_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/benchgraph"
)

// checkerPython is the interpreter with python3-onnx (Debian); the first
// python3 on PATH may be another one.
const checkerPython = "/usr/bin/python3"

// onnxChecker runs onnx.checker.check_model(full_check=True) on the files.
// It fails the test when python3-onnx is missing: CI installs it
// (scripts/install-deps.sh), so a missing checker is a setup error.
func onnxChecker(t *testing.T, paths ...string) {
	t.Helper()
	script := `import sys, onnx
for p in sys.argv[1:]:
    onnx.checker.check_model(onnx.load(p), full_check=True)
print("ok")`
	cmd := exec.Command(checkerPython, append([]string{"-c", script}, paths...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker full_check failed: %v\n%s", err, out)
	}
}

type ioDesc struct {
	name  string
	shape string
}

func describe(vs []*onnxpb.ValueInfoProto) []ioDesc {
	var out []ioDesc
	for _, v := range vs {
		var dims []string
		for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
			if d.GetDimParam() != "" {
				dims = append(dims, d.GetDimParam())
			} else {
				dims = append(dims, fmt.Sprint(d.GetDimValue()))
			}
		}
		out = append(out, ioDesc{v.GetName(), "[" + strings.Join(dims, ",") + "]"})
	}
	return out
}

func TestBuildVariantsStructure(t *testing.T) {
	f := false
	tests := []struct {
		reason  string
		spec    graphtest.Spec
		opts    graph.Options
		outputs []ioDesc
		scanOp  string
		divide  int64
	}{
		{
			reason:  "official v2 middle cls (every released Vim)",
			spec:    graphtest.Spec{},
			outputs: []ioDesc{{"logits", "[batch,5]"}},
			scanOp:  graph.OpScanBidirectional, divide: 1,
		},
		{
			reason:  "v2 without /2 (if_divide_out=False) and extra outputs",
			spec:    graphtest.Spec{DivideOut: &f, ClsToken: convert.ClsHead},
			opts:    graph.Options{Features: true, Tokens: true},
			outputs: []ioDesc{{"tokens", "[batch,17,8]"}, {"logits", "[batch,5]"}, {"features", "[batch,8]"}},
			scanOp:  graph.OpScanBidirectional, divide: 0,
		},
		{
			reason:  "v1 shares conv/x_proj/dt_proj, no /2",
			spec:    graphtest.Spec{Bimamba: convert.BimambaV1, ClsToken: convert.ClsDouble},
			outputs: []ioDesc{{"logits", "[batch,5]"}},
			scanOp:  graph.OpScanBidirectional, divide: 0,
		},
		{
			reason:  "forward-only Mamba, mean pool, layer scale",
			spec:    graphtest.Spec{Bimamba: convert.BimambaNone, ClsToken: convert.ClsNone, Gamma: true},
			outputs: []ioDesc{{"logits", "[batch,5]"}},
			scanOp:  graph.OpScan,
		},
		{
			reason:  "LayerNorm (rms_norm=False), no pos_embed",
			spec:    graphtest.Spec{LayerNorm: true, NoPosEmbed: true},
			outputs: []ioDesc{{"logits", "[batch,5]"}},
			scanOp:  graph.OpScanBidirectional, divide: 1,
		},
		{
			reason:  "Identity head outputs features only",
			spec:    graphtest.Spec{NoHead: true},
			outputs: []ioDesc{{"features", "[batch,8]"}},
			scanOp:  graph.OpScanBidirectional, divide: 1,
		},
		{
			reason:  "per-token head with max pool",
			spec:    graphtest.Spec{ClsToken: convert.ClsNone, FinalPoolType: "max"},
			outputs: []ioDesc{{"logits", "[batch,5]"}},
			scanOp:  graph.OpScanBidirectional, divide: 1,
		},
		{
			reason:  "per-token logits with pool all",
			spec:    graphtest.Spec{ClsToken: convert.ClsNone, FinalPoolType: "all"},
			outputs: []ioDesc{{"logits", "[batch,16,5]"}},
			scanOp:  graph.OpScanBidirectional, divide: 1,
		},
		{
			reason: "per-layer outputs use the fixture key names",
			spec:   graphtest.Spec{Depth: 2, Stride: 2, ImgSize: 12},
			opts:   graph.Options{PerLayer: true},
			outputs: []ioDesc{
				{"patch_embed_out", "[batch,25,8]"}, {"embed_tokens", "[batch,26,8]"},
				{"layers.0.hidden_states", "[batch,26,8]"}, {"layers.0.residual", "[batch,26,8]"},
				{"layers.1.hidden_states", "[batch,26,8]"}, {"layers.1.residual", "[batch,26,8]"},
				{"final_hidden_normed", "[batch,26,8]"}, {"logits", "[batch,5]"},
			},
			scanOp: graph.OpScanBidirectional, divide: 1,
		},
	}
	dir := t.TempDir()
	var paths []string
	for i, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			m := graphtest.Model(tc.spec)
			mp, err := graph.Build(m, tc.opts)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			g := mp.GetGraph()
			c := m.Config
			wantIn := []ioDesc{{"pixel_values", fmt.Sprintf("[batch,3,%d,%d]", c.ImgSize, c.ImgSize)}}
			if got := describe(g.GetInput()); !slices.Equal(got, wantIn) {
				t.Errorf("inputs = %v, want %v", got, wantIn)
			}
			if got := describe(g.GetOutput()); !slices.Equal(got, tc.outputs) {
				t.Errorf("outputs = %v, want %v", got, tc.outputs)
			}

			// Initializers are exactly the state dict, names and shapes.
			want := map[string][]int64{}
			for _, ts := range graphtest.Tensors(m) {
				want[ts.Name] = toI64(ts.Shape)
			}
			got := map[string][]int64{}
			for _, in := range g.GetInitializer() {
				got[in.GetName()] = in.GetDims()
				if n := len(in.GetRawData()); n != 4*int(product(in.GetDims())) {
					t.Errorf("initializer %s: %d raw bytes for dims %v", in.GetName(), n, in.GetDims())
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d initializers, state dict has %d", len(got), len(want))
			}
			for k, v := range want {
				if !slices.Equal(got[k], v) {
					t.Errorf("initializer %s: dims %v, want %v", k, got[k], v)
				}
			}

			// One scan node per block, in the custom domain, fed without
			// Transpose/flip nodes directly around it.
			producer := map[string]*onnxpb.NodeProto{}
			consumers := map[string][]*onnxpb.NodeProto{}
			var scans []*onnxpb.NodeProto
			for _, n := range g.GetNode() {
				for _, o := range n.GetOutput() {
					producer[o] = n
				}
				for _, in := range n.GetInput() {
					consumers[in] = append(consumers[in], n)
				}
				if n.GetDomain() == graph.Domain {
					scans = append(scans, n)
				}
			}
			if len(scans) != c.Depth {
				t.Fatalf("%d custom-domain nodes, want %d", len(scans), c.Depth)
			}
			for _, n := range scans {
				if n.GetOpType() != tc.scanOp {
					t.Errorf("scan node %s is %s, want %s", n.GetName(), n.GetOpType(), tc.scanOp)
				}
				wantInputs := 15
				if tc.scanOp == graph.OpScan {
					wantInputs = 8
				}
				if len(n.GetInput()) != wantInputs {
					t.Errorf("scan node %s has %d inputs, want %d", n.GetName(), len(n.GetInput()), wantInputs)
				}
				for _, in := range n.GetInput() {
					if p := producer[in]; p != nil && (p.GetOpType() == "Transpose" || p.GetOpType() == "ReverseSequence") {
						t.Errorf("scan input %s comes from %s %s", in, p.GetOpType(), p.GetName())
					}
				}
				for _, cn := range consumers[n.GetOutput()[0]] {
					if cn.GetOpType() == "Transpose" || cn.GetOpType() == "ReverseSequence" {
						t.Errorf("scan output feeds %s %s", cn.GetOpType(), cn.GetName())
					}
				}
				if tc.scanOp == graph.OpScanBidirectional {
					var div int64 = -1
					for _, a := range n.GetAttribute() {
						if a.GetName() == "divide_out" {
							div = a.GetI()
						}
					}
					if div != tc.divide {
						t.Errorf("divide_out = %d, want %d", div, tc.divide)
					}
				}
			}

			// Opset imports and producer.
			imports := map[string]int64{}
			for _, o := range mp.GetOpsetImport() {
				imports[o.GetDomain()] = o.GetVersion()
			}
			wantOpset := int64(tc.opts.Opset)
			if wantOpset == 0 {
				wantOpset = graph.DefaultOpset
			}
			if imports[""] != wantOpset || imports[graph.Domain] != 1 || len(imports) != 2 {
				t.Errorf("opset imports %v", imports)
			}
			meta := map[string]string{}
			for _, kv := range mp.GetMetadataProps() {
				meta[kv.GetKey()] = kv.GetValue()
			}
			var back convert.Config
			if err := json.Unmarshal([]byte(meta[graph.MetaConfig]), &back); err != nil || back != c {
				t.Errorf("metadata %s = %s (err %v), want the model config", graph.MetaConfig, meta[graph.MetaConfig], err)
			}
			if meta[graph.MetaScan] != string(graph.ScanPlugin) || meta[graph.MetaDepthwiseConv] != string(graph.ConvONNX) {
				t.Errorf("metadata %v", meta)
			}
			if mp.GetProducerName() != "vimconvert" || mp.GetProducerVersion() != graph.ProducerVersion || mp.GetIrVersion() != graph.IRVersion(int(wantOpset)) {
				t.Errorf("producer %q %q ir %d", mp.GetProducerName(), mp.GetProducerVersion(), mp.GetIrVersion())
			}

			p := filepath.Join(dir, fmt.Sprintf("case%d.onnx", i))
			if err := graph.WriteFile(mp, p); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		})
	}
	t.Run("onnx checker full_check", func(t *testing.T) {
		if len(paths) != len(tests) {
			t.Fatalf("only %d of %d models were written", len(paths), len(tests))
		}
		onnxChecker(t, paths...)
	})
}

func TestBuildV1SharesForwardPieces(t *testing.T) {
	m := graphtest.Model(graphtest.Spec{Bimamba: convert.BimambaV1, Depth: 1})
	mp, err := graph.Build(m, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range mp.GetGraph().GetNode() {
		if n.GetOpType() != graph.OpScanBidirectional {
			continue
		}
		in := n.GetInput()
		// u, delta, B, C, D, delta_bias are the same values for both directions;
		// A differs (A_log vs A_b_log).
		for _, k := range []int{0, 1, 3, 4, 5, 6} {
			if in[k] != in[k+7] {
				t.Errorf("v1 input %d = %q but backward input %d = %q", k, in[k], k+7, in[k+7])
			}
		}
		if in[2] == in[9] {
			t.Errorf("v1 forward and backward A are the same value %q", in[2])
		}
		return
	}
	t.Fatal("no scan node")
}

func TestBuildRejects(t *testing.T) {
	tests := []struct {
		reason string
		mutate func(m *convert.Model)
		opts   graph.Options
		want   string
	}{
		{"opset below 17", nil, graph.Options{Opset: 16}, "opset 16"},
		{"opset above the supported range", nil, graph.Options{Opset: 30}, "opset 30"},
		{"unknown scan lowering", nil, graph.Options{Scan: "magic"}, `"magic"`},
		{"unknown conv formulation", nil, graph.Options{DepthwiseConv: "fft"}, `"fft"`},
		{"the plugin conv needs the plugin: a LinearAttention model must run in a stock ORT", nil,
			graph.Options{Scan: graph.ScanLinearAttention, DepthwiseConv: graph.ConvPlugin}, "needs the plugin"},
		{"the no-scan floor is benchmark-only (internal/benchgraph), not a lowering of Build", nil,
			graph.Options{Scan: benchgraph.NoScanFloor}, `unknown scan lowering "noscan-floor"`},
		{"wrong in_proj shape", func(m *convert.Model) { m.Layers[0].InProj.Shape = []int{3, 8} }, graph.Options{}, "layers.0.mixer.in_proj.weight"},
		{"missing backward params for v2", func(m *convert.Model) { m.Layers[1].Bwd = nil }, graph.Options{}, "layer 1"},
		{"unknown final pool", func(m *convert.Model) {
			m.Config.ClsToken, m.ClsToken = convert.ClsNone, nil
			m.PosEmbed.Shape, m.PosEmbed.Data = []int{1, m.Config.NumPatches(), 8}, m.PosEmbed.Data[:m.Config.NumPatches()*8]
			m.Config.FinalPoolType = "median"
		}, graph.Options{}, `"median"`},
		{"max pool with a cls token", func(m *convert.Model) { m.Config.FinalPoolType = "max" }, graph.Options{}, "max"},
		{"features with per-token pooling", func(m *convert.Model) {
			m.Config.ClsToken, m.ClsToken = convert.ClsNone, nil
			m.PosEmbed.Shape, m.PosEmbed.Data = []int{1, m.Config.NumPatches(), 8}, m.PosEmbed.Data[:m.Config.NumPatches()*8]
			m.Config.FinalPoolType = "all"
		}, graph.Options{Features: true}, "tokens output"},
		{"depth disagrees", func(m *convert.Model) { m.Layers = m.Layers[:1] }, graph.Options{}, "depth"},
		{"data length disagrees", func(m *convert.Model) { m.NormF.Data = m.NormF.Data[:3] }, graph.Options{}, "norm_f.weight"},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			m := graphtest.Model(graphtest.Spec{})
			if tc.mutate != nil {
				tc.mutate(m)
			}
			_, err := graph.Build(m, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build error = %v, want one mentioning %s", err, tc.want)
			}
		})
	}
	if _, err := graph.Build(nil, graph.Options{}); err == nil {
		t.Error("Build(nil) succeeded")
	}
}

func TestOpsetsAndNodeNames(t *testing.T) {
	m := graphtest.Model(graphtest.Spec{Depth: 1})
	for opset := graph.MinOpset; opset <= graph.MaxOpset; opset++ {
		mp, err := graph.Build(m, graph.Options{Opset: opset})
		if err != nil {
			t.Fatalf("opset %d: %v", opset, err)
		}
		if mp.GetIrVersion() < 8 {
			t.Errorf("opset %d: IR %d", opset, mp.GetIrVersion())
		}
	}
	mp, err := graph.Build(m, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, n := range mp.GetGraph().GetNode() {
		if names[n.GetName()] {
			t.Errorf("duplicate node name %q", n.GetName())
		}
		names[n.GetName()] = true
	}
	for _, want := range []string{"patch_embed/proj", "layers.0/mixer/in_proj", "layers.0/mixer/out_proj",
		"layers.0/mixer/selective_scan", "layers.0/mixer/backward/x_proj", "norm_f/scale", "head"} {
		if !names[want] {
			t.Errorf("no node named %q", want)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	m := graphtest.Model(graphtest.Spec{Depth: 1})
	mp, err := graph.Build(m, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "m.onnx")
	var last, total int64
	if err := graph.WriteFileProgress(mp, p, func(w, tot int64) { last, total = w, tot }); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != total || last != total {
		t.Errorf("progress ended at %d/%d, file has %d bytes", last, total, len(data))
	}
	var back onnxpb.ModelProto
	if err := proto.Unmarshal(data, &back); err != nil {
		t.Fatalf("read back: %v", err)
	}
	if !proto.Equal(&back, mp) {
		t.Error("model read back differs from the one written")
	}

	// Failures leave no file behind.
	tests := []struct {
		reason string
		path   string
	}{
		{"directory does not exist", filepath.Join(dir, "missing", "m.onnx")},
		{"path is a directory", dir},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			if err := graph.WriteFile(mp, tc.path); err == nil {
				t.Fatal("WriteFile succeeded")
			}
		})
	}
	// A read-only directory: temp file creation fails, nothing is written.
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	if err := graph.WriteFile(mp, filepath.Join(ro, "m.onnx")); err == nil && os.Geteuid() != 0 {
		t.Error("WriteFile into a read-only directory succeeded")
	}
	// An existing file is replaced completely, and no temp files remain.
	if err := os.WriteFile(p, []byte("old contents that are longer than nothing"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := graph.WriteFile(mp, p); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !slices.Equal(got, data) {
		t.Error("overwritten file differs from a fresh write")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"m.onnx", "ro"}) {
		t.Errorf("directory holds %v, want only m.onnx and ro", names)
	}
}

func toI64(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}

func product(d []int64) int64 {
	p := int64(1)
	for _, v := range d {
		p *= v
	}
	return p
}

func TestModelFromONNXRoundTrip(t *testing.T) {
	cases := []struct {
		reason string
		spec   graphtest.Spec
	}{
		{"v2, middle cls", graphtest.Spec{Seed: 1}},
		{"v1, head cls, layer scale", graphtest.Spec{Seed: 2, Bimamba: convert.BimambaV1, ClsToken: convert.ClsHead, Gamma: true}},
		{"double cls, LayerNorm, no pos_embed", graphtest.Spec{Seed: 3, ClsToken: convert.ClsDouble, LayerNorm: true, NoPosEmbed: true}},
		{"no cls, Identity head", graphtest.Spec{Seed: 4, ClsToken: convert.ClsNone, NoHead: true}},
	}
	for _, tc := range cases {
		m := graphtest.Model(tc.spec)
		mp, err := graph.Build(m, graph.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.reason, err)
		}
		p := filepath.Join(t.TempDir(), "m.onnx")
		if err := graph.WriteFile(mp, p); err != nil {
			t.Fatal(err)
		}
		got, err := graph.ReadModel(p)
		if err != nil {
			t.Fatalf("%s: %v", tc.reason, err)
		}
		if got.Config != m.Config {
			t.Errorf("%s: config %+v, want %+v", tc.reason, got.Config, m.Config)
		}
		want := graphtest.Tensors(m)
		have := map[string]*convert.Tensor{}
		for _, tt := range graphtest.Tensors(got) {
			have[tt.Name] = tt
		}
		if len(have) != len(want) {
			t.Errorf("%s: %d tensors read back, want %d", tc.reason, len(have), len(want))
		}
		for _, w := range want {
			h := have[w.Name]
			if h == nil {
				t.Errorf("%s: %s not read back", tc.reason, w.Name)
				continue
			}
			for i := range w.Data {
				if h.Data[i] != w.Data[i] {
					t.Errorf("%s: %s[%d] = %g, want %g", tc.reason, w.Name, i, h.Data[i], w.Data[i])
					break
				}
			}
		}
	}
}

func TestModelFromONNXRejects(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.onnx")
	if err := os.WriteFile(garbage, []byte("not a protobuf \xff\xff\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A valid ONNX model without vimconvert metadata.
	mp, err := benchgraph.ScanOnly(4, 8, 4, string(graph.ScanPlugin))
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.onnx")
	if err := graph.WriteFile(mp, foreign); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		reason, path, want string
	}{
		{"missing file", filepath.Join(dir, "nope.onnx"), "no such file"},
		{"not protobuf", garbage, "not an ONNX model"},
		{"not exported by vimconvert", foreign, "no vimconvert.config metadata"},
	}
	for _, tc := range cases {
		if _, err := graph.ReadModel(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.reason, err, tc.want)
		}
	}
}
