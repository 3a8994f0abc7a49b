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
const ScanStandard ScanLowering = "standard"

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
	// formSegmented cuts the tokens into segments scanned side by side
	// (fewer, larger Scan iterations) and carries the state across them
	// (standardSegmentedScan).
	formSegmented
	// formUnrolled is formStepBody with U tokens per Scan iteration
	// (standardUnrolledScan).
	formUnrolled
)

// standardScan is the ScanStandard lowering (formStepBody).
func standardScan(b *builder, a scanArgs) (string, error) {
	return b.standardScanForm(a, formStepBody, 0)
}

// scanStack holds one block's scan inputs with the directions stacked on a
// G axis (G = 1 or 2), the backward direction already time-reversed.
type scanStack struct {
	G            int64
	U, DT        string // [B, L, G, Din]: u and dt = softplus(delta + delta_bias)
	BT, CT       string // [L, B, G, N]: B and C, token-major
	A            string // [G, N, Din]: -exp(A_log) transposed
	D            string // [G, Din]
	L, Din, N    int64
	name         string
	dirs         []scanDirection
	reverseFlags []bool
}

// standardScanForm emits y = (y_f [+ y_b]) [· 0.5] · SiLU(z) [B, L, Din] for
// one block with only ai.onnx operators, in the given form; k is the number
// of segments (formSegmented) or of tokens per Scan iteration
// (formUnrolled), unused otherwise.
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
func (b *builder) standardScanForm(a scanArgs, form standardForm, k int64) (string, error) {
	if (form == formSegmented || form == formUnrolled) && k < 1 {
		return "", fmt.Errorf("scan %s: standard form %d needs k >= 1, got %d", a.Name, form, k)
	}
	s := b.stackDirections(a)
	var y string // [L, B, G, Din]: Σ_n C·h per token, token-major
	switch form {
	case formStepBody:
		y = b.standardStepBodyScan(s)
	case formPrecomputed:
		y = b.standardPrecomputedScan(s)
	case formSegmented:
		y = b.standardSegmentedScan(s, k)
	case formUnrolled:
		y = b.standardUnrolledScan(s, k)
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
	a3 := params("A", func(d scanDirection) string { return d.A }, Din, N)
	s.A = b.op1("Transpose", s.name+"/A_state_major", []string{a3}, []int64{G, N, Din}, attrInts("perm", 0, 2, 1)) // [G, Din, N] -> [G, N, Din]
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

// zeroState emits zeros [lead..., B, G, N, Din] with the batch size read
// from like [B, ...] at run time: the initial scan state h_0 = 0 (SSI 117).
func (b *builder) zeroState(s scanStack, like string, lead []int64) string {
	name := fmt.Sprintf("%s/h0_%d", s.name, len(lead))
	parts := []string{b.shapeBatch(name+"/batch", like), b.constI64(false, s.G, s.N, s.Din)}
	if len(lead) > 0 {
		parts = append([]string{b.constI64(false, lead...)}, parts...)
	}
	rank := int64(len(lead) + 4)
	shape := b.op1("Concat", name+"/shape", parts, []int64{rank}, attrInt("axis", 0))
	zero := &onnxpb.TensorProto{Dims: []int64{1}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: make([]byte, 4)}
	out := append(append([]int64(nil), lead...), Batch, s.G, s.N, s.Din)
	b.addNode("", "ConstantOfShape", name, []string{shape}, []string{name}, onnxpb.TensorProto_FLOAT,
		[][]int64{out}, []*onnxpb.AttributeProto{attrTensor("value", zero)})
	return name
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

// tokenInputs returns the Scan inputs of every token, token-major:
// dt and dt·u [L, B, G, 1, Din], B [L, B, G, N, 1], C [L, B, G, 1, N].
// The states are laid out [.., N, Din] so that every broadcast in the
// recurrence repeats a contiguous run of Din values (measured faster than
// [.., Din, N], whose broadcasts run over N = 16 values).
func (b *builder) tokenInputs(s scanStack) (dt, dtu, bm, cm string) {
	L, Din, N, G := s.L, s.Din, s.N, s.G
	prod := b.op1("Mul", s.name+"/dt_u", []string{s.DT, s.U}, batchOf(L, G, Din))
	dt = b.op1("Unsqueeze", s.name+"/dt_tokens5", []string{b.tokenMajor(s.name+"/dt_tokens", s.DT), b.constI64(false, -2)},
		[]int64{L, Batch, G, 1, Din}) // [L, B, G, Din] -> [L, B, G, 1, Din]
	dtu = b.op1("Unsqueeze", s.name+"/dt_u_tokens5", []string{b.tokenMajor(s.name+"/dt_u_tokens", prod), b.constI64(false, -2)},
		[]int64{L, Batch, G, 1, Din})
	bm = b.op1("Unsqueeze", s.name+"/B_tokens5", []string{s.BT, b.constI64(false, -1)}, []int64{L, Batch, G, N, 1}) // [L, B, G, N] -> [L, B, G, N, 1]
	cm = b.op1("Unsqueeze", s.name+"/C_tokens5", []string{s.CT, b.constI64(false, -2)}, []int64{L, Batch, G, 1, N}) // [L, B, G, N] -> [L, B, G, 1, N]
	return dt, dtu, bm, cm
}

// standardStepBodyScan emits the formStepBody Scan over the tokenInputs and
// returns the readout [L, B, G, Din]; the body is stepBody.
func (b *builder) standardStepBodyScan(s scanStack) string {
	L, Din, N, G := s.L, s.Din, s.N, s.G
	dt, dtu, bm, cm := b.tokenInputs(s)
	body := stepBody(b.opset, []int64{Batch, G}, s, true)
	ys := b.scanNode(s.name+"/scan", body, []string{b.zeroState(s, s.U, nil)}, []string{dt, dtu, bm, cm},
		[][]int64{{Batch, G, N, Din}}, [][]int64{{L, Batch, G, 1, Din}})
	return b.op1("Squeeze", s.name+"/y_tokens", []string{ys[1], b.constI64(false, -2)}, []int64{L, Batch, G, Din}) // [L, B, G, 1, Din] -> [L, B, G, Din]
}

// stepBody returns the Scan body advancing the states h [lead..., N, Din]
// (lead ends with G) by one token: inputs h, dt and dt·u [lead..., 1, Din],
// B [lead..., N, 1] and, with readout, C [lead..., 1, N]; A [G, N, Din] is
// read from the outer graph.
//
//	h' = exp(dt·A)·h + (dt·u)·B          (state output)
//	y  = C·h'  [lead..., 1, Din]          (scan output, with readout)
func stepBody(opset int, lead []int64, s scanStack, readout bool) *builder {
	dims := func(d ...int64) []int64 { return append(append([]int64(nil), lead...), d...) }
	body := newBuilder(opset)
	state := dims(s.N, s.Din)
	h := body.input("h", state)
	dt := body.input("dt", dims(1, s.Din))
	du := body.input("dt_u", dims(1, s.Din))
	bt := body.input("B", dims(s.N, 1))
	body.outerValue(s.A, []int64{s.G, s.N, s.Din})
	dtA := body.op1("Mul", "dt_A", []string{dt, s.A}, state)
	dA := body.op1("Exp", "dA", []string{dtA}, state) // exp(dt·A) in (0, 1]
	decayed := body.op1("Mul", "dA_h", []string{dA, h}, state)
	dBu := body.op1("Mul", "dt_u_B", []string{du, bt}, state)
	hNext := body.op1("Add", "h_next", []string{decayed, dBu}, state)
	body.bodyOutput(hNext)
	if readout {
		ct := body.input("C", dims(1, s.N))
		yt := body.op1("MatMul", "y", []string{ct, hNext}, dims(1, s.Din)) // [..., 1, N]·[..., N, Din] -> [..., 1, Din]
		body.bodyOutput(yt)
	}
	return body
}

// standardPrecomputedScan emits the formPrecomputed Scan and returns the
// readout [L, B, G, Din]: dA = exp(dt·A) and dBu = dt·u·B for every token
// [L, B, G, N, Din], h_t = dA_t·h_{t-1} + dBu_t in the body (every h_t is a
// scan output), then y = C·h for all tokens with one MatMul.
func (b *builder) standardPrecomputedScan(s scanStack) string {
	L, Din, N, G := s.L, s.Din, s.N, s.G
	big := []int64{L, Batch, G, N, Din}
	dt, dtu, bm, cm := b.tokenInputs(s)
	dtA := b.op1("Mul", s.name+"/dt_A", []string{dt, s.A}, big)
	dA := b.op1("Exp", s.name+"/dA", []string{dtA}, big)
	dBu := b.op1("Mul", s.name+"/dt_u_B", []string{dtu, bm}, big)

	body := newBuilder(b.opset)
	state := []int64{Batch, G, N, Din}
	h := body.input("h", state)
	da := body.input("dA", state)
	dbu := body.input("dBu", state)
	decayed := body.op1("Mul", "dA_h", []string{da, h}, state)
	hNext := body.op1("Add", "h_next", []string{decayed, dbu}, state)
	hOut := body.op1("Identity", "h_t", []string{hNext}, state)
	body.bodyOutput(hNext)
	body.bodyOutput(hOut)

	hs := b.scanNode(s.name+"/scan", body, []string{b.zeroState(s, s.U, nil)}, []string{dA, dBu},
		[][]int64{state}, [][]int64{big})
	y := b.op1("MatMul", s.name+"/C_h", []string{cm, hs[1]}, []int64{L, Batch, G, 1, Din})                     // [L, B, G, 1, N]·[L, B, G, N, Din] -> [L, B, G, 1, Din]
	return b.op1("Squeeze", s.name+"/y_tokens", []string{y, b.constI64(false, -2)}, []int64{L, Batch, G, Din}) // [L, B, G, 1, Din] -> [L, B, G, Din]
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
// finished body and initial states (shapes stateShapes) and returns the
// final states followed by the scan outputs (stacked on axis 0, shapes
// outShapes).
func (b *builder) scanNode(name string, body *builder, states, scanInputs []string, stateShapes, outShapes [][]int64) []string {
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
		shapes = append(shapes, stateShapes[i])
	}
	for i, sh := range outShapes {
		outs = append(outs, fmt.Sprintf("%s/out_%d", name, i))
		shapes = append(shapes, sh)
	}
	b.node("Scan", name, append(append([]string(nil), states...), scanInputs...), outs, shapes,
		&onnxpb.AttributeProto{Name: proto.String("body"), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g},
		attrInt("num_scan_inputs", int64(len(scanInputs))))
	return outs
}

// standardSegmentedScan emits the formSegmented scan and returns the
// readout [L, B, G, Din]. The tokens are cut into K segments of M =
// ceil(L/K) tokens (the last padded with dt = 0, which leaves a state
// unchanged: exp(0·A) = 1 and dt·u = 0), scanned side by side so that each
// Scan iteration works on K tokens at once:
//
//  1. a Scan over M steps from zero states gives each segment's final local
//     state e_k (no readout);
//  2. a Scan over the K segments carries the true state across them:
//     h_start(k) = P_{k-1}·h_start(k-1) + e_{k-1}, with P_k = exp(A·Σ_{t∈k} dt_t)
//     the segment's total decay, in (0, 1] like every factor;
//  3. a second Scan over M steps, now from each segment's true start state,
//     with the readout y = h·C.
func (b *builder) standardSegmentedScan(s scanStack, K int64) string {
	L, Din, N, G := s.L, s.Din, s.N, s.G
	M := (L + K - 1) / K
	prod := b.op1("Mul", s.name+"/dt_u", []string{s.DT, s.U}, batchOf(L, G, Din))
	seg := func(what, x string, unsq int64) string {
		v := b.segmentTokens(s.name+"/"+what+"_segments", x, K, M)
		sh := b.shape(v)
		out := append([]int64(nil), sh...)
		if unsq == -1 {
			out = append(out, 1)
		} else {
			out = append(out[:len(out)-1], 1, sh[len(sh)-1])
		}
		return b.op1("Unsqueeze", s.name+"/"+what+"_segments6", []string{v, b.constI64(false, unsq)}, out)
	}
	dt6 := seg("dt", b.tokenMajor(s.name+"/dt_tokens", s.DT), -2)      // [M, K, B, G, 1, Din]
	dtu6 := seg("dt_u", b.tokenMajor(s.name+"/dt_u_tokens", prod), -2) // [M, K, B, G, 1, Din]
	b6 := seg("B", s.BT, -1)                                           // [M, K, B, G, N, 1]
	c6 := seg("C", s.CT, -2)                                           // [M, K, B, G, 1, N]
	stateK := []int64{K, Batch, G, N, Din}

	// 1. local end states e_k [K, B, G, N, Din].
	local := b.scanNode(s.name+"/local_scan", stepBody(b.opset, []int64{K, Batch, G}, s, false),
		[]string{b.zeroState(s, s.U, []int64{K})}, []string{dt6, dtu6, b6}, [][]int64{stateK}, nil)
	// P_k = exp(A · Σ_t dt_t): [M, K, B, G, 1, Din] -> [K, B, G, 1, Din] -> [K, B, G, N, Din].
	sum := b.op1("ReduceSum", s.name+"/segment_dt", []string{dt6, b.constI64(false, 0)}, []int64{K, Batch, G, 1, Din},
		attrInt("keepdims", 0))
	logP := b.op1("Mul", s.name+"/segment_dt_A", []string{sum, s.A}, stateK)
	decay := b.op1("Exp", s.name+"/segment_decay", []string{logP}, stateK)

	// 2. start states [K, B, G, N, Din] by a Scan over the K segments.
	carry := newBuilder(b.opset)
	st := []int64{Batch, G, N, Din}
	h := carry.input("h", st)
	p := carry.input("P", st)
	e := carry.input("e", st)
	start := carry.op1("Identity", "h_start", []string{h}, st)
	next := carry.op1("Add", "h_next", []string{carry.op1("Mul", "P_h", []string{p, h}, st), e}, st)
	carry.bodyOutput(next)
	carry.bodyOutput(start)
	starts := b.scanNode(s.name+"/carry_scan", carry, []string{b.zeroState(s, s.U, nil)}, []string{decay, local[0]},
		[][]int64{st}, [][]int64{stateK})

	// 3. the full scan from the true start states.
	ys := b.scanNode(s.name+"/scan", stepBody(b.opset, []int64{K, Batch, G}, s, true),
		[]string{starts[1]}, []string{dt6, dtu6, b6, c6}, [][]int64{stateK}, [][]int64{{M, K, Batch, G, 1, Din}})
	y := b.op1("Squeeze", s.name+"/y_segments", []string{ys[1], b.constI64(false, -2)}, []int64{M, K, Batch, G, Din}) // [M, K, B, G, 1, Din] -> [M, K, B, G, Din]
	y = b.op1("Transpose", s.name+"/y_segment_major", []string{y}, []int64{K, M, Batch, G, Din}, attrInts("perm", 1, 0, 2, 3, 4))
	y = b.op1("Reshape", s.name+"/y_padded", []string{y, b.constI64(false, K*M, -1, G, Din)}, []int64{K * M, Batch, G, Din}) // [K, M, B, G, Din] -> [K·M, B, G, Din]
	if K*M == L {
		return y
	}
	return b.op1("Slice", s.name+"/y_tokens", []string{y, b.constI64(false, 0), b.constI64(false, L), b.constI64(false, 0)},
		[]int64{L, Batch, G, Din}) // [K·M, B, G, Din] -> [L, B, G, Din]
}

// segmentTokens lays x [L, B, G, X] out as K segments of M tokens, token
// index within the segment first: zero-pad to K·M tokens, then
// [K·M, B, G, X] -> [K, M, B, G, X] -> [M, K, B, G, X].
func (b *builder) segmentTokens(name, x string, K, M int64) string {
	sh := b.shape(x)
	L, G, X := sh[0], sh[2], sh[3]
	if K*M > L {
		x = b.op1("Pad", name+"/pad", []string{x, b.constI64(false, 0, 0, 0, 0, K*M-L, 0, 0, 0)}, []int64{K * M, Batch, G, X})
	}
	x = b.op1("Reshape", name+"/split", []string{x, b.constI64(false, K, M, -1, G, X)}, []int64{K, M, Batch, G, X}) // [K·M, B, G, X] -> [K, M, B, G, X]
	return b.op1("Transpose", name, []string{x}, []int64{M, K, Batch, G, X}, attrInts("perm", 1, 0, 2, 3, 4))       // -> [M, K, B, G, X]
}

// standardUnrolledScan emits a Scan over ceil(L/U) iterations whose body
// advances the states by U consecutive tokens (the formStepBody update
// unrolled U times), and returns the readout [L, B, G, Din]. The tokens are
// zero-padded to a multiple of U (dt = 0 leaves a state unchanged).
func (b *builder) standardUnrolledScan(s scanStack, U int64) string {
	L, Din, N, G := s.L, s.Din, s.N, s.G
	I := (L + U - 1) / U
	dt, dtu, bm, cm := b.tokenInputs(s)
	group := func(what, x string) string { // [L, B, G, a, c] -> [I, U, B, G, a, c]
		sh := b.shape(x)
		if I*U > L {
			x = b.op1("Pad", s.name+"/"+what+"_pad", []string{x, b.constI64(false, 0, 0, 0, 0, 0, I*U-L, 0, 0, 0, 0)},
				[]int64{I * U, Batch, G, sh[3], sh[4]})
		}
		return b.op1("Reshape", s.name+"/"+what+"_groups", []string{x, b.constI64(false, I, U, -1, G, sh[3], sh[4])},
			[]int64{I, U, Batch, G, sh[3], sh[4]})
	}
	dtG, dtuG, bG, cG := group("dt", dt), group("dt_u", dtu), group("B", bm), group("C", cm)

	body := newBuilder(b.opset)
	one := func(d ...int64) []int64 { return append([]int64{1, Batch, G}, d...) }
	state := one(N, Din)
	h := body.input("h", state)
	split := func(name string, d ...int64) []string {
		in := body.input(name, append([]int64{U, Batch, G}, d...))
		if U == 1 {
			return []string{in}
		}
		outs := make([]string, U)
		shapes := make([][]int64, U)
		for i := range outs {
			outs[i], shapes[i] = fmt.Sprintf("%s_%d", name, i), one(d...)
		}
		body.node("Split", name+"/split", []string{in}, outs, shapes, attrInt("axis", 0)) // [U, ...] -> U × [1, ...]
		return outs
	}
	dts, dtus, bs, cs := split("dt", 1, Din), split("dt_u", 1, Din), split("B", N, 1), split("C", 1, N)
	body.outerValue(s.A, []int64{G, N, Din})
	ys := make([]string, U)
	for i := range U {
		p := fmt.Sprintf("t%d/", i)
		dA := body.op1("Exp", p+"dA", []string{body.op1("Mul", p+"dt_A", []string{dts[i], s.A}, state)}, state)
		dBu := body.op1("Mul", p+"dt_u_B", []string{dtus[i], bs[i]}, state)
		h = body.op1("Add", p+"h_next", []string{body.op1("Mul", p+"dA_h", []string{dA, h}, state), dBu}, state)
		ys[i] = body.op1("MatMul", p+"y", []string{cs[i], h}, one(1, Din)) // [1, B, G, 1, N]·[1, B, G, N, Din] -> [1, B, G, 1, Din]
	}
	body.bodyOutput(h)
	y := ys[0]
	if U > 1 {
		y = body.op1("Concat", "y", ys, []int64{U, Batch, G, 1, Din}, attrInt("axis", 0))
	}
	body.bodyOutput(y)
	outs := b.scanNode(s.name+"/scan", body, []string{b.zeroState(s, s.U, []int64{1})}, []string{dtG, dtuG, bG, cG},
		[][]int64{state}, [][]int64{{I, U, Batch, G, 1, Din}})
	yt := b.op1("Reshape", s.name+"/y_padded", []string{outs[1], b.constI64(false, I*U, -1, G, Din)}, []int64{I * U, Batch, G, Din}) // [I, U, B, G, 1, Din] -> [I·U, B, G, Din]
	if I*U == L {
		return yt
	}
	return b.op1("Slice", s.name+"/y_tokens", []string{yt, b.constI64(false, 0), b.constI64(false, L), b.constI64(false, 0)},
		[]int64{L, Batch, G, Din}) // [I·U, B, G, Din] -> [L, B, G, Din]
}
