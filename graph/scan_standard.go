package graph

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// ScanStandard lowers each block's scan to standard ONNX operators only
// (domain ai.onnx, opset 17): one ONNX Scan node over the tokens per block
// that advances both directions' states together. The model needs neither
// the vimconvert plugin nor ONNX Runtime's contrib ops, so any ONNX runtime
// with opset 17 can run it. BENCHMARKS.md compares it with the other
// standard-op formulations that were measured.
const ScanStandard = "standard"

func init() {
	scanLowerings[ScanStandard] = standardScan
}

// standardForm selects how the per-token recurrence of the standard lowering
// is split between the Scan body and whole-sequence ops outside it.
type standardForm int

const (
	// formStepBody computes exp(dt·A), the state update and the C readout
	// inside the Scan body: no [L, Din, N] tensor is ever materialised, so
	// memory grows with L·Din only. The chosen form (BENCHMARKS.md).
	formStepBody standardForm = iota
	// formPrecomputed computes dA = exp(dt·A) and dt·u·B for every token
	// before the Scan (whole-sequence ops on [L, B, G, Din, N]); the body
	// only does h = dA·h + dBu, and the C readout is one batched MatMul on
	// every state after it. Kept for the formulation comparison.
	formPrecomputed
)

// standardScan is the ScanStandard lowering (formStepBody).
func standardScan(b *builder, a scanArgs) (string, error) {
	return b.standardScanForm(a, formStepBody)
}

// scanStack holds one block's scan inputs with the directions stacked on a
// G axis (G = 1 or 2), the backward direction already time-reversed.
type scanStack struct {
	G            int64
	U, DT        string // [B, L, G, Din]: u and dt = softplus(delta + delta_bias)
	BT, CT       string // [L, B, G, N]: B and C, token-major
	A            string // [G, Din, N]
	D            string // [G, Din]
	L, Din, N    int64
	name         string
	dirs         []scanDirection
	reverseFlags []bool
}

// standardScanForm emits y = (y_f [+ y_b]) [· 0.5] · SiLU(z) [B, L, Din] for
// one block with only ai.onnx operators.
//
// Per direction, channel d and state n (SSI 91-157, delta_softplus=True):
//
//	dt_t      = softplus(delta_t + delta_bias)
//	h_t[d,n]  = exp(dt_t[d]·A[d,n])·h_{t-1}[d,n] + dt_t[d]·u_t[d]·B_t[n]
//	y_t[d]    = Σ_n C_t[n]·h_t[d,n] + D[d]·u_t[d]
//
// The backward direction (MS 229-245; BiMambaInnerFn for v1) is the same
// recurrence on the time-reversed sequence: its inputs are flipped along the
// tokens, stacked with the forward ones on an axis G, scanned together by one
// ONNX Scan, and its output flipped back. Every decay factor exp(dt·A) is in
// (0, 1] because dt > 0 and A < 0, so nothing can overflow.
func (b *builder) standardScanForm(a scanArgs, form standardForm) (string, error) {
	s := b.stackDirections(a)
	var y string // [L, B, G, Din]: Σ_n C·h per token, token-major
	switch form {
	case formStepBody:
		y = b.standardStepBodyScan(s)
	case formPrecomputed:
		y = b.standardPrecomputedScan(s)
	default:
		return "", fmt.Errorf("scan %s: unknown standard form %d", a.Name, form)
	}
	out := b.standardScanOutput(s, a, y)
	if b.err != nil {
		return "", fmt.Errorf("scan %s: %w", a.Name, b.err)
	}
	return out, nil
}

// stackDirections flips the backward direction's token-indexed inputs and
// stacks both directions on a new axis 2 (u, dt) or 0 (A, D), computes
// dt = softplus(delta + delta_bias) (SSI 109-112; ONNX Softplus has no
// threshold, which changes nothing in float32 above 20) and lays B and C out
// token-major for the Scan.
func (b *builder) stackDirections(a scanArgs) scanStack {
	s := scanStack{G: 1, L: a.L, Din: a.DInner, N: a.DState, name: a.Name + "/standard",
		dirs: []scanDirection{a.Fwd}, reverseFlags: []bool{false}}
	if a.Bwd != nil {
		s.G = 2
		s.dirs = append(s.dirs, *a.Bwd)
		s.reverseFlags = append(s.reverseFlags, true)
	}
	L, Din, N, G := s.L, s.Din, s.N, s.G
	// stack: x_g [B, L, X] (flipped for the backward direction) -> [B, L, G, X].
	stack := func(what string, pick func(scanDirection) string, x int64) string {
		parts := make([]string, 0, G)
		for i, d := range s.dirs {
			v := pick(d)
			if s.reverseFlags[i] {
				v = b.flipTokens(s.name+"/flip_"+what, v, L) // [B, L, X], time reversed
			}
			parts = append(parts, b.op1("Unsqueeze", fmt.Sprintf("%s/%s_%d", s.name, what, i),
				[]string{v, b.constI64(false, 2)}, batchOf(L, 1, x))) // [B, L, X] -> [B, L, 1, X]
		}
		return b.concat(s.name+"/"+what, parts, 2, batchOf(L, G, x))
	}
	// params: p_g [X...] -> [G, X...].
	params := func(what string, pick func(scanDirection) string, dims ...int64) string {
		parts := make([]string, 0, G)
		for i, d := range s.dirs {
			parts = append(parts, b.op1("Unsqueeze", fmt.Sprintf("%s/%s_%d", s.name, what, i),
				[]string{pick(d), b.constI64(false, 0)}, append([]int64{1}, dims...))) // [X...] -> [1, X...]
		}
		return b.concat(s.name+"/"+what, parts, 0, append([]int64{G}, dims...))
	}
	s.U = stack("u", func(d scanDirection) string { return d.U }, Din)
	delta := stack("delta", func(d scanDirection) string { return d.Delta }, Din)
	bias := params("delta_bias", func(d scanDirection) string { return d.DeltaBias }, Din)
	s.A = params("A", func(d scanDirection) string { return d.A }, Din, N)
	s.D = params("D", func(d scanDirection) string { return d.D }, Din)
	pre := b.op1("Add", s.name+"/delta_plus_bias", []string{delta, bias}, batchOf(L, G, Din))
	s.DT = b.op1("Softplus", s.name+"/dt", []string{pre}, batchOf(L, G, Din))
	bm := stack("B", func(d scanDirection) string { return d.B }, N)
	cm := stack("C", func(d scanDirection) string { return d.C }, N)
	s.BT = b.tokenMajor(s.name+"/B_tokens", bm) // [B, L, G, N] -> [L, B, G, N]
	s.CT = b.tokenMajor(s.name+"/C_tokens", cm)
	return s
}

// concat emits Concat(parts, axis) with output shape; a single part is
// returned as is.
func (b *builder) concat(name string, parts []string, axis int64, shape []int64) string {
	if len(parts) == 1 {
		return parts[0]
	}
	return b.op1("Concat", name, parts, shape, attrInt("axis", axis))
}

// tokenMajor transposes x [B, L, rest...] (rank 4) to [L, B, rest...].
func (b *builder) tokenMajor(name, x string) string {
	s := b.shape(x)
	return b.op1("Transpose", name, []string{x}, []int64{s[1], s[0], s[2], s[3]}, attrInts("perm", 1, 0, 2, 3))
}

// zeroState emits zeros [B, G, Din, N] with the batch size read from like
// [B, ...] at run time: the initial scan state h_0 = 0 (SSI 117).
func (b *builder) zeroState(s scanStack, like string) string {
	shape := b.op1("Concat", s.name+"/h0_shape", []string{b.shapeBatch(s.name+"/batch", like), b.constI64(false, s.G, s.Din, s.N)},
		[]int64{4}, attrInt("axis", 0))
	zero := &onnxpb.TensorProto{Dims: []int64{1}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: make([]byte, 4)}
	b.addNode("", "ConstantOfShape", s.name+"/h0", []string{shape}, []string{s.name + "/h0"}, onnxpb.TensorProto_FLOAT,
		[][]int64{{Batch, s.G, s.Din, s.N}}, []*onnxpb.AttributeProto{attrTensor("value", zero)})
	return s.name + "/h0"
}

// standardScanOutput turns the token-major readout y [L, B, G, Din] into the
// block's scan output: + D·u (SSI 146-147), the backward direction flipped
// back to original order, y_f + y_b (MS 245), · 0.5 when divide_out, then
// · SiLU(z) (SSI 150-152) -> [B, L, Din].
func (b *builder) standardScanOutput(s scanStack, a scanArgs, y string) string {
	L, Din, G := s.L, s.Din, s.G
	sh := batchOf(L, G, Din)
	yb := b.op1("Transpose", s.name+"/y_batch_major", []string{y}, sh, attrInts("perm", 1, 0, 2, 3)) // [L, B, G, Din] -> [B, L, G, Din]
	skip := b.op1("Mul", s.name+"/D_u", []string{s.U, s.D}, sh)
	full := b.op1("Add", s.name+"/y_skip", []string{yb, skip}, sh)
	dirs := make([]string, G)
	for g := range G {
		// [B, L, G, Din] -> [B, L, Din]
		dirs[g] = b.op1("Gather", fmt.Sprintf("%s/y_%d", s.name, g), []string{full, b.constI64(true, g)},
			batchOf(L, Din), attrInt("axis", 2))
		if s.reverseFlags[g] {
			dirs[g] = b.flipTokens(fmt.Sprintf("%s/unflip_y_%d", s.name, g), dirs[g], L) // back to original order
		}
	}
	out := dirs[0]
	if G == 2 {
		out = b.op1("Add", s.name+"/add_directions", dirs, batchOf(L, Din)) // y_f + y_b (MS 245)
		if a.DivideOut {
			out = b.op1("Mul", s.name+"/divide_out", []string{out, b.constF32(nil, 0.5)}, batchOf(L, Din))
		}
	}
	gate := b.silu(s.name+"/silu_z", a.Z)
	return b.op1("Mul", a.Name, []string{out, gate}, batchOf(L, Din)) // out = y · SiLU(z)
}

// standardStepBodyScan emits the formStepBody Scan and returns the readout
// [L, B, G, Din]. Scan inputs (token-major, one token per iteration):
// dt [L, B, G, Din, 1], dt·u [L, B, G, Din, 1], B [L, B, G, 1, N],
// C [L, B, G, N, 1]; the body reads A [G, Din, N] from the outer graph.
// Body, per token: h = exp(dt·A)·h + (dt·u)·B [B, G, Din, N];
// y = h·C [B, G, Din, 1] (MatMul over N).
func (b *builder) standardStepBodyScan(s scanStack) string {
	L, Din, N, G := s.L, s.Din, s.N, s.G
	dtu := b.op1("Mul", s.name+"/dt_u", []string{s.DT, s.U}, batchOf(L, G, Din))
	dtT := b.op1("Unsqueeze", s.name+"/dt_tokens5", []string{b.tokenMajor(s.name+"/dt_tokens", s.DT), b.constI64(false, -1)},
		[]int64{L, Batch, G, Din, 1}) // [L, B, G, Din] -> [L, B, G, Din, 1]
	dtuT := b.op1("Unsqueeze", s.name+"/dt_u_tokens5", []string{b.tokenMajor(s.name+"/dt_u_tokens", dtu), b.constI64(false, -1)},
		[]int64{L, Batch, G, Din, 1})
	bT := b.op1("Unsqueeze", s.name+"/B_tokens5", []string{s.BT, b.constI64(false, -2)}, []int64{L, Batch, G, 1, N}) // [L, B, G, N] -> [L, B, G, 1, N]
	cT := b.op1("Unsqueeze", s.name+"/C_tokens5", []string{s.CT, b.constI64(false, -1)}, []int64{L, Batch, G, N, 1}) // [L, B, G, N] -> [L, B, G, N, 1]

	body := newBuilder(b.opset)
	state := []int64{Batch, G, Din, N}
	h := body.input("h", state)
	dt := body.input("dt", []int64{Batch, G, Din, 1})
	du := body.input("dt_u", []int64{Batch, G, Din, 1})
	bt := body.input("B", []int64{Batch, G, 1, N})
	ct := body.input("C", []int64{Batch, G, N, 1})
	body.outerValue(s.A, []int64{G, Din, N})
	dtA := body.op1("Mul", "dt_A", []string{dt, s.A}, state)
	dA := body.op1("Exp", "dA", []string{dtA}, state) // exp(dt·A) in (0, 1]
	decayed := body.op1("Mul", "dA_h", []string{dA, h}, state)
	dBu := body.op1("Mul", "dt_u_B", []string{du, bt}, state)
	hNext := body.op1("Add", "h_next", []string{decayed, dBu}, state)
	yt := body.op1("MatMul", "y", []string{hNext, ct}, []int64{Batch, G, Din, 1}) // [B, G, Din, N]·[B, G, N, 1] -> [B, G, Din, 1]
	body.bodyOutput(hNext)
	body.bodyOutput(yt)

	ys := b.scanNode(s.name+"/scan", body, []string{b.zeroState(s, s.U)}, []string{dtT, dtuT, bT, cT},
		[]int64{Batch, G, Din, N}, [][]int64{{L, Batch, G, Din, 1}})
	return b.op1("Squeeze", s.name+"/y_tokens", []string{ys[0], b.constI64(false, -1)}, []int64{L, Batch, G, Din}) // [L, B, G, Din, 1] -> [L, B, G, Din]
}

// standardPrecomputedScan emits the formPrecomputed Scan and returns the
// readout [L, B, G, Din]: dA = exp(dt·A) and dBu = dt·u·B for every token
// [L, B, G, Din, N], h_t = dA_t·h_{t-1} + dBu_t in the body (every h_t is a
// scan output), then y = h·C for all tokens with one MatMul.
func (b *builder) standardPrecomputedScan(s scanStack) string {
	L, Din, N, G := s.L, s.Din, s.N, s.G
	big := []int64{L, Batch, G, Din, N}
	dtu := b.op1("Mul", s.name+"/dt_u", []string{s.DT, s.U}, batchOf(L, G, Din))
	dtT := b.op1("Unsqueeze", s.name+"/dt_tokens5", []string{b.tokenMajor(s.name+"/dt_tokens", s.DT), b.constI64(false, -1)},
		[]int64{L, Batch, G, Din, 1}) // [L, B, G, Din] -> [L, B, G, Din, 1]
	dtuT := b.op1("Unsqueeze", s.name+"/dt_u_tokens5", []string{b.tokenMajor(s.name+"/dt_u_tokens", dtu), b.constI64(false, -1)},
		[]int64{L, Batch, G, Din, 1})
	bT := b.op1("Unsqueeze", s.name+"/B_tokens5", []string{s.BT, b.constI64(false, -2)}, []int64{L, Batch, G, 1, N}) // [L, B, G, N] -> [L, B, G, 1, N]
	cT := b.op1("Unsqueeze", s.name+"/C_tokens5", []string{s.CT, b.constI64(false, -1)}, []int64{L, Batch, G, N, 1}) // [L, B, G, N] -> [L, B, G, N, 1]
	dtA := b.op1("Mul", s.name+"/dt_A", []string{dtT, s.A}, big)
	dA := b.op1("Exp", s.name+"/dA", []string{dtA}, big)
	dBu := b.op1("Mul", s.name+"/dt_u_B", []string{dtuT, bT}, big)

	body := newBuilder(b.opset)
	state := []int64{Batch, G, Din, N}
	h := body.input("h", state)
	da := body.input("dA", state)
	dbu := body.input("dBu", state)
	decayed := body.op1("Mul", "dA_h", []string{da, h}, state)
	hNext := body.op1("Add", "h_next", []string{decayed, dbu}, state)
	hOut := body.op1("Identity", "h_t", []string{hNext}, state)
	body.bodyOutput(hNext)
	body.bodyOutput(hOut)

	hs := b.scanNode(s.name+"/scan", body, []string{b.zeroState(s, s.U)}, []string{dA, dBu},
		[]int64{Batch, G, Din, N}, [][]int64{big})
	y := b.op1("MatMul", s.name+"/h_C", []string{hs[0], cT}, []int64{L, Batch, G, Din, 1})                     // [L, B, G, Din, N]·[L, B, G, N, 1] -> [L, B, G, Din, 1]
	return b.op1("Squeeze", s.name+"/y_tokens", []string{y, b.constI64(false, -1)}, []int64{L, Batch, G, Din}) // [L, B, G, Din, 1] -> [L, B, G, Din]
}

// outerValue declares, in a subgraph builder, a value of the enclosing graph
// that the subgraph reads (an implicit input: no graph input, no
// value_info).
func (b *builder) outerValue(name string, shape []int64) {
	b.define(name, onnxpb.TensorProto_FLOAT, shape)
	b.isIO[name] = true
}

// bodyOutput declares value as an output of a subgraph builder under its own
// name (no Identity node: a Scan body's outputs are matched by position).
func (b *builder) bodyOutput(value string) {
	v, ok := b.values[value]
	if !ok {
		b.fail("graph builder: body output: unknown value %q", value)
		return
	}
	b.isIO[value] = true
	b.outputs = append(b.outputs, valueInfo(value, v.elem, v.shape))
}

// scanNode emits an ONNX Scan over axis 0 of every scan input with the
// finished body, initial states (their final values are discarded) and
// returns the scan outputs, stacked on axis 0 with the given shapes.
func (b *builder) scanNode(name string, body *builder, states, scanInputs []string, stateShape []int64, outShapes [][]int64) []string {
	g, err := body.finish(name+"/body", "")
	if err != nil {
		b.fail("%s body: %w", name, err)
		return make([]string, len(outShapes))
	}
	g.DocString = nil
	outs := make([]string, 0, len(states)+len(outShapes))
	shapes := make([][]int64, 0, len(states)+len(outShapes))
	for i := range states {
		outs = append(outs, fmt.Sprintf("%s/final_state_%d", name, i))
		shapes = append(shapes, stateShape)
	}
	for i, sh := range outShapes {
		outs = append(outs, fmt.Sprintf("%s/out_%d", name, i))
		shapes = append(shapes, sh)
	}
	b.node("Scan", name, append(append([]string(nil), states...), scanInputs...), outs, shapes,
		&onnxpb.AttributeProto{Name: proto.String("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g},
		attrInt("num_scan_inputs", int64(len(scanInputs))))
	return outs[len(states):]
}
