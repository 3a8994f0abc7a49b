package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/internal/modeltest"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
)

// TestBenchReportsLoadedRuntime runs `bench --json` with
// ONNXRUNTIME_SHARED_LIBRARY_PATH naming another ONNX Runtime release than
// the bindings' own (runtime.ORTVersion) and checks that machine.onnxruntime
// is the version of the library loaded.
func TestBenchReportsLoadedRuntime(t *testing.T) {
	requireRuntime(t)
	var lib, want string
	// The bindings need C API 29: of the tested runtimes, 1.24.3 does not load.
	for _, v := range []string{"1.31.1", "1.30.0"} {
		p := repo.Path("third_party", "onnxruntime", v, "libonnxruntime.so.1")
		if _, err := os.Stat(p); err == nil && v != runtime.ORTVersion {
			lib, want = p, v
			break
		}
	}
	if lib == "" {
		t.Skip("no ONNX Runtime 1.31.1 or 1.30.0 under third_party/onnxruntime (run `make setup`)")
	}
	bin, dir := vimconvertBin(t)
	model := modeltest.File(t, graphtest.Model(graphtest.Spec{Seed: 3}), graph.Options{})
	cmd := exec.Command(bin, "bench", model, "--json", "--variants", "plugin", "--runs", "1", "--warmup", "0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), runtime.EnvLibrary+"="+lib) // the last value of a key wins
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench with %s: %v\n%s", lib, err, out)
	}
	var rep struct {
		Machine struct {
			ORT string `json:"onnxruntime"`
		} `json:"machine"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("bench output is not JSON: %v\n%s", err, out)
	}
	if rep.Machine.ORT != want {
		t.Errorf("machine.onnxruntime = %q with %s loaded, want %q", rep.Machine.ORT, lib, want)
	}
}
