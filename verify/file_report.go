package verify

import (
	"errors"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
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
	Precision       string          `json:"reference_precision"`
	ORTVersion      string          `json:"onnxruntime_version"`
	SessionMS       float64         `json:"session_ms"`
	RunMS           float64         `json:"onnx_run_ms"`
	ReferenceMS     float64         `json:"reference_ms"`
	Outputs         []Named         `json:"outputs"`
	Layers          []Named         `json:"layers,omitempty"`
	FirstDivergence string          `json:"first_divergence,omitempty"`
	Warnings        []string        `json:"warnings,omitempty"`
	Notes           []string        `json:"notes,omitempty"`
	Pass            bool            `json:"pass"`
	// Failures says why Pass is false, one entry per failed check.
	Failures []string `json:"-"`
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
