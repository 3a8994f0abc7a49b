package graph

// OpConvSiLUBidirectional is the plugin op computing both depthwise convs
// of a bimamba-v2 block with their SiLU in one pass (ops/README.md).
const OpConvSiLUBidirectional = "CausalConv1dSiLUBidirectional"

// ConvPlugin computes both convs + SiLU of a bimamba-v2 block with one
// ai.vimconvert::CausalConv1dSiLUBidirectional node that reads the x
// channels straight from in_proj's output xz [B, L, 2·Din], so the block
// also needs no Split (z becomes a Slice). Blocks of bimamba v1 and none,
// which have only the causal conv, use ConvONNX under this option.
const ConvPlugin DepthwiseConv = "plugin"

// convSiLUPlugin emits the CausalConv1dSiLUBidirectional node of one
// bimamba-v2 block on xz [B, L, X] (X >= Din; the op reads channels
// [0, Din), the x half) with the official conv1d and conv1d_b weights
// [Din, 1, K] and biases [Din] as-is, and returns
// u_f = SiLU(causal conv) and u_b = SiLU(anti-causal conv in the original
// order), both [B, L, Din]: the same values as depthwiseConv1d (causal, then
// anti) followed by silu on the x half of xz (MS 213-245, SSI 182).
func (b *builder) convSiLUPlugin(name, xz, wF, bF, wB, bB string) (uF, uB string) {
	xs := b.shape(xz)                     // [B, L, X]
	ws := b.shape(wF)                     // [Din, 1, K]
	shape := []int64{Batch, xs[1], ws[0]} // [B, L, Din]
	uF, uB = name+"/u_f", name+"/u_b"
	b.nodeIn(Domain, OpConvSiLUBidirectional, name, []string{xz, wF, bF, wB, bB},
		[]string{uF, uB}, [][]int64{shape, shape})
	return uF, uB
}
