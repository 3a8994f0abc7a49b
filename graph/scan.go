package graph

import (
	"fmt"
	"maps"
	"slices"
)

// Custom-op domain and op names of the vimconvert plugin (ops/README.md).
const (
	// Domain is the custom-op domain of the vimconvert plugin.
	Domain = "ai.vimconvert"
	// DomainVersion is the opset version imported for Domain.
	DomainVersion = 1
	// OpScanBidirectional is the fused bidirectional selective scan.
	OpScanBidirectional = "SelectiveScanBidirectional"
	// OpScan is the forward-only selective scan (bimamba "none").
	OpScan = "SelectiveScan"
)

// ScanLowering names how each block's selective scan is lowered to ONNX
// (Options.Scan): ScanPlugin or ScanLinearAttention.
type ScanLowering string

// Scan lowerings (Options.Scan).
const (
	// ScanPlugin lowers each block's scan to one node of the vimconvert
	// plugin (ai.vimconvert::SelectiveScanBidirectional / SelectiveScan).
	ScanPlugin ScanLowering = "plugin"
)

// scanDirection holds the value names of one scan direction, all in the
// ORIGINAL token order and token-major layout (ops/README.md).
type scanDirection struct {
	U         string // [B, L, Din] conv + SiLU output
	Delta     string // [B, L, Din] dt_proj.weight · dt, no bias
	A         string // [Din, N] -exp(A_log)
	B         string // [B, L, N]
	C         string // [B, L, N]
	D         string // [Din] skip gain
	DeltaBias string // [Din] dt_proj.bias
}

// scanArgs is everything a scan lowering gets for one block.
type scanArgs struct {
	Name      string         // node-name prefix, e.g. "layers.3/mixer/scan"
	Fwd       scanDirection  // forward direction
	Bwd       *scanDirection // backward direction (time-reversed recurrence); nil for bimamba "none"
	Z         string         // [B, L, Din] gate, original order
	DivideOut bool           // (y_f + y_b)/2 instead of y_f + y_b
	L         int64          // tokens
	DInner    int64          // channels
	DState    int64          // state size N
}

// scanLowering emits the nodes computing y [B, L, Din] =
// (y_f [+ y_b]) · SiLU(z) [· 0.5] for one block and returns y's value name.
// Each lowering is one function so that alternatives (an ONNX-only
// formulation, a contrib op) can be added beside the plugin one.
type lowerFunc func(b *builder, a scanArgs) (string, error)

var scanLowerings = map[ScanLowering]lowerFunc{
	ScanPlugin: pluginScan,
}

// ScanLowerings lists the accepted values of Options.Scan, sorted.
func ScanLowerings() []ScanLowering {
	return slices.Sorted(maps.Keys(scanLowerings))
}

// pluginScan emits one ai.vimconvert node with the inputs in the exact
// order of ops/README.md. The op reverses time internally for the backward
// direction, so no Transpose or flip surrounds it.
//
// Reproduces the selective scan of SSI 91-157 (delta_softplus=True,
// D skip before the SiLU(z) gate) for both directions of MS 213-245.
func pluginScan(b *builder, a scanArgs) (string, error) {
	f := b.scanInputs(a.Fwd)
	a.Z = b.scanInput(a.Z)
	shape := []int64{Batch, a.L, a.DInner}
	if a.Bwd == nil {
		// SelectiveScan: u, delta, A, B, C, D, delta_bias, z.
		b.nodeIn(Domain, OpScan, a.Name,
			[]string{f.U, f.Delta, f.A, f.B, f.C, f.D, f.DeltaBias, a.Z},
			[]string{a.Name}, [][]int64{shape})
		return b.scanOutput(a.Name), b.err
	}
	r := b.scanInputs(*a.Bwd)
	div := int64(0)
	if a.DivideOut {
		div = 1
	}
	b.nodeIn(Domain, OpScanBidirectional, a.Name,
		[]string{f.U, f.Delta, f.A, f.B, f.C, f.D, f.DeltaBias,
			r.U, r.Delta, r.A, r.B, r.C, r.D, r.DeltaBias, a.Z},
		[]string{a.Name}, [][]int64{shape}, attrInt("divide_out", div))
	if b.err != nil {
		return "", fmt.Errorf("scan %s: %w", a.Name, b.err)
	}
	return b.scanOutput(a.Name), nil
}

// scanInputs is d with its activations (u, delta, B, C) as the scan op
// reads them (builder.scanInput); A, D and delta_bias stay float32.
func (b *builder) scanInputs(d scanDirection) scanDirection {
	d.U, d.Delta, d.B, d.C = b.scanInput(d.U), b.scanInput(d.Delta), b.scanInput(d.B), b.scanInput(d.C)
	return d
}
