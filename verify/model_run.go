package verify

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/cleanup"
	"github.com/vimconvert/vimconvert/runtime"
)

// ModelRun is one run of an ONNX model by RunModel.
type ModelRun struct {
	// Outputs holds every output of the model by name.
	Outputs map[string]*runtime.Tensor
	// OutputNames lists the model's outputs in its own order.
	OutputNames []string
	// Session is how long creating the ONNX Runtime session took, Run how
	// long the run itself took.
	Session, Run time.Duration
}

// RunModel runs the ONNX model at path once in an ONNX Runtime session
// made with ro, on in fed as graph.InputName, and returns every output
// with the session-creation and run times; the session is destroyed
// before it returns. A model without that input is an error naming its
// inputs, a failed run one naming the model and the input's shape. Both
// CheckFile and verify/mambaout's run models with it.
func RunModel(path string, in *runtime.Tensor, ro runtime.Options) (*ModelRun, error) {
	start := time.Now()
	sess, err := runtime.NewSession(path, ro)
	if err != nil {
		return nil, err
	}
	defer sess.Destroy()
	created := time.Since(start)
	if names := sess.InputNames(); !slices.Contains(names, graph.InputName) {
		return nil, fmt.Errorf("%s has no input %q (inputs: %v)", path, graph.InputName, names)
	}
	start = time.Now()
	out, err := sess.Run(map[string]*runtime.Tensor{graph.InputName: in})
	if err != nil {
		return nil, fmt.Errorf("%s on input %v: %w", path, in.Shape, err)
	}
	return &ModelRun{Outputs: out, OutputNames: sess.OutputNames(), Session: created, Run: time.Since(start)}, nil
}

// RunCopy writes mp as the file name into a fresh temporary directory
// ($TMPDIR/vimconvert-verify-PID-RAND, registered with internal/cleanup
// for an interrupt), runs it on in with RunModel and removes the directory
// before it returns: how CheckFile and verify/mambaout run a copy of a
// model rebuilt with per-layer outputs.
func RunCopy(mp *onnxpb.ModelProto, name string, in *runtime.Tensor, ro runtime.Options) (*ModelRun, error) {
	dir, err := cleanup.MkdirTemp("", "verify")
	if err != nil {
		return nil, fmt.Errorf("temp dir for the model copy: %w", err)
	}
	defer cleanup.Remove(dir)
	path := filepath.Join(dir, name)
	if err := graph.WriteFile(mp, path); err != nil {
		return nil, fmt.Errorf("write the model copy: %w", err)
	}
	return RunModel(path, in, ro)
}

// AddOutput compares output name of got (an ONNX Runtime run) with the
// reference want (CompareOutput), adds the comparison to r.Outputs and
// records a failure in r.Failures when the shapes differ or max |Δ|
// exceeds r.Tol. With top1 (logits) a top-1 class that differs in a row
// whose expected lead exceeds r.Tol fails too; without it the comparison
// carries no top-1 (an argmax over features or tokens is no class). It
// returns false, adding nothing, when either side is absent.
func (r *FileReport) AddOutput(got map[string]*runtime.Tensor, name string, want *Tensor, top1 bool) bool {
	rep, ok := CompareOutput(got, name, want)
	if !ok {
		return false
	}
	if !top1 {
		rep = rep.WithoutTop1()
	}
	r.Outputs = append(r.Outputs, Named{name, rep})
	fail := func(f string, a ...any) { r.Failures = append(r.Failures, fmt.Sprintf(f, a...)) }
	switch {
	case rep.Mismatch != "":
		fail("%s: %s", name, rep.Mismatch)
		return true
	case !rep.Pass(r.Tol):
		fail("%s max |Δ| %.3g > tol %g", name, rep.MaxAbs, r.Tol)
	}
	if top1 && !rep.Top1Within(r.Tol) {
		fail("top-1 differs in %d of %d rows (expected margin up to %.3g > tol %g)", rep.Top1Rows-rep.Top1Agree, rep.Top1Rows, rep.Top1DiffMargin, r.Tol)
	}
	return true
}
