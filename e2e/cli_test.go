package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/internal/ortenv"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/internal/testutil"
)

var (
	cliOnce sync.Once
	cliDir  string
	cliBin  string
	cliErr  error
)

// vimconvertBin builds cmd/vimconvert once into <tmp>/bin/vimconvert, with
// <tmp>/third_party and <tmp>/build linking to the checkout's, the layout of
// a checkout's bin/ that the binary resolves ORT and the plugin from.
func vimconvertBin(t *testing.T) (bin, dir string) {
	t.Helper()
	cliOnce.Do(func() {
		cliDir, cliErr = os.MkdirTemp("", "vimconvert-e2e-")
		if cliErr != nil {
			return
		}
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(goruntime.GOROOT(), "bin", "go")
		}
		cliBin = filepath.Join(cliDir, "bin", "vimconvert")
		cmd := exec.Command(gobin, "build", "-o", cliBin, "./cmd/vimconvert")
		cmd.Dir = repo.Root()
		if out, err := cmd.CombinedOutput(); err != nil {
			cliErr = errors.New("go build ./cmd/vimconvert: " + err.Error() + "\n" + string(out))
			return
		}
		for _, d := range []string{"third_party", "build"} {
			if err := os.Symlink(repo.Path(d), filepath.Join(cliDir, d)); err != nil {
				cliErr = err
				return
			}
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliBin, cliDir
}

func TestMain(m *testing.M) {
	ortenv.UseCheckout() // in-process sessions; runCLI strips the variables again
	code := m.Run()
	if cliDir != "" {
		os.RemoveAll(cliDir)
	}
	os.Exit(code)
}

// runCLI runs the binary in dir with ORT/plugin environment overrides
// removed and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, bin, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ONNXRUNTIME_SHARED_LIBRARY_PATH=") && !strings.HasPrefix(kv, "VIMCONVERT_PLUGIN=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

func copyFile(t *testing.T, src, dst string, limit int64) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = in
	if limit >= 0 {
		r = io.LimitReader(in, limit)
	}
	if _, err := io.Copy(out, r); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCLI drives the built binary the way a user does, from a directory
// outside the checkout and without environment variables: convert, verify
// (text, JSON, per-layer, wrong weight set), and the failure paths.
func TestCLI(t *testing.T) {
	requireRuntime(t)
	bin, binDir := vimconvertBin(t)
	work := t.TempDir()
	ckpt := filepath.Join(repo.Fixture("vim_t_d2"), "checkpoint.pth")
	model := filepath.Join(work, "vim_t_d2.onnx")

	stdout, stderr, code := runCLI(t, bin, work, "convert", ckpt, "-o", model)
	if code != 0 {
		t.Fatalf("convert: exit %d\n%s%s", code, stdout, stderr)
	}
	if fi, err := os.Stat(model); err != nil || fi.Size() < 1<<20 {
		t.Fatalf("convert wrote no model (%v)", err)
	}
	if names := testutil.DirNames(t, work); len(names) != 1 {
		t.Errorf("convert left %v in the output directory, want only the model", names)
	}

	stdout, stderr, code = runCLI(t, bin, work, "verify", ckpt, model)
	if code != 0 || !strings.Contains(stdout, "PASS") || !strings.Contains(stdout, "top-1       2/2 rows agree") {
		t.Errorf("verify: exit %d\n%s%s", code, stdout, stderr)
	}

	stdout, stderr, code = runCLI(t, bin, work, "verify", ckpt, model, "--json", "--batch", "1", "--seed", "7",
		"--input", filepath.Join(repo.Fixture("vim_t_d2"), "input.pth"))
	var res struct {
		Pass       bool  `json:"pass"`
		InputShape []int `json:"input_shape"`
		Outputs    []struct {
			Name   string `json:"name"`
			Report struct {
				MaxAbs    float64 `json:"max_abs"`
				Top1Agree int     `json:"top1_agree"`
			} `json:"report"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || code != 0 {
		t.Fatalf("verify --json: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	if !res.Pass || len(res.InputShape) != 4 || res.InputShape[0] != 2 || len(res.Outputs) == 0 ||
		res.Outputs[0].Name != "logits" || res.Outputs[0].Report.MaxAbs > 1e-4 || res.Outputs[0].Report.Top1Agree != 2 {
		t.Errorf("verify --json with the fixture input (batch 2 from the file, not --batch): %+v", res)
	}

	stdout, stderr, code = runCLI(t, bin, work, "verify", "--per-layer", "--batch", "1", ckpt, model)
	if code != 0 || !strings.Contains(stdout, "layers.1.hidden_states") || !strings.Contains(stdout, "every intermediate within") {
		t.Errorf("verify --per-layer: exit %d\n%s%s", code, stdout, stderr)
	}
	if names := testutil.DirNames(t, work); len(names) != 1 {
		t.Errorf("verify --per-layer left %v beside the model", names)
	}

	// The model holds the "model" weights; verifying it against model_ema
	// must fail, warn about the weight set, and locate the divergence at
	// the first tensor.
	stdout, stderr, code = runCLI(t, bin, work, "verify", "--weights", "model_ema", "--per-layer", "--batch", "1", ckpt, model)
	if code != 1 || !strings.Contains(stderr, "--weights model") || !strings.Contains(stderr, "divergence starts at patch_embed_out") {
		t.Errorf("verify with the wrong weight set: exit %d, want 1 with a weight-set warning\n%s%s", code, stdout, stderr)
	}

	// A model whose block-1 out_proj was tampered with: verify fails and
	// --per-layer locates the divergence in block 1's mixer output, even
	// though the per-layer copy is rebuilt from the (intact) checkpoint.
	tampered := filepath.Join(work, "tampered.onnx")
	tamperInitializer(t, model, tampered, "layers.1.mixer.out_proj.weight")
	stdout, stderr, code = runCLI(t, bin, work, "verify", "--per-layer", "--batch", "1", ckpt, tampered)
	if code != 1 || !strings.Contains(stderr, "divergence starts at layers.1.hidden_states") {
		t.Errorf("verify --per-layer on a tampered model: exit %d, want 1 and divergence at layers.1.hidden_states\n%s%s", code, stdout, stderr)
	}
	os.Remove(tampered)

	// predict --model on the first fixture image reproduces row 0 of the
	// official logits; asking for an output the model lacks writes nothing.
	x0 := repo.Path("cmd", "vimconvert", "testdata", "predict_vim_t_d2_x0.npy")
	pred := filepath.Join(work, "logits.npy")
	if stdout, stderr, code := runCLI(t, bin, work, "predict", "--model", model, "--input", x0, "--output", pred); code != 0 {
		t.Fatalf("predict --model: exit %d\n%s%s", code, stdout, stderr)
	}
	a, err := npy.ReadFile(pred)
	if err != nil {
		t.Fatal(err)
	}
	want := loadTensors(t, filepath.Join(repo.Fixture("vim_t_d2"), "expected.pth"))["logits"]
	if len(a.Shape) != 2 || a.Shape[0] != 1 || a.Shape[1] != want.Shape[1] {
		t.Fatalf("predict wrote shape %v, want [1 %d]", a.Shape, want.Shape[1])
	}
	expectParity(t, "predict --model vs official logits row 0", want.Data[:want.Shape[1]], a.Float32(), a.Shape, true)
	os.Remove(pred)
	if _, stderr, code := runCLI(t, bin, work, "predict", "--model", model, "--features", "--input", x0, "--output", pred); code != 1 ||
		!strings.Contains(stderr, "no output \"features\"") {
		t.Errorf("predict --features on a model without features: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(pred); err == nil {
		t.Error("a failed predict left its output file")
	}

	// A training checkpoint converted with --weights model_ema verifies
	// against the same set.
	ema := filepath.Join(work, "ema.onnx")
	if _, stderr, code := runCLI(t, bin, work, ckpt, "-o", ema, "--weights", "model_ema"); code != 0 {
		t.Fatalf("convert --weights model_ema (implicit convert command): exit %d\n%s", code, stderr)
	}
	if stdout, stderr, code := runCLI(t, bin, work, "verify", ckpt, ema, "--weights", "model_ema", "--batch", "1"); code != 0 {
		t.Errorf("verify model_ema: exit %d\n%s%s", code, stdout, stderr)
	}
	os.Remove(ema)

	t.Run("failures", func(t *testing.T) {
		bad := t.TempDir()
		corrupt := filepath.Join(bad, "corrupt.pth")
		fi, err := os.Stat(ckpt)
		if err != nil {
			t.Fatal(err)
		}
		copyFile(t, ckpt, corrupt, fi.Size()/2)
		out := filepath.Join(bad, "out.onnx")
		tests := []struct {
			name   string
			args   []string
			code   int
			stderr string
			reason string
		}{
			{"corrupt checkpoint", []string{"convert", corrupt, "-o", out}, 1, "corrupt.pth", "a truncated zip must be refused by name"},
			{"missing checkpoint", []string{"convert", filepath.Join(bad, "none.pth"), "-o", out}, 1, "none.pth", "the missing file is named"},
			{"missing output dir", []string{"convert", ckpt, "-o", filepath.Join(bad, "no", "out.onnx")}, 1, "no", "the output directory must exist"},
			{"verify missing model", []string{"verify", ckpt, filepath.Join(bad, "none.onnx")}, 1, "not found", "verify names the missing model"},
			{"verify not onnx", []string{"verify", ckpt, corrupt}, 1, "not an ONNX model", "a checkpoint passed as the model"},
			{"verify one arg", []string{"verify", ckpt}, 2, "want CKPT.pth and OUT.onnx", "usage errors exit 2"},
			{"verify bad tol", []string{"verify", ckpt, model, "--tol", "-1"}, 2, "--tol", "negative tolerance"},
			{"verify bad input shape", []string{"verify", ckpt, model, "--input", filepath.Join(repo.Fixture("vim_t_stride8_d2"), "input.pth"), "--tol", "1"}, 1, "", "stride-8 input is 224 too; a shape error or a pass, never a crash"},
		}
		for _, tc := range tests {
			stdout, stderr, code := runCLI(t, bin, binDir, tc.args...)
			if tc.name == "verify bad input shape" {
				// Same [1, 3, 224, 224] shape: it must run (and pass
				// under --tol 1): the input file is only data.
				if code != 0 {
					t.Errorf("%s: exit %d\n%s%s", tc.name, code, stdout, stderr)
				}
				continue
			}
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("%s: exit %d stderr %q, want exit %d mentioning %q (%s)", tc.name, code, stderr, tc.code, tc.stderr, tc.reason)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("%s crashed:\n%s", tc.name, stderr)
			}
		}
		if names := testutil.DirNames(t, bad); len(names) != 1 || names[0] != "corrupt.pth" {
			t.Errorf("failed commands left files: %v (want only corrupt.pth)", names)
		}
	})
}

// tamperInitializer copies the ONNX model src to dst with 0.05 added to
// every value of one initializer.
func tamperInitializer(t *testing.T, src, dst, name string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, init := range mp.GetGraph().GetInitializer() {
		if init.GetName() != name {
			continue
		}
		found = true
		raw := init.GetRawData()
		if len(raw) == 0 {
			t.Fatalf("initializer %s has no raw_data", name)
		}
		for i := 0; i+4 <= len(raw); i += 4 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(raw[i:]))
			binary.LittleEndian.PutUint32(raw[i:], math.Float32bits(v+0.05))
		}
	}
	if !found {
		t.Fatalf("%s has no initializer %s", src, name)
	}
	out, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
