// Package triton writes an NVIDIA Triton Inference Server model repository
// for a converted model: DIR/NAME/config.pbtxt (protobuf text format of
// Triton's ModelConfig, built with the generated types of package tritonpb),
// DIR/NAME/1/model.onnx and, for a model that uses the vimconvert custom ops,
// the plugin beside config.pbtxt.
//
// Triton's ONNX Runtime backend hands each model_operations.op_library_filename
// unchanged to ORT's RegisterCustomOpsLibrary, which dlopen()s it: the path is
// not resolved against the model directory. The config therefore names the
// plugin by the path the repository has inside the server (Options.ServerRepo,
// "/models" by default: the usual `-v DIR:/models` mount of Triton's
// container).
package triton

import (
	"errors"
	"fmt"
	"math"
	"path"
	"regexp"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/graph/triton/third_party/tritonpb"
)

// Platform is the config's platform: Triton's ONNX Runtime backend.
const Platform = "onnxruntime_onnx"

// Names of the files and folders a repository holds for one model.
const (
	// ConfigFile is the model configuration, in the model directory.
	ConfigFile = "config.pbtxt"
	// VersionDir is the one model version written.
	VersionDir = "1"
	// ModelFile is the ONNX model inside VersionDir (Triton's default name
	// for platform onnxruntime_onnx).
	ModelFile = "model.onnx"
	// PluginFile is the plugin's name in the model directory.
	PluginFile = "libvimconvert_ops.so"
	// DefaultServerRepo is where the repository is mounted in the server
	// when Options.ServerRepo is "".
	DefaultServerRepo = "/models"
)

// InstanceKind says where Triton runs the model's instances.
type InstanceKind int

// Instance kinds (Triton's ModelInstanceGroup.Kind).
const (
	// InstancesCPU runs the instances on the CPU (KIND_CPU): ORT's CPU
	// execution provider and the plugin's CPU kernels.
	InstancesCPU InstanceKind = iota
	// InstancesGPU runs the instances on the GPUs (KIND_GPU): ORT's CUDA
	// execution provider, which needs a plugin built with nvcc for the scan.
	InstancesGPU
)

// instanceKinds is the one table of instance kind names (the CLI's
// --instances values) and their Triton kinds.
var instanceKinds = []struct {
	name string
	kind InstanceKind
	pb   tritonpb.ModelInstanceGroup_Kind
}{
	{"cpu", InstancesCPU, tritonpb.ModelInstanceGroup_KIND_CPU},
	{"gpu", InstancesGPU, tritonpb.ModelInstanceGroup_KIND_GPU},
}

// ParseInstanceKind reads "cpu" or "gpu".
func ParseInstanceKind(s string) (InstanceKind, error) {
	for _, k := range instanceKinds {
		if k.name == s {
			return k.kind, nil
		}
	}
	return 0, fmt.Errorf("triton: instances %q: want cpu or gpu", s)
}

// String returns the kind's name ("cpu", "gpu").
func (k InstanceKind) String() string {
	for _, e := range instanceKinds {
		if e.kind == k {
			return e.name
		}
	}
	return fmt.Sprintf("InstanceKind(%d)", int(k))
}

// Set parses "cpu" or "gpu" into k (flag.Value).
func (k *InstanceKind) Set(s string) error {
	v, err := ParseInstanceKind(s)
	if err != nil {
		return err
	}
	*k = v
	return nil
}

func (k InstanceKind) proto() (tritonpb.ModelInstanceGroup_Kind, error) {
	for _, e := range instanceKinds {
		if e.kind == k {
			return e.pb, nil
		}
	}
	return 0, fmt.Errorf("triton: unknown instance kind %d", int(k))
}

// Options describes the model entry to write. The zero value (plus a Name)
// gives max_batch_size 0, one CPU instance and ServerRepo "/models".
type Options struct {
	// Name is the model's name in the repository (its folder): letters,
	// digits, '_', '-' and '.', not starting with '.'. WriteRepository and
	// CheckTarget default it to NameFromModelPath of the model file.
	Name string
	// MaxBatch is the config's max_batch_size. 0 disables Triton's batching
	// (requests carry the batch dimension themselves); > 0 enables dynamic
	// batching up to that many images per execution.
	MaxBatch int
	// Instances says where the instances run; InstanceCount is how many
	// (0 = 1).
	Instances     InstanceKind
	InstanceCount int
	// MaxQueueDelayMicroseconds is how long the dynamic batcher may wait to
	// fill a batch (0 = Triton's default, no wait). Used when MaxBatch > 0.
	MaxQueueDelayMicroseconds uint64
	// ServerRepo is the repository's absolute path inside the server
	// ("" = DefaultServerRepo); the config names the plugin under it.
	ServerRepo string
}

// named returns o with Name defaulted to NameFromModelPath(modelPath).
func (o Options) named(modelPath string) Options {
	if o.Name == "" {
		o.Name = NameFromModelPath(modelPath)
	}
	return o
}

// NameFromModelPath is the default model name for the ONNX file at p: its
// base name without ".onnx" (onnxfile.Stem).
func NameFromModelPath(p string) string { return onnxfile.Stem(p) }

// ErrBadModel is returned (wrapped) when the ONNX model's interface cannot
// be described to Triton.
var ErrBadModel = errors.New("triton: model interface not servable")

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]*$`)

// validate checks o and returns the server repository path to use.
func (o Options) validate() (string, error) {
	if !namePattern.MatchString(o.Name) {
		return "", fmt.Errorf("triton: model name %q: use letters, digits, '_', '-' and '.', not starting with '.'", o.Name)
	}
	if o.MaxBatch < 0 {
		return "", fmt.Errorf("triton: max batch %d is negative", o.MaxBatch)
	}
	if o.MaxBatch > math.MaxInt32 {
		return "", fmt.Errorf("triton: max batch %d does not fit max_batch_size (int32, at most %d)", o.MaxBatch, math.MaxInt32)
	}
	if o.InstanceCount < 0 {
		return "", fmt.Errorf("triton: instance count %d is negative", o.InstanceCount)
	}
	if o.InstanceCount > math.MaxInt32 {
		return "", fmt.Errorf("triton: instance count %d does not fit the instance group's count (int32, at most %d)", o.InstanceCount, math.MaxInt32)
	}
	if _, err := o.Instances.proto(); err != nil {
		return "", err
	}
	server := o.ServerRepo
	if server == "" {
		server = DefaultServerRepo
	}
	if !path.IsAbs(server) {
		return "", fmt.Errorf("triton: server repository path %q must be absolute (Triton's ORT backend dlopen()s the plugin path as given)", server)
	}
	return path.Clean(server), nil
}

// CheckOpset refuses a default-domain opset that no ONNX Runtime runs yet,
// so no Triton onnxruntime backend can load the model: graph.OpsetLinearAttention
// (27; ORT 1.29 stops at 26). 0 (the default opset) and the opsets of the
// plugin exports pass.
func CheckOpset(opset int64) error {
	if opset >= graph.OpsetLinearAttention {
		return fmt.Errorf("triton: an ONNX opset %d model cannot be served: no ONNX Runtime runs opset %d yet (ORT 1.29 stops at 26), so Triton's onnxruntime backend would refuse it at load; export the entry with the default opset (--opset %d to %d)",
			opset, graph.OpsetLinearAttention, graph.MinOpset, graph.MaxOpset)
	}
	return nil
}

// UsesPlugin reports whether the model imports the vimconvert plugin's
// custom-op domain (graph.Domain), so that the server must load the plugin.
func UsesPlugin(mp *onnxpb.ModelProto) bool {
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == graph.Domain {
			return true
		}
	}
	return false
}

// PluginServerPath is the op_library_filename the config gives for a model
// named name when the repository lies at serverRepo in the server.
func PluginServerPath(serverRepo, name string) string {
	if serverRepo == "" {
		serverRepo = DefaultServerRepo
	}
	return path.Join(serverRepo, name, PluginFile)
}

// Config builds the Triton model configuration of mp (a converted model:
// inputs and outputs with a leading dim_param batch dimension, other
// dimensions concrete).
func Config(mp *onnxpb.ModelProto, o Options) (*tritonpb.ModelConfig, error) {
	server, err := o.validate()
	if err != nil {
		return nil, err
	}
	kind, _ := o.Instances.proto()
	batched := o.MaxBatch > 0
	cfg := &tritonpb.ModelConfig{
		Name:         o.Name,
		Platform:     Platform,
		MaxBatchSize: int32(o.MaxBatch),
	}
	g := mp.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("%w: the ONNX model has no graph", ErrBadModel)
	}
	for _, imp := range mp.GetOpsetImport() {
		if d := imp.GetDomain(); d == "" || d == "ai.onnx" {
			if err := CheckOpset(imp.GetVersion()); err != nil {
				return nil, err
			}
		}
	}
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		if inits[v.GetName()] {
			continue // an initializer listed as input (IR < 4 style): not fed by clients
		}
		dt, dims, err := tensorSpec(v, batched)
		if err != nil {
			return nil, err
		}
		cfg.Input = append(cfg.Input, &tritonpb.ModelInput{Name: v.GetName(), DataType: dt, Dims: dims})
	}
	for _, v := range g.GetOutput() {
		dt, dims, err := tensorSpec(v, batched)
		if err != nil {
			return nil, err
		}
		cfg.Output = append(cfg.Output, &tritonpb.ModelOutput{Name: v.GetName(), DataType: dt, Dims: dims})
	}
	if len(cfg.Input) == 0 || len(cfg.Output) == 0 {
		return nil, fmt.Errorf("%w: %d inputs and %d outputs (want at least one of each)", ErrBadModel, len(cfg.Input), len(cfg.Output))
	}
	if batched {
		cfg.SchedulingChoice = &tritonpb.ModelConfig_DynamicBatching{DynamicBatching: &tritonpb.ModelDynamicBatching{
			MaxQueueDelayMicroseconds: o.MaxQueueDelayMicroseconds,
		}}
	}
	count := o.InstanceCount
	if count == 0 {
		count = 1
	}
	cfg.InstanceGroup = []*tritonpb.ModelInstanceGroup{{Kind: kind, Count: int32(count)}}
	if UsesPlugin(mp) {
		cfg.ModelOperations = &tritonpb.ModelOperations{OpLibraryFilename: []string{PluginServerPath(server, o.Name)}}
	}
	return cfg, nil
}

// onnxToTriton maps the ONNX element types a converted model can declare
// on its inputs and outputs to Triton's data types.
var onnxToTriton = map[onnxpb.TensorProto_DataType]tritonpb.DataType{
	onnxpb.TensorProto_FLOAT:   tritonpb.DataType_TYPE_FP32,
	onnxpb.TensorProto_FLOAT16: tritonpb.DataType_TYPE_FP16,
	onnxpb.TensorProto_DOUBLE:  tritonpb.DataType_TYPE_FP64,
	onnxpb.TensorProto_INT64:   tritonpb.DataType_TYPE_INT64,
	onnxpb.TensorProto_INT32:   tritonpb.DataType_TYPE_INT32,
	onnxpb.TensorProto_UINT8:   tritonpb.DataType_TYPE_UINT8,
}

// tensorSpec returns the Triton data type and dims of one graph input or
// output. With batching the leading dimension must be the symbolic batch
// and is left out (Triton adds it); without, a symbolic dimension is -1.
func tensorSpec(v *onnxpb.ValueInfoProto, batched bool) (tritonpb.DataType, []int64, error) {
	tt := v.GetType().GetTensorType()
	if tt == nil || tt.GetShape() == nil {
		return 0, nil, fmt.Errorf("%w: %q declares no tensor type and shape", ErrBadModel, v.GetName())
	}
	et := onnxpb.TensorProto_DataType(tt.GetElemType())
	dt, ok := onnxToTriton[et]
	if !ok {
		return 0, nil, fmt.Errorf("%w: %q has element type %v, which this writer does not map", ErrBadModel, v.GetName(), et)
	}
	dims := tt.GetShape().GetDim()
	if batched {
		if len(dims) == 0 || dims[0].GetDimParam() != graph.BatchDimName {
			return 0, nil, fmt.Errorf("%w: %q has no leading %q dimension, so Triton cannot batch it (use max batch 0)",
				ErrBadModel, v.GetName(), graph.BatchDimName)
		}
		dims = dims[1:]
	}
	out := make([]int64, len(dims))
	for i, d := range dims {
		switch {
		case d.GetDimParam() != "":
			out[i] = -1 // variable size in Triton's dims
		case d.GetDimValue() > 0:
			out[i] = d.GetDimValue()
		default:
			return 0, nil, fmt.Errorf("%w: %q dimension %d is neither a size nor a name", ErrBadModel, v.GetName(), i)
		}
	}
	if batched && len(out) == 0 {
		return 0, nil, fmt.Errorf("%w: %q is only a batch dimension; Triton needs at least one more", ErrBadModel, v.GetName())
	}
	return dt, out, nil
}

// MarshalConfig writes cfg in protobuf text format, as config.pbtxt, with a
// comment line naming the generator first.
func MarshalConfig(cfg *tritonpb.ModelConfig) ([]byte, error) {
	body, err := prototext.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("triton: config of %q: %w", cfg.GetName(), err)
	}
	head := "# Triton model configuration written by vimconvert (graph/triton).\n"
	return append([]byte(head), body...), nil
}
