package verify

import (
	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/verify/internal/linalg"
)

// mixerParams is one direction of a Mamba mixer in the compute precision.
type mixerParams[T Float] struct {
	convW  []T // [DInner, DConv] (conv1d.weight [DInner, 1, DConv])
	convB  []T // [DInner] or nil
	xProj  []T // [DtRank+2·DState, DInner], rows [dt | B | C]
	dtW    []T // [DInner, DtRank]
	dtB    []T // [DInner] delta_bias
	a      []T // [DInner, DState] = -exp(A_log) evaluated in float32
	d      []T // [DInner]
	hasDir bool
}

// layerParams is one Vim block in the compute precision.
type layerParams[T Float] struct {
	norm     []T // [EmbedDim]
	normBias []T // [EmbedDim], LayerNorm only; else nil
	inProj   []T // [2·DInner, EmbedDim]
	outProj  []T // [EmbedDim, DInner]
	fwd      mixerParams[T]
	bwd      mixerParams[T] // v2 only (hasDir false otherwise)
	aBwd     []T            // v1 only: -exp(A_b_log)
	gamma    []T            // [EmbedDim] or nil
}

func newMixerParams[T Float](m *convert.Mixer) mixerParams[T] {
	a := make([]T, len(m.ALog.Data))
	for i, v := range m.ALog.Data {
		a[i] = T(negExpF32(v))
	}
	p := mixerParams[T]{
		convW:  linalg.ToT[T](m.ConvWeight.Data),
		xProj:  linalg.ToT[T](m.XProj.Data),
		dtW:    linalg.ToT[T](m.DtProjW.Data),
		a:      a,
		d:      linalg.ToT[T](m.D.Data),
		hasDir: true,
	}
	if m.ConvBias != nil {
		p.convB = linalg.ToT[T](m.ConvBias.Data)
	}
	if m.DtProjB != nil {
		p.dtB = linalg.ToT[T](m.DtProjB.Data)
	}
	return p
}

func newLayerParams[T Float](l *convert.Layer) layerParams[T] {
	p := layerParams[T]{
		norm:    linalg.ToT[T](l.NormWeight.Data),
		inProj:  linalg.ToT[T](l.InProj.Data),
		outProj: linalg.ToT[T](l.OutProj.Data),
		fwd:     newMixerParams[T](&l.Fwd),
	}
	if l.Bwd != nil {
		p.bwd = newMixerParams[T](l.Bwd)
	}
	if l.ABLog != nil {
		p.aBwd = make([]T, len(l.ABLog.Data))
		for i, v := range l.ABLog.Data {
			p.aBwd[i] = T(negExpF32(v))
		}
	}
	if l.NormBias != nil {
		p.normBias = linalg.ToT[T](l.NormBias.Data)
	}
	if l.Gamma != nil {
		p.gamma = linalg.ToT[T](l.Gamma.Data)
	}
	return p
}

// mixerDims are the sizes a mixer call needs.
type mixerDims struct {
	batch, length       int // sequences and tokens per sequence
	model, inner        int // EmbedDim, DInner
	dtRank, dstate, dcv int
	bimamba             convert.BimambaType
	divideOut           bool
	workers             int
	round               rounder // the 16-bit rounding of an AMP emulation (nil: none)
}

// mixerTrace receives the inner tensors of one mixer call (token-major,
// [batch·length, channels]); used by tests against the official pieces.
type mixerTrace[T Float] struct {
	xz                 []T // [B·L, 2·DInner]
	convFwd, convBwd   []T // [B·L, DInner] SiLU(conv) per direction, original time order
	xDblFwd, xDblBwd   []T // [B·L, DtRank+2·DState] = [dt | B | C]
	deltaFwd, deltaBwd []T // [B·L, DInner] dt_proj output before bias/softplus
	yFwd, yBwd         []T // [B·L, DInner] gated scan outputs, original time order
	combined           []T // [B·L, DInner] input of out_proj
}

// mixer runs Mamba.forward's fast path (MS 213-245 for v2) on
// hidden [B·L, EmbedDim] and returns [B·L, EmbedDim].
//
//	xz = hidden · in_projᵀ                    [B·L, 2·DInner]; x = xz[:, :DInner], z = xz[:, DInner:]
//	v2:   y = (inner(x, z; fwd params) + flip(inner(flip x, flip z; *_b params))) / 2
//	v1:   shared conv/x_proj/dt_proj; y = scan(A) + flip(scan(flip ·, A_b)), no /2
//	none: y = inner(x, z)
//	out = y · out_projᵀ (· gamma)
//
// The backward direction never flips a buffer: its conv looks ahead in the
// original order and its scan runs from the last token to the first.
func mixer[T Float](hidden []T, p *layerParams[T], dm mixerDims, tr *mixerTrace[T]) []T {
	rows := dm.batch * dm.length
	di := dm.inner
	// [B·L, D] -> [B·L, 2·DInner]
	xz := make([]T, rows*2*di)
	linalg.Linear(xz, hidden, dm.model, p.inProj, rows, 2*di, dm.model)
	roundAll(dm.round, xz)

	yF := make([]T, rows*di)
	var yB []T
	convF, xDblF, deltaF := innerProjections(xz, &p.fwd, dm, false)
	scanDirection(convF, xDblF, deltaF, xz, &p.fwd, p.fwd.a, dm, false, yF)
	var convB, xDblB, deltaB []T
	switch dm.bimamba {
	case convert.BimambaV2:
		convB, xDblB, deltaB = innerProjections(xz, &p.bwd, dm, true)
		yB = make([]T, rows*di)
		scanDirection(convB, xDblB, deltaB, xz, &p.bwd, p.bwd.a, dm, true, yB)
	case convert.BimambaV1:
		// SSI 452-528: the backward scan reuses the forward conv output,
		// delta, B, C, D and delta_bias, flipped in time, with A_b.
		yB = make([]T, rows*di)
		scanDirection(convF, xDblF, deltaF, xz, &p.fwd, p.aBwd, dm, true, yB)
	}
	combined := yF
	if yB != nil {
		combined = make([]T, rows*di)
		half := dm.bimamba == convert.BimambaV2 && dm.divideOut
		for i := range combined {
			s := yF[i] + yB[i]
			if dm.round != nil {
				s = T(dm.round(float32(s))) // out + out_b.flip: a 16-bit add
			}
			if half {
				s /= 2
			}
			combined[i] = s
		}
		roundAll(dm.round, combined)
	}
	if tr != nil {
		*tr = mixerTrace[T]{xz: xz, convFwd: convF, convBwd: convB, xDblFwd: xDblF, xDblBwd: xDblB,
			deltaFwd: deltaF, deltaBwd: deltaB, yFwd: yF, yBwd: yB, combined: combined}
	}
	// [B·L, DInner] -> [B·L, D]
	out := make([]T, rows*dm.model)
	linalg.Linear(out, combined, di, p.outProj, rows, dm.model, di)
	roundAll(dm.round, out)
	if p.gamma != nil {
		for r := 0; r < rows; r++ {
			row := out[r*dm.model : (r+1)*dm.model]
			for j, g := range p.gamma {
				row[j] *= g
			}
		}
	}
	return out
}

// innerProjections computes one direction's SiLU(causal conv(x)) [B·L,
// DInner], x_proj output [B·L, DtRank+2·DState] and delta = dt·dt_projᵀ
// (no bias) [B·L, DInner], all in the original token order.
func innerProjections[T Float](xz []T, p *mixerParams[T], dm mixerDims, reverse bool) (conv, xDbl, delta []T) {
	rows := dm.batch * dm.length
	di := dm.inner
	conv = make([]T, rows*di)
	causalConvSiLU(conv, xz, p, dm, reverse)
	roundAll(dm.round, conv)
	nx := dm.dtRank + 2*dm.dstate
	xDbl = make([]T, rows*nx)
	linalg.Linear(xDbl, conv, di, p.xProj, rows, nx, di)
	roundAll(dm.round, xDbl)
	delta = make([]T, rows*di)
	// dt = xDbl[:, :DtRank] (row stride nx): [B·L, DtRank] -> [B·L, DInner]
	linalg.Linear(delta, xDbl, nx, p.dtW, rows, di, dm.dtRank)
	roundAll(dm.round, delta)
	return conv, xDbl, delta
}

// causalConvSiLU applies the depthwise conv1d (kernel K = DConv, padding
// K-1, first L outputs kept: SSI 182, MS 271) and SiLU to x = xz[:, :DInner]:
//
//	forward: out[t,c] = SiLU(bias[c] + Σ_k w[c,k]·x[t-(K-1)+k, c])
//	reverse: out[t,c] = SiLU(bias[c] + Σ_k w[c,k]·x[t+(K-1)-k, c])
//
// with x = 0 outside [0, L). The reverse form is the causal conv of the
// time-flipped sequence, expressed in the original order.
func causalConvSiLU[T Float](out, xz []T, p *mixerParams[T], dm mixerDims, reverse bool) {
	l, di, k := dm.length, dm.inner, dm.dcv
	stride := 2 * di // token stride inside xz
	const chunk = 64
	chunks := (l + chunk - 1) / chunk
	// The float32 AVX2 path applies SiLU to whole rows with the vector
	// kernel (di a multiple of 8).
	vecSiLU := false
	if _, ok := any(out).([]float32); ok && linalg.UseAVX2 && di%8 == 0 {
		vecSiLU = true
	}
	linalg.ParallelFor(dm.batch*chunks, dm.workers, func(i int) {
		b, ch := i/chunks, i%chunks
		base := b * l
		var pre, ones []float32
		if vecSiLU {
			pre, ones = make([]float32, di), make([]float32, di)
		}
		for t := ch * chunk; t < min(l, (ch+1)*chunk); t++ {
			orow := out[(base+t)*di : (base+t+1)*di]
			for c := 0; c < di; c++ {
				var s T
				if p.convB != nil {
					s = p.convB[c]
				}
				w := p.convW[c*k : (c+1)*k]
				for j := 0; j < k; j++ {
					src := t - (k - 1) + j
					if reverse {
						src = t + (k - 1) - j
					}
					if src < 0 || src >= l {
						continue
					}
					s += w[j] * xz[(base+src)*stride+c]
				}
				orow[c] = s
			}
			if vecSiLU {
				// orow = 1·SiLU(pre)
				o := any(orow).([]float32)
				copy(pre, o)
				for c := range ones {
					ones[c] = 1
				}
				siluMulF32AVX2(&ones[0], &pre[0], di)
				copy(o, ones)
				continue
			}
			for c, s := range orow {
				orow[c] = silu(s)
			}
		}
	})
}

// scanDirection runs the selective scan of one direction for every batch
// element, writing the gated output [B·L, DInner] to y.
func scanDirection[T Float](conv, xDbl, delta, xz []T, p *mixerParams[T], a []T, dm mixerDims, reverse bool, y []T) {
	l, di, n := dm.length, dm.inner, dm.dstate
	nx := dm.dtRank + 2*n
	seqs := make([]scanSeq[T], dm.batch)
	for b := range seqs {
		seqs[b] = scanSeq[T]{
			length: l, dim: di, dstate: n,
			u:     strided[T]{conv, b * l * di, di, 1},
			delta: strided[T]{delta, b * l * di, di, 1},
			z:     strided[T]{xz, b*l*2*di + di, 2 * di, 1}, // z = xz[:, DInner:]
			out:   strided[T]{y, b * l * di, di, 1},
			b:     strided[T]{xDbl, b*l*nx + dm.dtRank, nx, 1},
			c:     strided[T]{xDbl, b*l*nx + dm.dtRank + n, nx, 1}, // C = x_dbl[:, -d_state:]
			a:     a, d: p.d, deltaBias: p.dtB,
			reverse: reverse,
		}
	}
	blocks := (di + scanBlock - 1) / scanBlock
	linalg.ParallelFor(dm.batch*blocks, dm.workers, func(i int) {
		b, blk := i/blocks, i%blocks
		seqs[b].run(blk*scanBlock, min(di, (blk+1)*scanBlock))
	})
	roundAll(dm.round, y) // out_z: the scan kernel's one rounding
}
