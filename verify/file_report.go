package verify

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
)

// Named is one compared tensor of a FileReport.
type Named struct {
	Name   string `json:"name"`
	Report Report `json:"report"`
}

// FileReport is the result of CheckFile.
type FileReport struct {
	Checkpoint      string          `json:"checkpoint"`
	Model           string          `json:"model"`
	Weights         convert.Weights `json:"weights"`
	Input           string          `json:"input"`
	InputShape      []int           `json:"input_shape"`
	Tol             float64         `json:"tol"`
	DType           string          `json:"dtype,omitempty"` // the model's graph.MetaDType
	Precision       string          `json:"reference_precision"`
	ORTVersion      string          `json:"onnxruntime_version"`
	SessionMS       float64         `json:"session_ms"`
	RunMS           float64         `json:"onnx_run_ms"`
	ReferenceMS     float64         `json:"reference_ms"`
	Outputs         []Named         `json:"outputs"`
	Layers          []Named         `json:"layers,omitempty"`
	FirstDivergence string          `json:"first_divergence,omitempty"`
	Warnings        []string        `json:"warnings,omitempty"`
	// Plugin is whether the model uses the vimconvert plugin's ops.
	Plugin bool `json:"plugin"`
	// Provenance is what the model records about its source checkpoint
	// (nil for a model converted before it was recorded).
	Provenance *graph.Provenance `json:"provenance,omitempty"`
	// Assuming lists the guesses the model was converted with
	// (Provenance.Warnings): the reference shares them, so a pass holds
	// only under them unless Expected outputs were compared.
	Assuming []string `json:"assuming,omitempty"`
	// Expected names the expected outputs compared (FileOptions.Expected),
	// and ExpectedOutputs holds the ONNX and reference comparisons with them.
	Expected        string   `json:"expected,omitempty"`
	ExpectedOutputs []Named  `json:"expected_outputs,omitempty"`
	Notes           []string `json:"notes,omitempty"`
	Pass            bool     `json:"pass"`
	// Failures says why Pass is false, one entry per failed check.
	Failures []string `json:"-"`
}

// Verdict says, in a line, PASS or FAIL, against what and at which
// tolerance, followed by one "  - " line per guess the model was
// converted with (Assuming), which a pass holds under.
func (r *FileReport) Verdict() string {
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	against := "the Go reference"
	if r.Expected != "" {
		against += " and " + r.Expected
	}
	if len(r.Assuming) == 0 {
		return fmt.Sprintf("%s against %s (tol %g)\n", verdict, against, r.Tol)
	}
	assuming := "assuming"
	if r.Expected != "" {
		assuming = "converted assuming (which the expected outputs check too)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s against %s (tol %g), %s:\n", verdict, against, r.Tol, assuming)
	for _, a := range r.Assuming {
		fmt.Fprintf(&b, "  - %s\n", a)
	}
	return b.String()
}

// Failure returns nil for a passing report, else an error "FAIL: ..."
// listing the failures and where the divergence starts.
func (r *FileReport) Failure() error {
	if r.Pass {
		return nil
	}
	msg := strings.Join(r.Failures, "; ")
	if r.FirstDivergence != "" {
		msg += "; divergence starts at " + r.FirstDivergence
	}
	return errors.New("FAIL: " + msg)
}
