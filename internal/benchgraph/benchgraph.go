// Package benchgraph gives the benchmark harness (package runtime/bench)
// and the tests the ONNX models that exist only to be timed: one
// bidirectional scan alone, one com.microsoft.LinearAttention call, and the
// no-scan floor (a whole model whose scans are replaced by a cheap Sum).
// Their outputs are meaningless or partial, so they are kept out of package
// graph's API; package graph implements them (they need its node builder)
// and registers them here when it is initialised. It must not be used to
// build a model meant to be run for its outputs.
package benchgraph

import (
	"errors"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// NoScanFloor is the scan-lowering name recorded (metadata vimconvert.scan)
// in a no-scan floor model.
const NoScanFloor = "noscan-floor"

// ScanInputNames are the graph input names of ScanOnly, in the input order
// of ai.vimconvert::SelectiveScanBidirectional (ops/README.md).
var ScanInputNames = []string{
	"u_f", "delta_f", "A_f", "B_f", "C_f", "D_f", "delta_bias_f",
	"u_b", "delta_b", "A_b", "B_b", "C_b", "D_b", "delta_bias_b", "z",
}

// LinearAttentionInputNames are the graph inputs of LinearAttentionCall.
var LinearAttentionInputNames = []string{"query", "key", "value", "decay"}

// OutputName is the output of ScanOnly and LinearAttentionCall.
const OutputName = "y"

// ScanInputShape returns the shape of ScanInputNames[i] for batch, L tokens,
// din channels and n states: [batch, L, din] for u/delta/z, [batch, L, n] for
// B/C, [din, n] for A and [din] for D/delta_bias.
func ScanInputShape(name string, batch, L, din, n int64) []int64 {
	switch name {
	case "A_f", "A_b":
		return []int64{din, n}
	case "D_f", "D_b", "delta_bias_f", "delta_bias_b":
		return []int64{din}
	case "B_f", "C_f", "B_b", "C_b":
		return []int64{batch, L, n}
	}
	return []int64{batch, L, din}
}

// Builders are the implementations package graph registers.
type Builders struct {
	// ScanOnly builds one bimamba-v2 scan (divide_out) on L tokens, din
	// channels and n states with the named graph.ScanLowering: inputs
	// ScanInputNames (batch symbolic), output OutputName [batch, L, din].
	ScanOnly func(L, din, n int, lowering string) (*onnxpb.ModelProto, error)
	// LinearAttentionCall builds one com.microsoft.LinearAttention node with
	// the Vim mapping: query, key [batch, L, n], value [batch, L, din],
	// decay [batch, L, din·n] -> OutputName [batch, L, din].
	LinearAttentionCall func(L, din, n int) (*onnxpb.ModelProto, error)
	// NoScanFloor builds m's plugin model with each block's scan replaced by
	// y = Sum(u_f, delta_f[, u_b, delta_b], z): every other node is the
	// plugin export's, and the Sum consumes every large scan input so that
	// ONNX Runtime cannot prune the projections feeding it.
	NoScanFloor func(m *convert.Model) (*onnxpb.ModelProto, error)
}

var registered Builders

// Register is called by package graph's initialisation.
func Register(b Builders) { registered = b }

var errNotRegistered = errors.New("benchgraph: package graph is not linked in (import it)")

// ScanOnly builds the scan-alone model (see Builders.ScanOnly).
func ScanOnly(L, din, n int, lowering string) (*onnxpb.ModelProto, error) {
	if registered.ScanOnly == nil {
		return nil, errNotRegistered
	}
	return registered.ScanOnly(L, din, n, lowering)
}

// LinearAttentionCall builds the one-call model (see
// Builders.LinearAttentionCall).
func LinearAttentionCall(L, din, n int) (*onnxpb.ModelProto, error) {
	if registered.LinearAttentionCall == nil {
		return nil, errNotRegistered
	}
	return registered.LinearAttentionCall(L, din, n)
}

// NoScanFloorModel builds m's no-scan floor (see Builders.NoScanFloor).
func NoScanFloorModel(m *convert.Model) (*onnxpb.ModelProto, error) {
	if registered.NoScanFloor == nil {
		return nil, errNotRegistered
	}
	return registered.NoScanFloor(m)
}
