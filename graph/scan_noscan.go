package graph

import "fmt"

// ScanNoScanFloor replaces each block's scan by one cheap op of the same
// output shape: y = u_f + delta_f + u_b + delta_b + z (a single Sum). Every
// other node of the model is identical to the plugin export, and the Sum
// consumes every large input of the scan so that ONNX Runtime cannot prune
// the projections that feed it. The outputs are meaningless: this is the
// timing floor of `vimconvert bench` (what the model would cost with a free
// scan), never a model to use.
const ScanNoScanFloor = "noscan-floor"

func init() {
	scanLowerings[ScanNoScanFloor] = noScanFloor
}

// noScanFloor emits Sum(u_f, delta_f[, u_b, delta_b], z) -> [B, L, Din].
func noScanFloor(b *builder, a scanArgs) (string, error) {
	in := []string{a.Fwd.U, a.Fwd.Delta}
	if a.Bwd != nil {
		in = append(in, a.Bwd.U, a.Bwd.Delta)
	}
	in = append(in, a.Z)
	out := b.op1("Sum", a.Name, in, batchOf(a.L, a.DInner))
	if b.err != nil {
		return "", fmt.Errorf("scan %s: %w", a.Name, b.err)
	}
	return out, nil
}
