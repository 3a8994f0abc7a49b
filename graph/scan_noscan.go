package graph

import (
	"fmt"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/benchgraph"
)

// buildNoScanFloor implements benchgraph.Builders.NoScanFloor: m's plugin
// model with every scan replaced by noScanFloor. Its outputs are
// meaningless: it is the timing floor of the benchmark (what the model
// would cost with a free scan), never a model to use.
func buildNoScanFloor(m *convert.Model) (*onnxpb.ModelProto, error) {
	return buildWith(m, Options{Scan: benchgraph.NoScanFloor}, noScanFloor)
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
