package graph

import (
	"fmt"
)

// OpsetLinearAttention is the ONNX opset (ONNX 1.22, IR 13) that added the
// standard operators LinearAttention (update_rule "gated", per-key decay)
// and CausalConvWithState (depthwise causal conv with fused SiLU).
// Options.Opset = OpsetLinearAttention exports every scan with the former
// (ScanONNXLinearAttention) and every depthwise conv with the latter
// (ConvCausalConvWithState): standard ops only, no plugin.
//
// No ONNX Runtime release runs opset 27 yet (1.29.0 stops at 25/26;
// onnxruntime-node 1.31.1 and onnxruntime-web 1.30.0 refuse it), and the
// onnx 1.12 checker knows opsets up to 17, so such a model is checked by
// its structure (op types, attributes, shapes) and numerically through
// ONNX Runtime's contrib ops of the same names (opset27_test.go).
const OpsetLinearAttention = 27

// irOpsetLinearAttention is the IR version released with opset 27.
const irOpsetLinearAttention = 13

// ScanONNXLinearAttention lowers each block's scan to the standard ONNX
// LinearAttention (opset 27), one node per direction; it is what
// Options.Opset = OpsetLinearAttention selects.
const ScanONNXLinearAttention ScanLowering = "onnx-linear-attention"

// ConvCausalConvWithState computes each depthwise conv + SiLU with the
// standard ONNX CausalConvWithState (activation "silu", opset 27) between
// transposes [B, L, D] -> [B, D, L] -> [B, L, D]; the anti-causal conv of
// the backward direction runs it on the time-reversed sequence.
const ConvCausalConvWithState DepthwiseConv = "causal-conv-with-state"

// Standard op names of opset 27.
const (
	// OpONNXLinearAttention is ai.onnx LinearAttention (since opset 27).
	OpONNXLinearAttention = "LinearAttention"
	// OpCausalConvWithState is ai.onnx CausalConvWithState (since opset 27).
	OpCausalConvWithState = "CausalConvWithState"
)

func init() {
	scanLowerings[ScanONNXLinearAttention] = onnxLinearAttentionScan
}

// resolveOpset27 fills the scan and conv choices of opset 27 and refuses
// combinations that mix them with the opset 17-23 ones.
func resolveOpset27(opts *Options) error {
	if opts.Opset != OpsetLinearAttention {
		if opts.Scan == ScanONNXLinearAttention || opts.DepthwiseConv == ConvCausalConvWithState {
			return fmt.Errorf("graph: scan %q and conv %q need opset %d (have %d)", ScanONNXLinearAttention, ConvCausalConvWithState, OpsetLinearAttention, opts.Opset)
		}
		return nil
	}
	if opts.Scan == "" {
		opts.Scan = ScanONNXLinearAttention
	}
	if opts.DepthwiseConv == "" {
		opts.DepthwiseConv = ConvCausalConvWithState
	}
	if opts.Scan != ScanONNXLinearAttention || opts.DepthwiseConv != ConvCausalConvWithState {
		return fmt.Errorf("graph: opset %d exports the standard LinearAttention and CausalConvWithState; scan %q / conv %q are for opsets %d to %d",
			OpsetLinearAttention, opts.Scan, opts.DepthwiseConv, MinOpset, MaxOpset)
	}
	return nil
}

// onnxLinearAttentionScan is linearAttentionScan (scan_linear_attention.go,
// which derives the mapping from SSI 91-157) with the standard opset-27
// LinearAttention in place of the contrib op.
func onnxLinearAttentionScan(b *builder, a scanArgs) (string, error) {
	return linearAttentionScanWith(b, a, b.onnxLinearAttention)
}

// onnxLinearAttention emits one ai.onnx LinearAttention node (update_rule
// "gated", scale 1) on query C [B, L, N], key B [B, L, N], value dt·u
// [B, L, channels] and decay dt·A [B, L, channels·N], and returns its
// output [B, L, channels].
//
// The standard op wants q_num_heads to be a multiple of kv_num_heads, so
// unlike the contrib form (one query head shared by every channel) each
// channel is its own query and key/value head: q_num_heads = kv_num_heads
// = channels, d_k = N, d_v = 1, with C and B repeated per channel by
// Expand: [B, L, 1, N] -> [B, L, channels, N] -> [B, L, channels·N]. Inputs
// in the schema's order: query, key, value, past_state (omitted: zeros),
// decay. present_state [B, channels, N, 1] is a required output, unused.
func (b *builder) onnxLinearAttention(name, query, key, value, decay string, channels int64) string {
	vs := b.shape(value) // [B, L, channels]
	n := b.shape(key)[2]
	L := vs[1]
	perChannel := func(label, x string) string {
		x4 := b.op1("Unsqueeze", name+"/"+label+"_unsqueeze", []string{x, b.constI64(false, 2)}, batchOf(L, 1, n)) // [B, L, N] -> [B, L, 1, N]
		full := b.op1("Expand", name+"/"+label+"_per_channel", []string{x4, b.constI64(false, 1, 1, channels, 1)}, batchOf(L, channels, n))
		return b.op1("Reshape", name+"/"+label+"_packed", []string{full, b.constI64(false, 0, 0, channels*n)}, batchOf(L, channels*n)) // [B, L, channels, N] -> [B, L, channels·N]
	}
	q := perChannel("query", query)
	k := perChannel("key", key)
	b.nodeIn("", OpONNXLinearAttention, name,
		[]string{q, k, value, "", decay}, []string{name, name + "/present_state"},
		[][]int64{vs, {vs[0], channels, n, 1}},
		attrString("update_rule", "gated"), attrInt("q_num_heads", channels), attrInt("kv_num_heads", channels),
		attrFloat("scale", 1))
	return name
}

// causalConvSiLU emits SiLU(depthwise causal conv) of x [B, L, D] with the
// official weight [D, 1, K] and bias [D] as one CausalConvWithState node
// (activation "silu": the conv + F.silu of SSI 182 / causal_conv1d_fn,
// left zero padding K-1, the first L outputs). anti = true is the
// bimamba-v2 backward conv in original token order (depthwiseConv1d):
// the same causal op on x.flip(1), flipped back.
func (b *builder) causalConvSiLU(name, x, weight, bias string, anti bool) string {
	xs := b.shape(x) // [B, L, D]
	L, D := xs[1], xs[2]
	in := x
	if anti {
		in = b.flipTokens(name+"/flip_in", x, L) // [B, L, D], time reversed
	}
	xt := b.op1("Transpose", name+"/to_BDL", []string{in}, []int64{Batch, D, L}, attrInts("perm", 0, 2, 1)) // [B, L, D] -> [B, D, L]
	K := b.shape(weight)[2]
	b.node(OpCausalConvWithState, name+"/conv", []string{xt, weight, bias}, []string{name + "/conv", name + "/conv/present_state"},
		[][]int64{{Batch, D, L}, {Batch, D, K - 1}}, attrString("activation", "silu"))
	y := b.op1("Transpose", name, []string{name + "/conv"}, []int64{Batch, L, D}, attrInts("perm", 0, 2, 1)) // [B, D, L] -> [B, L, D]
	if anti {
		y = b.flipTokens(name+"/flip_out", y, L) // back to original order
	}
	return y
}
