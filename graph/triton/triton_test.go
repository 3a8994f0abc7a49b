package triton

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/graph/triton/third_party/tritonpb"
	"github.com/vimconvert/vimconvert/internal/cleanup"
)

// dim is a concrete size, or the batch dim_param when size is 0.
func valueInfo(name string, elem onnxpb.TensorProto_DataType, dims ...int64) *onnxpb.ValueInfoProto {
	var ds []*onnxpb.TensorShapeProto_Dimension
	for _, d := range dims {
		if d == 0 {
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: graph.BatchDimName}})
		} else {
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(elem)),
			Shape:    &onnxpb.TensorShapeProto{Dim: ds},
		}}},
	}
}

// vimModel is the interface of a converted Vim (pixel_values [batch,3,224,224]
// -> logits [batch,1000]); plugin adds the plugin's opset import.
func vimModel(plugin bool) *onnxpb.ModelProto {
	mp := &onnxpb.ModelProto{
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
		Graph: &onnxpb.GraphProto{
			Input:  []*onnxpb.ValueInfoProto{valueInfo(graph.InputName, onnxpb.TensorProto_FLOAT, 0, 3, 224, 224)},
			Output: []*onnxpb.ValueInfoProto{valueInfo(graph.LogitsName, onnxpb.TensorProto_FLOAT, 0, 1000)},
		},
	}
	if plugin {
		mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(graph.Domain), Version: proto.Int64(graph.DomainVersion)})
	}
	return mp
}

// parseConfig reads config.pbtxt text with Triton's generated types, as the
// server's text-format parser would: unknown fields are errors.
func parseConfig(t *testing.T, text []byte) *tritonpb.ModelConfig {
	t.Helper()
	cfg := &tritonpb.ModelConfig{}
	if err := (prototext.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(text, cfg); err != nil {
		t.Fatalf("config.pbtxt does not parse as inference.ModelConfig: %v\n%s", err, text)
	}
	return cfg
}

func TestConfigParsesAgainstTritonProto(t *testing.T) {
	cfg, err := Config(vimModel(true), Options{Name: "vim_t", MaxBatch: 8, Instances: InstancesCPU, InstanceCount: 2, MaxQueueDelayMicroseconds: 500})
	if err != nil {
		t.Fatal(err)
	}
	text, err := MarshalConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := parseConfig(t, text)
	want := &tritonpb.ModelConfig{
		Name:         "vim_t",
		Platform:     "onnxruntime_onnx",
		MaxBatchSize: 8,
		Input:        []*tritonpb.ModelInput{{Name: "pixel_values", DataType: tritonpb.DataType_TYPE_FP32, Dims: []int64{3, 224, 224}}},
		Output:       []*tritonpb.ModelOutput{{Name: "logits", DataType: tritonpb.DataType_TYPE_FP32, Dims: []int64{1000}}},
		SchedulingChoice: &tritonpb.ModelConfig_DynamicBatching{DynamicBatching: &tritonpb.ModelDynamicBatching{
			MaxQueueDelayMicroseconds: 500,
		}},
		InstanceGroup:   []*tritonpb.ModelInstanceGroup{{Kind: tritonpb.ModelInstanceGroup_KIND_CPU, Count: 2}},
		ModelOperations: &tritonpb.ModelOperations{OpLibraryFilename: []string{"/models/vim_t/libvimconvert_ops.so"}},
	}
	if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
		t.Errorf("parsed config (-want +got):\n%s\ntext:\n%s", d, text)
	}
	// The field names Triton's documentation uses must appear literally.
	for _, s := range []string{`platform: "onnxruntime_onnx"`, "max_batch_size: 8", "dynamic_batching", "KIND_CPU", "op_library_filename", "TYPE_FP32"} {
		if !strings.Contains(strings.Join(strings.Fields(string(text)), " "), s) {
			t.Errorf("config.pbtxt lacks %q:\n%s", s, text)
		}
	}
}

func TestConfigVariants(t *testing.T) {
	tests := []struct {
		reason    string
		model     *onnxpb.ModelProto
		opts      Options
		inDims    []int64
		batching  bool
		kind      tritonpb.ModelInstanceGroup_Kind
		pluginLib string // "" = no model_operations
	}{
		{"no batching: the symbolic batch dim stays as -1", vimModel(true), Options{Name: "a"}, []int64{-1, 3, 224, 224}, false, tritonpb.ModelInstanceGroup_KIND_CPU, "/models/a/libvimconvert_ops.so"},
		{"a linear-attention model needs no plugin", vimModel(false), Options{Name: "la", MaxBatch: 4}, []int64{3, 224, 224}, true, tritonpb.ModelInstanceGroup_KIND_CPU, ""},
		{"gpu instances and another mount point", vimModel(true), Options{Name: "g", MaxBatch: 1, Instances: InstancesGPU, ServerRepo: "/srv/repo/"}, []int64{3, 224, 224}, true, tritonpb.ModelInstanceGroup_KIND_GPU, "/srv/repo/g/libvimconvert_ops.so"},
	}
	for _, tc := range tests {
		cfg, err := Config(tc.model, tc.opts)
		if err != nil {
			t.Errorf("%s: %v", tc.reason, err)
			continue
		}
		if d := cmp.Diff(tc.inDims, cfg.GetInput()[0].GetDims()); d != "" {
			t.Errorf("%s: input dims (-want +got):\n%s", tc.reason, d)
		}
		if got := cfg.GetDynamicBatching() != nil; got != tc.batching {
			t.Errorf("%s: dynamic batching %v, want %v", tc.reason, got, tc.batching)
		}
		if got := cfg.GetInstanceGroup()[0]; got.GetKind() != tc.kind || got.GetCount() != 1 {
			t.Errorf("%s: instance group %v, want 1 × %v", tc.reason, got, tc.kind)
		}
		var lib string
		if libs := cfg.GetModelOperations().GetOpLibraryFilename(); len(libs) > 0 {
			lib = libs[0]
		}
		if lib != tc.pluginLib {
			t.Errorf("%s: op_library_filename %q, want %q", tc.reason, lib, tc.pluginLib)
		}
	}
}

func TestConfigRefuses(t *testing.T) {
	noBatch := vimModel(true)
	noBatch.Graph.Input[0] = valueInfo(graph.InputName, onnxpb.TensorProto_FLOAT, 1, 3, 224, 224)
	int8Out := vimModel(true)
	int8Out.Graph.Output[0] = valueInfo(graph.LogitsName, onnxpb.TensorProto_INT8, 0, 1000)
	noShape := vimModel(true)
	noShape.Graph.Output[0].Type = nil
	opset27 := vimModel(false)
	opset27.OpsetImport[0].Version = proto.Int64(graph.OpsetLinearAttention)
	tests := []struct {
		reason string
		model  *onnxpb.ModelProto
		opts   Options
		want   string
	}{
		{"a name Triton cannot use as a folder", vimModel(true), Options{Name: "../x"}, "model name"},
		{"an empty name", vimModel(true), Options{}, "model name"},
		{"negative max batch", vimModel(true), Options{Name: "a", MaxBatch: -1}, "negative"},
		{"max batch beyond int32 (was written wrapped: 3e9 as -1294967296)", vimModel(true), Options{Name: "a", MaxBatch: 3_000_000_000}, "does not fit max_batch_size"},
		{"instance count beyond int32", vimModel(true), Options{Name: "a", InstanceCount: 1 << 32}, "does not fit the instance group"},
		{"relative server path: dlopen would resolve it against the server's cwd", vimModel(true), Options{Name: "a", ServerRepo: "models"}, "absolute"},
		{"unknown instance kind", vimModel(true), Options{Name: "a", Instances: InstanceKind(7)}, "instance kind"},
		{"batching a model with a fixed batch", noBatch, Options{Name: "a", MaxBatch: 2}, "no leading"},
		{"an element type without mapping", int8Out, Options{Name: "a"}, "element type"},
		{"an output without shape", noShape, Options{Name: "a"}, "no tensor type"},
		{"no graph", &onnxpb.ModelProto{}, Options{Name: "a"}, "no graph"},
		{"an opset 27 model, which no ONNX Runtime runs yet", opset27, Options{Name: "a"}, "no ONNX Runtime runs opset 27 yet"},
	}
	for _, tc := range tests {
		_, err := Config(tc.model, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.reason, err, tc.want)
		}
	}
}

func TestParseInstanceKind(t *testing.T) {
	for _, s := range []string{"cpu", "gpu"} {
		k, err := ParseInstanceKind(s)
		if err != nil || k.String() != s {
			t.Errorf("ParseInstanceKind(%q) = %v, %v", s, k, err)
		}
	}
	if _, err := ParseInstanceKind("tpu"); err == nil {
		t.Error("ParseInstanceKind(tpu) accepted")
	}
}

func writeModel(t *testing.T, mp *onnxpb.ModelProto) string {
	t.Helper()
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return tempFile(t, "m.onnx", data, 0o644)
}

// tempFile writes data to a file name in a fresh temp dir and returns its
// path.
func tempFile(t *testing.T, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWriteRepository(t *testing.T) {
	model := writeModel(t, vimModel(true))
	plugin := tempFile(t, "libvimconvert_ops.so", []byte("not really a plugin"), 0o755)
	repo := filepath.Join(t.TempDir(), "repo")
	r, err := WriteRepository(repo, model, plugin, Options{Name: "vim", MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(repo, "vim", "config.pbtxt"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, text)
	// The plugin lies where op_library_filename points once repo is mounted at /models.
	lib := cfg.GetModelOperations().GetOpLibraryFilename()[0]
	local := filepath.Join(repo, strings.TrimPrefix(lib, "/models/"))
	if got, err := os.ReadFile(local); err != nil || string(got) != "not really a plugin" {
		t.Errorf("plugin at %s (from op_library_filename %s): %q, %v", local, lib, got, err)
	}
	if local != r.PluginPath {
		t.Errorf("PluginPath %s, config points at %s", r.PluginPath, local)
	}
	want, _ := os.ReadFile(model)
	if got, err := os.ReadFile(filepath.Join(repo, "vim", "1", "model.onnx")); err != nil || string(got) != string(want) {
		t.Errorf("1/model.onnx differs from the converted model (%v)", err)
	}
	sum := r.Summary("")
	for _, want := range []string{r.ConfigPath, `"/models/vim/libvimconvert_ops.so"`, "-v " + repo + ":/models"} {
		if !strings.Contains(sum, want) {
			t.Errorf("Summary lacks %q:\n%s", want, sum)
		}
	}
	entries, _ := os.ReadDir(repo)
	if len(entries) != 1 {
		t.Errorf("repository holds %d entries, want only vim/ (no temporary folder left)", len(entries))
	}
	// A second write must not touch the first entry.
	if _, err := WriteRepository(repo, model, plugin, Options{Name: "vim"}); !errors.Is(err, ErrExists) {
		t.Errorf("rewriting an entry: err = %v, want ErrExists", err)
	}
}

func TestWriteRepositoryLeavesNothingOnError(t *testing.T) {
	plugin := tempFile(t, "libvimconvert_ops.so", []byte("x"), 0o755)
	notModel := tempFile(t, "x.onnx", []byte("\xff\xff\xff not protobuf"), 0o644)
	tests := []struct {
		reason string
		model  string
		plugin string
		want   string
	}{
		{"the model needs the plugin, none given", writeModel(t, vimModel(true)), "", "is not a file"},
		{"the plugin is missing", writeModel(t, vimModel(true)), filepath.Join(t.TempDir(), "none.so"), "is not a file"},
		{"not an ONNX file", notModel, plugin, "not an ONNX model"},
		{"no model file", filepath.Join(t.TempDir(), "none.onnx"), plugin, "ONNX model not found"},
	}
	for _, tc := range tests {
		repo := filepath.Join(t.TempDir(), "repo")
		_, err := WriteRepository(repo, tc.model, tc.plugin, Options{Name: "vim"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.reason, err, tc.want)
		}
		if entries, _ := os.ReadDir(repo); len(entries) != 0 {
			t.Errorf("%s: repository holds %d entries after the error", tc.reason, len(entries))
		}
	}
	// A model without custom ops needs no plugin at all.
	repo := filepath.Join(t.TempDir(), "repo")
	r, err := WriteRepository(repo, writeModel(t, vimModel(false)), "", Options{Name: "la"})
	if err != nil || r.PluginPath != "" {
		t.Errorf("plugin-free model: %v, plugin %q", err, r.PluginPath)
	}
	if _, err := os.Stat(filepath.Join(repo, "la", PluginFile)); !os.IsNotExist(err) {
		t.Errorf("plugin-free model: plugin copied anyway (%v)", err)
	}
}

func TestCheckTarget(t *testing.T) {
	repo := t.TempDir()
	os.Mkdir(filepath.Join(repo, "taken"), 0o755)
	file := tempFile(t, "file", nil, 0o644)
	plugin := tempFile(t, "libvimconvert_ops.so", []byte("x"), 0o755)
	tests := []struct {
		reason string
		dir    string
		opts   Options
		plugin string
		want   string // "" = accepted
		opset  int
	}{
		{"a new entry in an existing repository", repo, Options{Name: "vim"}, "", "", 0},
		{"a plugin model with its plugin", repo, Options{Name: "vim"}, plugin, "", 0},
		{"a plugin model without the plugin", repo, Options{Name: "vim"}, filepath.Join(repo, "none.so"), "is not a file", 0},
		{"a repository that does not exist yet", filepath.Join(repo, "new"), Options{Name: "vim"}, "", "", 0},
		{"an existing entry", repo, Options{Name: "taken"}, "", "already exists", 0},
		{"a repository that is a file", file, Options{Name: "vim"}, "", "not a directory", 0},
		{"bad options are refused before converting", repo, Options{Name: "vim", MaxBatch: -2}, "", "negative", 0},
		{"no repository", "", Options{Name: "vim"}, "", "no repository", 0},
		{"an opset 27 export no ONNX Runtime runs (it used to be written, for Triton to refuse at load)", repo, Options{Name: "vim"}, "", "no ONNX Runtime runs opset 27 yet", 27},
		{"an explicit opset the plugin exports use", repo, Options{Name: "vim"}, "", "", 23},
	}
	for _, tc := range tests {
		err := CheckTarget(tc.dir, "m.onnx", tc.opts, tc.opset, tc.plugin != "", tc.plugin)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: err = %v, want %q", tc.reason, err, tc.want)
		}
	}
}

// TestCheckTargetReadOnly: a read-only repository, or a missing one under
// a read-only folder, is refused before anything is converted (the -o
// model used to be written, then the entry failed on its staging folder).
// Root writes anywhere, so this runs as another user only (go test -exec
// 'setpriv --reuid=65534 --regid=65534 --clear-groups').
func TestCheckTargetReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write into a read-only directory; run as another user")
	}
	ro := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(ro, 0o755) })
	for _, dir := range []string{ro, filepath.Join(ro, "new", "repo")} {
		if err := CheckTarget(dir, "m.onnx", Options{Name: "vim"}, 0, false, ""); err == nil || !strings.Contains(err.Error(), ro+" is not writable") {
			t.Errorf("repository %s: %v, want it refused naming %s", dir, err, ro)
		}
	}
}

// TestWriteRepositoryStagingIsCleanedUp checks that the entry is staged in
// an internal/cleanup temporary folder: a staging folder stranded by a
// SIGKILLed writer (named after its dead process) is removed by the next
// write into the repository, one of a live process is kept, and the
// staging folder of this write is neither left in the repository nor in
// the interrupt registry.
func TestWriteRepositoryStagingIsCleanedUp(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	dead := cmd.Process.Pid
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(dead))); err == nil {
		t.Skipf("pid %d was reused at once", dead)
	}
	repo := t.TempDir()
	stale := fmt.Sprintf(".vimconvert-triton-%d-123", dead)
	live := fmt.Sprintf(".vimconvert-triton-%d-456", os.Getpid())
	for _, d := range []string{stale, live} {
		if err := os.MkdirAll(filepath.Join(repo, d, VersionDir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := WriteRepository(repo, writeModel(t, vimModel(false)), "", Options{Name: "la"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	entries, _ := os.ReadDir(repo)
	for _, e := range entries {
		got[e.Name()] = true
	}
	if want := map[string]bool{"la": true, live: true}; !maps.Equal(got, want) {
		t.Errorf("repository holds %v, want %v (the dead writer's staging folder removed, nothing of this write but its entry)", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	if p := cleanup.Pending(); len(p) != 0 {
		t.Errorf("temporaries still registered after the write: %v", p)
	}
}

// TestWriteRepositoryStagingIsRegistered holds WriteRepository inside its
// staging (the plugin to copy is a named pipe nobody writes to yet) and
// requires the staging folder to be registered with internal/cleanup, so
// that an interrupt that ends the process there removes it.
func TestWriteRepositoryStagingIsRegistered(t *testing.T) {
	plugin := filepath.Join(t.TempDir(), PluginFile)
	if err := syscall.Mkfifo(plugin, 0o644); err != nil {
		t.Skipf("no named pipe: %v", err)
	}
	repo, model := t.TempDir(), writeModel(t, vimModel(true))
	done := make(chan error, 1)
	go func() {
		_, err := WriteRepository(repo, model, plugin, Options{Name: "vim"})
		done <- err
	}()
	staged := ""
	for deadline := time.Now().Add(10 * time.Second); staged == "" && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		for _, p := range cleanup.Pending() {
			if filepath.Dir(p) == repo && strings.HasPrefix(filepath.Base(p), ".vimconvert-triton-") {
				staged = p
			}
		}
	}
	if staged == "" {
		t.Errorf("no staging folder of %s registered with internal/cleanup while the entry is assembled", repo)
	} else if fi, err := os.Stat(staged); err != nil || !fi.IsDir() {
		t.Errorf("registered staging folder %s: %v", staged, err)
	}
	// Let the copy finish (opening the pipe waits for the writer's reader).
	if err := os.WriteFile(plugin, []byte("plugin"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(repo, "vim", PluginFile)); err != nil || string(got) != "plugin" {
		t.Errorf("plugin copied as %q, %v", got, err)
	}
	if p := cleanup.Pending(); len(p) != 0 {
		t.Errorf("temporaries still registered after the write: %v", p)
	}
}
