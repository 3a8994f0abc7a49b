package graph

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// ScanLinearAttention lowers each block's scan to ONNX Runtime's contrib op
// com.microsoft.LinearAttention (ORT >= 1.25, CPU float32), one call per
// direction, with the softplus, D skip, SiLU(z) gate and the time reversal of
// the backward direction as standard ONNX ops. The model runs in a stock ONNX
// Runtime without the vimconvert plugin. It is an alternative export (and the
// baseline of `vimconvert bench`), not the default: the contrib op is not an
// ONNX standard op and runs only in ONNX Runtime >= 1.25 (the onnx 1.12
// checker has no schema for it and accepts the node unchecked).
const ScanLinearAttention ScanLowering = "linear-attention"

// Contrib-op domain and name of ONNX Runtime's gated linear recurrence.
const (
	// MicrosoftDomain is ONNX Runtime's contrib-op domain.
	MicrosoftDomain = "com.microsoft"
	// MicrosoftDomainVersion is the opset version imported for MicrosoftDomain.
	MicrosoftDomainVersion = 1
	// OpLinearAttention is com.microsoft.LinearAttention.
	OpLinearAttention = "LinearAttention"
)

func init() {
	scanLowerings[ScanLinearAttention] = linearAttentionScan
}

// linearAttentionScan emits y = (y_f [+ y_b]) [· 0.5] · SiLU(z) with one
// LinearAttention node per direction.
//
// The selective scan (SSI 91-157) of one direction, per channel d and state n,
//
//	h[d,n]_t = exp(dt[d]_t·A[d,n])·h[d,n]_{t-1} + B[n]_t·(dt[d]_t·u[d]_t)
//	y[d]_t   = Σ_n C[n]_t·h[d,n]_t + D[d]·u[d]_t
//
// is LinearAttention's "gated" rule S_t = exp(g_t)·S_{t-1} + k_t ⊗ v_t,
// o_t = scale·q_tᵀ S_t with one state per channel (kv_num_heads = d_inner,
// d_k = N, d_v = 1) and the query/key shared by every channel (q_num_heads =
// 1): query = C [B, L, N], key = B [B, L, N], value = dt·u [B, L, Din],
// decay = dt·A [B, L, Din·N] (log-space: the op applies exp), scale = 1.
// dt = softplus(delta + delta_bias) (SSI 109-112; ONNX Softplus has no
// threshold, which changes nothing in float32 above 20).
//
// The backward direction (MS 229-245, time-reversed recurrence in original
// order) flips its inputs along the token axis with Slice(step -1), runs the
// same forward recurrence and flips the result back.
func linearAttentionScan(b *builder, a scanArgs) (string, error) {
	shape := batchOf(a.L, a.DInner)
	yf := b.linearAttentionDirection(a.Name+"/forward", a.Fwd, a.L, a.DInner, a.DState, false)
	y := yf
	if a.Bwd != nil {
		yb := b.linearAttentionDirection(a.Name+"/backward", *a.Bwd, a.L, a.DInner, a.DState, true)
		y = b.op1("Add", a.Name+"/add_directions", []string{yf, yb}, shape) // y_f + y_b (MS 245)
		if a.DivideOut {
			y = b.op1("Mul", a.Name+"/divide_out", []string{y, b.constF32(nil, 0.5)}, shape) // if_divide_out (MS 245)
		}
	}
	gate := b.silu(a.Name+"/silu_z", a.Z)                 // SiLU(z) (SSI 150-152)
	out := b.op1("Mul", a.Name, []string{y, gate}, shape) // out = y · SiLU(z)
	if b.err != nil {
		return "", fmt.Errorf("scan %s: %w", a.Name, b.err)
	}
	return out, nil
}

// flipTokens reverses x [B, L, ...] along the token axis (x.flip([1])) with
// Slice(starts=-1, ends=-(L+1), axes=1, steps=-1).
func (b *builder) flipTokens(name, x string, L int64) string {
	return b.op1("Slice", name, []string{x, b.constI64(false, -1), b.constI64(false, -L-1),
		b.constI64(false, 1), b.constI64(false, -1)}, b.shape(x))
}

// linearAttentionDirection emits one direction's scan output including the D
// skip, before the gate: y [B, L, Din] in original token order.
func (b *builder) linearAttentionDirection(name string, d scanDirection, L, Din, N int64, reverse bool) string {
	u, delta, bm, cm := d.U, d.Delta, d.B, d.C
	if reverse {
		u = b.flipTokens(name+"/flip_u", u, L)             // [B, L, Din], time reversed
		delta = b.flipTokens(name+"/flip_delta", delta, L) // [B, L, Din]
		bm = b.flipTokens(name+"/flip_B", bm, L)           // [B, L, N]
		cm = b.flipTokens(name+"/flip_C", cm, L)           // [B, L, N]
	}
	sh := batchOf(L, Din)
	// dt = softplus(delta + delta_bias) (SSI 109-112).
	pre := b.op1("Add", name+"/delta_bias", []string{delta, d.DeltaBias}, sh)
	dt := b.op1("Softplus", name+"/dt", []string{pre}, sh)
	value := b.op1("Mul", name+"/dt_u", []string{dt, u}, sh) // value = dt·u [B, L, Din]
	// decay = dt·A: [B, L, Din, 1] · [Din, N] -> [B, L, Din, N] -> [B, L, Din·N].
	dt4 := b.op1("Unsqueeze", name+"/dt_unsqueeze", []string{dt, b.constI64(false, -1)}, batchOf(L, Din, 1))
	dA := b.op1("Mul", name+"/dt_A", []string{dt4, d.A}, batchOf(L, Din, N))
	decay := b.op1("Reshape", name+"/decay", []string{dA, b.constI64(false, 0, 0, Din*N)}, batchOf(L, Din*N)) // [B, L, Din, N] -> [B, L, Din·N]
	la := b.linearAttention(name+"/linear_attention", cm, bm, value, decay, Din)
	// y = C·h + D·u (SSI 146-147).
	skip := b.op1("Mul", name+"/D_u", []string{u, d.D}, sh)
	y := b.op1("Add", name+"/y", []string{la, skip}, sh)
	if reverse {
		y = b.flipTokens(name+"/flip_y", y, L) // back to original order (MS 243-245)
	}
	return y
}

// linearAttention emits one com.microsoft.LinearAttention node (update_rule
// "gated", q_num_heads 1, kv_num_heads = channels, scale 1) on query [B, L, N],
// key [B, L, N], value [B, L, channels], decay [B, L, channels·N] and returns
// its output [B, L, channels]. Inputs in the contrib schema's order: query,
// key, value, past_state (omitted: zeros), decay. The schema requires both
// outputs; the second, present_state [B, channels, N, 1] (the state after the
// last token), is left unused.
func (b *builder) linearAttention(name, query, key, value, decay string, channels int64) string {
	vs := b.shape(value)
	n := b.shape(key)[2]
	b.nodeIn(MicrosoftDomain, OpLinearAttention, name,
		[]string{query, key, value, "", decay}, []string{name, name + "/present_state"},
		[][]int64{vs, {vs[0], channels, n, 1}},
		attrString("update_rule", "gated"), attrInt("q_num_heads", 1), attrInt("kv_num_heads", channels),
		attrFloat("scale", 1))
	return name
}

func attrString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}
