package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/graph/triton/third_party/tritonpb"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// checkTritonEntry parses DIR/NAME/config.pbtxt with Triton's generated
// types and checks it against the converted model it sits beside: the
// declared interface, the model file, and the plugin where the config points
// once dir is mounted at /models.
func checkTritonEntry(t *testing.T, dir, name, onnxPath string, maxBatch int32, wantPlugin bool) {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(dir, name, "config.pbtxt"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tritonpb.ModelConfig{}
	if err := prototext.Unmarshal(text, cfg); err != nil {
		t.Fatalf("config.pbtxt is no inference.ModelConfig: %v\n%s", err, text)
	}
	converted, err := os.ReadFile(onnxPath)
	if err != nil {
		t.Fatal(err)
	}
	served, err := os.ReadFile(filepath.Join(dir, name, "1", "model.onnx"))
	if err != nil || !bytes.Equal(served, converted) {
		t.Fatalf("1/model.onnx is not the converted model (%v)", err)
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(converted, mp); err != nil {
		t.Fatal(err)
	}
	if cfg.GetName() != name || cfg.GetPlatform() != "onnxruntime_onnx" || cfg.GetMaxBatchSize() != maxBatch {
		t.Errorf("config name %q platform %q max_batch_size %d, want %q onnxruntime_onnx %d",
			cfg.GetName(), cfg.GetPlatform(), cfg.GetMaxBatchSize(), name, maxBatch)
	}
	// The graph input with the ONNX dims less the batch (-1 for it when
	// Triton does not batch).
	in := mp.GetGraph().GetInput()[0]
	var want []int64
	if maxBatch == 0 {
		want = append(want, -1)
	}
	for _, d := range in.GetType().GetTensorType().GetShape().GetDim()[1:] {
		want = append(want, d.GetDimValue())
	}
	if len(cfg.GetInput()) != 1 || cfg.GetInput()[0].GetName() != in.GetName() ||
		cfg.GetInput()[0].GetDataType() != tritonpb.DataType_TYPE_FP32 || !slices.Equal(cfg.GetInput()[0].GetDims(), want) {
		t.Errorf("config inputs %v, want %s TYPE_FP32 %v", cfg.GetInput(), in.GetName(), want)
	}
	if len(cfg.GetOutput()) != len(mp.GetGraph().GetOutput()) {
		t.Errorf("config has %d outputs, the model %d", len(cfg.GetOutput()), len(mp.GetGraph().GetOutput()))
	}
	libs := cfg.GetModelOperations().GetOpLibraryFilename()
	if !wantPlugin {
		if len(libs) != 0 {
			t.Errorf("plugin-free model lists op libraries %v", libs)
		}
		return
	}
	if len(libs) != 1 || !strings.HasPrefix(libs[0], "/models/") {
		t.Fatalf("op_library_filename %v, want one path under /models/", libs)
	}
	local := filepath.Join(dir, strings.TrimPrefix(libs[0], "/models/"))
	plugin, err := os.ReadFile(local)
	if err != nil || !bytes.HasPrefix(plugin, []byte("\x7fELF")) {
		t.Errorf("no plugin at %s, where op_library_filename %s points with the repository at /models (%v)", local, libs[0], err)
	}
}

// TestTritonRepository writes Triton entries for the bundled fixture through
// the CLI: the plugin model (with the plugin copied beside its config) and
// the linear-attention model (no plugin), then refuses to overwrite one.
func TestTritonRepository(t *testing.T) {
	requireRuntime(t)
	bin, _ := vimconvertBin(t)
	work := t.TempDir()
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	tr := filepath.Join(work, "models")
	if out, errOut, code := runCLI(t, bin, work, "convert", ckpt, "-o", "vim.onnx", "--triton-repo", tr, "--max-batch", "4"); code != 0 {
		t.Fatalf("convert --triton-repo: exit %d\n%s%s", code, out, errOut)
	}
	checkTritonEntry(t, tr, "vim", filepath.Join(work, "vim.onnx"), 4, true)

	if out, errOut, code := runCLI(t, bin, work, "convert", ckpt, "-o", "la.onnx", "--scan", "linear-attention",
		"--triton-repo", tr, "--name", "vim_la", "--max-batch", "0"); code != 0 {
		t.Fatalf("convert --scan linear-attention --triton-repo: exit %d\n%s%s", code, out, errOut)
	}
	checkTritonEntry(t, tr, "vim_la", filepath.Join(work, "la.onnx"), 0, false)

	_, errOut, code := runCLI(t, bin, work, "convert", ckpt, "-o", "again.onnx", "--triton-repo", tr, "--name", "vim")
	if code == 0 || !strings.Contains(errOut, "already exists") {
		t.Errorf("an existing entry: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(work, "again.onnx")); !os.IsNotExist(err) {
		t.Errorf("refused entry still wrote the -o model (%v)", err)
	}
}
