package verify

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/graphtest"
)

func mustForward(t *testing.T, m *convert.Model, x []float32, shape [4]int, opts Options) *Result {
	t.Helper()
	r, err := Forward(m, x, shape, opts)
	if err != nil {
		t.Fatalf("Forward: %v", err)
	}
	return r
}

// row returns token (b, t) of a [B, L, D] tensor.
func row(ts *Tensor, b, t int) []float64 {
	l, d := ts.Shape[1], ts.Shape[2]
	return ts.Data[(b*l+t)*d : (b*l+t+1)*d]
}

// TestPatchEmbedDirectConv compares the im2col patch embedding with a
// direct Conv2d loop, for an overlapping stride, a non-multiple image size
// and a 2-channel input.
func TestPatchEmbedDirectConv(t *testing.T) {
	cfg := synthConfig(6, 1, 11, 4, 3, 0, convert.ClsNone, convert.BimambaNone)
	cfg.DState = 2
	cfg.InChans = 2
	m := graphtest.ModelOf(cfg, 5)
	m.PatchWeight = &convert.Tensor{Shape: []int{6, 2, 4, 4}, Data: make([]float32, 6*2*16)}
	for i := range m.PatchWeight.Data {
		m.PatchWeight.Data[i] = float32(math.Sin(float64(i)))
	}
	x := make([]float32, 2*2*11*11)
	for i := range x {
		x[i] = float32(math.Cos(float64(i) * 0.7))
	}
	r := mustForward(t, m, x, [4]int{2, 2, 11, 11}, Options{Precision: Float64, Intermediates: true})
	got := r.Intermediates[KeyPatchEmbed]
	g := cfg.GridSize() // (11-4)/3+1 = 3
	if g != 3 || !slices.Equal(got.Shape, []int{2, 9, 6}) {
		t.Fatalf("grid %d, patch_embed_out shape %v", g, got.Shape)
	}
	for b := 0; b < 2; b++ {
		for gy := 0; gy < g; gy++ {
			for gx := 0; gx < g; gx++ {
				for o := 0; o < 6; o++ {
					s := float64(m.PatchBias.Data[o])
					for c := 0; c < 2; c++ {
						for ky := 0; ky < 4; ky++ {
							for kx := 0; kx < 4; kx++ {
								w := float64(m.PatchWeight.Data[((o*2+c)*4+ky)*4+kx])
								s += w * float64(x[((b*2+c)*11+gy*3+ky)*11+gx*3+kx])
							}
						}
					}
					// tokens are row-major over the grid: p = gy·g + gx
					if v := got.Data[((b*9)+gy*g+gx)*6+o]; math.Abs(v-s) > 1e-12 {
						t.Fatalf("patch (%d,%d,%d) channel %d: %v, direct conv %v", b, gy, gx, o, v, s)
					}
				}
			}
		}
	}
}

// TestTokenLayout checks where the cls token(s) go and which pos_embed row
// each token gets: the cls token is inserted before the pos_embed add, so
// pos_embed row M//2 belongs to the middle cls token (README item 14).
func TestTokenLayout(t *testing.T) {
	tests := []struct {
		cls      convert.ClsToken
		clsRows  []int // token rows holding a cls token
		patchOff func(tok int) int
		reason   string
	}{
		{convert.ClsMiddle, []int{4}, func(tok int) int {
			if tok < 4 {
				return tok
			}
			return tok - 1
		}, "9 patches: cls at 9//2 = 4, patches 4.. shift by one"},
		{convert.ClsHead, []int{0}, func(tok int) int { return tok - 1 }, "cls at 0"},
		{convert.ClsDouble, []int{0, 10}, func(tok int) int { return tok - 1 }, "head token at 0, tail at L-1"},
		{convert.ClsNone, nil, func(tok int) int { return tok }, "patches only"},
	}
	for _, tc := range tests {
		m := graphtest.ModelOf(tinyConfig(tc.cls, convert.BimambaV2), 11)
		x, shape := synthInput(3, 2, 12)
		r := mustForward(t, m, x, shape, Options{Precision: Float64, Intermediates: true})
		pe, et := r.Intermediates[KeyPatchEmbed], r.Intermediates[KeyEmbedTokens]
		l, d := m.Config.SeqLen(), m.Config.EmbedDim
		pos := m.PosEmbed.Data
		for b := 0; b < 2; b++ {
			for tok := 0; tok < l; tok++ {
				var src []float32
				switch {
				case slices.Index(tc.clsRows, tok) == 0 && tc.cls == convert.ClsDouble:
					src = m.ClsTokenHead.Data
				case slices.Index(tc.clsRows, tok) == 1:
					src = m.ClsTokenTail.Data
				case slices.Contains(tc.clsRows, tok):
					src = m.ClsToken.Data
				}
				got := row(et, b, tok)
				for j := 0; j < d; j++ {
					var want float64
					if src != nil {
						want = float64(src[j]) + float64(pos[tok*d+j])
					} else {
						want = row(pe, b, tc.patchOff(tok))[j] + float64(pos[tok*d+j])
					}
					if math.Abs(got[j]-want) > 1e-12 {
						t.Fatalf("%s (%s): embed_tokens[%d,%d,%d] = %v, want %v", tc.cls, tc.reason, b, tok, j, got[j], want)
					}
				}
			}
		}
	}
}

func naiveRMSNorm(x []float64, w []float32, eps float64) []float64 {
	ss := 0.0
	for _, v := range x {
		ss += v * v
	}
	r := 1 / math.Sqrt(ss/float64(len(x))+eps)
	out := make([]float64, len(x))
	for j, v := range x {
		out[j] = v * r * float64(w[j])
	}
	return out
}

// TestResidualStream checks the Add → Norm → Mixer bookkeeping (README
// items 1-3): residual_0 = tokens, residual_{i+1} = residual_i + hidden_i,
// final = RMSNorm(residual_last + hidden_last) with eps from the config.
func TestResidualStream(t *testing.T) {
	cfg := tinyConfig(convert.ClsMiddle, convert.BimambaV2)
	cfg.Depth = 3
	m := graphtest.ModelOf(cfg, 21)
	x, shape := synthInput(4, 2, 12)
	r := mustForward(t, m, x, shape, Options{Precision: Float64, Intermediates: true})
	it := r.Intermediates
	if d := maxAbsDiff(it[KeyResidual(0)].Data, it[KeyEmbedTokens].Data); d != 0 {
		t.Fatalf("layers.0.residual differs from embed_tokens by %g", d)
	}
	for i := 0; i+1 < cfg.Depth; i++ {
		res, hid, next := it[KeyResidual(i)].Data, it[KeyHidden(i)].Data, it[KeyResidual(i+1)].Data
		for j := range next {
			if next[j] != res[j]+hid[j] {
				t.Fatalf("layers.%d.residual[%d] = %v, want residual+hidden of block %d = %v", i+1, j, next[j], i, res[j]+hid[j])
			}
		}
	}
	last := cfg.Depth - 1
	res, hid := it[KeyResidual(last)], it[KeyHidden(last)].Data
	fin := it[KeyFinalNormed]
	l, d := cfg.SeqLen(), cfg.EmbedDim
	for b := 0; b < 2; b++ {
		for tok := 0; tok < l; tok++ {
			sum := make([]float64, d)
			for j := range sum {
				sum[j] = row(res, b, tok)[j] + hid[(b*l+tok)*d+j]
			}
			want := naiveRMSNorm(sum, m.NormF.Data, 1e-5)
			if dd := maxAbsDiff(row(fin, b, tok), want); dd > 1e-12 {
				t.Fatalf("final_hidden_normed[%d,%d] off by %g (final add + RMSNorm, eps 1e-5)", b, tok, dd)
			}
		}
	}
	// Block 0's norm output must use eps 1e-5: with tokens scaled tiny the
	// eps dominates, so a wrong eps (1e-6) would change hidden states.
	m2 := graphtest.ModelOf(cfg, 21)
	m2.Config.NormEps = 1e-6
	r2 := mustForward(t, m2, x, shape, Options{Precision: Float64})
	if maxAbsDiff(r2.Logits.Data, r.Logits.Data) == 0 {
		t.Fatal("norm eps has no effect")
	}
}

// TestReadout checks forward_features' readout for each cls placement and
// pool type against final_hidden_normed, and the head on top of it.
func TestReadout(t *testing.T) {
	tests := []struct {
		cls    convert.ClsToken
		pool   string
		reason string
	}{
		{convert.ClsMiddle, "mean", "middle cls: hidden[:, M//2]; pool type ignored"},
		{convert.ClsHead, "mean", "head cls: hidden[:, 0]"},
		{convert.ClsDouble, "mean", "double: (hidden[:, 0] + hidden[:, -1]) / 2"},
		{convert.ClsNone, "mean", "no cls, mean over tokens"},
		{convert.ClsNone, "none", "no cls, last token"},
		{convert.ClsNone, "max", "no cls, head on every token then max over tokens"},
		{convert.ClsNone, "all", "no cls, per-token logits"},
	}
	for _, tc := range tests {
		cfg := tinyConfig(tc.cls, convert.BimambaV2)
		cfg.FinalPoolType = tc.pool
		m := graphtest.ModelOf(cfg, 31)
		x, shape := synthInput(5, 2, 12)
		r := mustForward(t, m, x, shape, Options{Precision: Float64, Intermediates: true})
		fin := r.Intermediates[KeyFinalNormed]
		l, d, nc := cfg.SeqLen(), cfg.EmbedDim, cfg.NumClasses
		head := func(f []float64) []float64 {
			out := make([]float64, nc)
			for k := 0; k < nc; k++ {
				s := float64(m.HeadBias.Data[k])
				for j := 0; j < d; j++ {
					s += float64(m.HeadWeight.Data[k*d+j]) * f[j]
				}
				out[k] = s
			}
			return out
		}
		for b := 0; b < 2; b++ {
			var feat []float64
			switch {
			case tc.cls == convert.ClsMiddle:
				feat = row(fin, b, cfg.NumPatches()/2)
			case tc.cls == convert.ClsHead:
				feat = row(fin, b, 0)
			case tc.cls == convert.ClsDouble:
				feat = make([]float64, d)
				for j := range feat {
					feat[j] = (row(fin, b, 0)[j] + row(fin, b, l-1)[j]) / 2
				}
			case tc.pool == "mean":
				feat = make([]float64, d)
				for tok := 0; tok < l; tok++ {
					for j := range feat {
						feat[j] += row(fin, b, tok)[j] / float64(l)
					}
				}
			case tc.pool == "none":
				feat = row(fin, b, l-1)
			}
			if feat != nil {
				if !slices.Equal(r.Features.Shape, []int{2, d}) {
					t.Fatalf("%s: features shape %v", tc.reason, r.Features.Shape)
				}
				if dd := maxAbsDiff(r.Features.Data[b*d:(b+1)*d], feat); dd > 1e-12 {
					t.Fatalf("%s: features off by %g", tc.reason, dd)
				}
				if dd := maxAbsDiff(r.Logits.Data[b*nc:(b+1)*nc], head(feat)); dd > 1e-12 {
					t.Fatalf("%s: logits off by %g", tc.reason, dd)
				}
				continue
			}
			if !slices.Equal(r.Features.Shape, []int{2, l, d}) {
				t.Fatalf("%s: features shape %v, want [2 %d %d]", tc.reason, r.Features.Shape, l, d)
			}
			want := make([]float64, nc)
			for k := range want {
				want[k] = math.Inf(-1)
			}
			for tok := 0; tok < l; tok++ {
				lg := head(row(fin, b, tok))
				if tc.pool == "all" {
					if !slices.Equal(r.Logits.Shape, []int{2, l, nc}) {
						t.Fatalf("%s: logits shape %v", tc.reason, r.Logits.Shape)
					}
					if dd := maxAbsDiff(row(r.Logits, b, tok), lg); dd > 1e-12 {
						t.Fatalf("%s: token %d logits off by %g", tc.reason, tok, dd)
					}
				}
				for k, v := range lg {
					want[k] = max(want[k], v)
				}
			}
			if tc.pool == "max" {
				if !slices.Equal(r.Logits.Shape, []int{2, nc}) {
					t.Fatalf("%s: logits shape %v", tc.reason, r.Logits.Shape)
				}
				if dd := maxAbsDiff(r.Logits.Data[b*nc:(b+1)*nc], want); dd > 1e-12 {
					t.Fatalf("%s: max-pooled logits off by %g", tc.reason, dd)
				}
			}
		}
	}
}

// TestIdentityHead: num_classes 0 makes the head Identity, logits =
// features.
func TestIdentityHead(t *testing.T) {
	cfg := tinyConfig(convert.ClsMiddle, convert.BimambaV2)
	cfg.NumClasses = 0
	m := graphtest.ModelOf(cfg, 41)
	x, shape := synthInput(6, 1, 12)
	r := mustForward(t, m, x, shape, Options{})
	if !slices.Equal(r.Logits.Shape, r.Features.Shape) || maxAbsDiff(r.Logits.Data, r.Features.Data) != 0 {
		t.Fatalf("Identity head: logits %v differ from features %v", r.Logits.Shape, r.Features.Shape)
	}
}

// TestBatchIndependence runs a batch of three and each image alone: the
// conv and the scans must not leak across sequence boundaries.
func TestBatchIndependence(t *testing.T) {
	for _, bim := range []convert.BimambaType{convert.BimambaV2, convert.BimambaV1, convert.BimambaNone} {
		m := graphtest.ModelOf(tinyConfig(convert.ClsMiddle, bim), 51)
		x, shape := synthInput(7, 3, 12)
		all := mustForward(t, m, x, shape, Options{Precision: Float64})
		per := len(x) / 3
		nc := m.Config.NumClasses
		for b := 0; b < 3; b++ {
			one := mustForward(t, m, x[b*per:(b+1)*per], [4]int{1, 3, 12, 12}, Options{Precision: Float64})
			if d := maxAbsDiff(one.Logits.Data, all.Logits.Data[b*nc:(b+1)*nc]); d > 1e-12 {
				t.Errorf("bimamba %s: image %d alone differs from its batch row by %g", bim, b, d)
			}
		}
	}
}

// TestPrecisionsAgree: the float32 and float64 runs of the same model
// agree to float32 accuracy, for every mixer type and norm.
func TestPrecisionsAgree(t *testing.T) {
	for _, tc := range []struct {
		bim   convert.BimambaType
		norm  convert.Norm
		gamma bool
		d     int
	}{
		{convert.BimambaV2, convert.NormRMS, false, 32},
		{convert.BimambaV1, convert.NormRMS, true, 32},
		{convert.BimambaNone, convert.NormLayer, false, 32},
		// d_inner 20: a partial channel block (vector kernels gather) and
		// a conv row that is not a whole number of vectors
		{convert.BimambaV2, convert.NormRMS, false, 10},
	} {
		cfg := synthConfig(tc.d, 3, 32, 8, 8, 10, convert.ClsMiddle, tc.bim)
		cfg.Norm, cfg.HasGamma = tc.norm, tc.gamma
		m := graphtest.ModelOf(cfg, 61)
		x, shape := synthInput(8, 2, 32)
		r32 := mustForward(t, m, x, shape, Options{Precision: Float32, Intermediates: true})
		r64 := mustForward(t, m, x, shape, Options{Precision: Float64, Intermediates: true})
		if d := maxAbsDiff(r32.Logits.Data, r64.Logits.Data); d > 1e-4 || d == 0 {
			t.Errorf("%+v: float32 vs float64 logits max|Δ| = %g (want (0, 1e-4])", tc, d)
		}
		for k, v := range r64.Intermediates {
			if d := maxAbsDiff(r32.Intermediates[k].Data, v.Data); d > 1e-4 {
				t.Errorf("%+v: %s float32 vs float64 max|Δ| = %g", tc, k, d)
			}
		}
	}
}

// flipTokens reverses the token axis of [B, L, D].
func flipTokens(x []float64, bt, l, d int) []float64 {
	out := make([]float64, len(x))
	for b := 0; b < bt; b++ {
		for t := 0; t < l; t++ {
			copy(out[(b*l+t)*d:(b*l+t+1)*d], x[(b*l+l-1-t)*d:(b*l+l-t)*d])
		}
	}
	return out
}

// TestMixerDirections checks the bimamba semantics through symmetries:
// with the backward parameters equal to the forward ones, a v2 mixer is
// time-reversal equivariant (both x and z are flipped, the conv becomes
// anti-causal, the output is flipped back); a forward-only mixer is causal
// (token t never sees tokens after t); and /2 is taken with if_divide_out.
func TestMixerDirections(t *testing.T) {
	cfg := tinyConfig(convert.ClsNone, convert.BimambaV2)
	m := graphtest.ModelOf(cfg, 71)
	ly := m.Layers[0]
	bwd := ly.Fwd
	ly.Bwd = &bwd
	p := newLayerParams[float64](&ly)
	const bt, l = 2, 9
	d := cfg.EmbedDim
	dm := mixerDims{batch: bt, length: l, model: d, inner: cfg.DInner, dtRank: cfg.DtRank, dstate: cfg.DState, dcv: cfg.DConv,
		bimamba: convert.BimambaV2, divideOut: true}
	x, _ := synthInput(9, 1, 12)
	h := make([]float64, bt*l*d)
	for i := range h {
		h[i] = float64(x[i])
	}
	out := mixer(h, &p, dm, nil)
	outFlipped := mixer(flipTokens(h, bt, l, d), &p, dm, nil)
	if dd := maxAbsDiff(flipTokens(outFlipped, bt, l, d), out); dd > 1e-12 {
		t.Errorf("v2 with equal directions is not flip-equivariant: %g", dd)
	}

	// Different backward parameters break the symmetry.
	p2 := newLayerParams[float64](&m.Layers[0])
	a := mixer(h, &p2, dm, nil)
	b := mixer(flipTokens(h, bt, l, d), &p2, dm, nil)
	if maxAbsDiff(flipTokens(b, bt, l, d), a) < 1e-6 {
		t.Error("v2 ignores the backward parameters")
	}

	// if_divide_out: out_proj has no bias, so without /2 the output doubles.
	dm2 := dm
	dm2.divideOut = false
	c := mixer(h, &p2, dm2, nil)
	for i := range c {
		if math.Abs(c[i]-2*a[i]) > 1e-12 {
			t.Fatalf("if_divide_out=False output[%d] = %v, want 2×%v", i, c[i], a[i])
		}
	}

	// Forward-only mixer is causal: changing the last token changes only
	// the last output.
	dmN := dm
	dmN.bimamba = convert.BimambaNone
	h2 := slices.Clone(h)
	for j := 0; j < d; j++ {
		h2[(l-1)*d+j] += 1
	}
	o1, o2 := mixer(h, &p2, dmN, nil), mixer(h2, &p2, dmN, nil)
	if dd := maxAbsDiff(o1[:(l-1)*d], o2[:(l-1)*d]); dd != 0 {
		t.Errorf("forward-only mixer is not causal: earlier tokens moved by %g", dd)
	}
	if maxAbsDiff(o1[(l-1)*d:l*d], o2[(l-1)*d:l*d]) == 0 {
		t.Error("last token did not change")
	}
	// ... and the v2 backward branch is anti-causal: changing the first
	// token reaches every output.
	h3 := slices.Clone(h)
	for j := 0; j < d; j++ {
		h3[j] += 1
	}
	o3 := mixer(h3, &p2, dm, nil)
	if maxAbsDiff(a[(l-1)*d:l*d], o3[(l-1)*d:l*d]) == 0 {
		t.Error("v2: the last token does not see the first")
	}
}

// TestConvDirections compares the causal conv (and its reverse) with
// nn.Conv1d(padding K-1) keeping the first L outputs, written directly.
func TestConvDirections(t *testing.T) {
	const l, di, k = 6, 3, 4
	xz := make([]float64, l*2*di)
	for i := range xz {
		xz[i] = math.Sin(float64(i) * 1.3)
	}
	p := mixerParams[float64]{convW: make([]float64, di*k), convB: []float64{0.1, -0.2, 0.3}}
	for i := range p.convW {
		p.convW[i] = math.Cos(float64(i))
	}
	dm := mixerDims{batch: 1, length: l, inner: di, dcv: k}
	conv := func(seq []float64, c int) []float64 {
		// full padded conv: out[i] = b + Σ_j w[j]·pad[i+j], pad = 0^(K-1) seq 0^(K-1)
		pad := append(append(make([]float64, k-1), seq...), make([]float64, k-1)...)
		out := make([]float64, l)
		for i := 0; i < l; i++ { // first L of the L+K-1 outputs
			s := p.convB[c]
			for j := 0; j < k; j++ {
				s += p.convW[c*k+j] * pad[i+j]
			}
			out[i] = s / (1 + math.Exp(-s))
		}
		return out
	}
	for _, rev := range []bool{false, true} {
		got := make([]float64, l*di)
		causalConvSiLU(got, xz, &p, dm, rev)
		for c := 0; c < di; c++ {
			seq := make([]float64, l)
			for t2 := range seq {
				seq[t2] = xz[t2*2*di+c]
			}
			if rev {
				slices.Reverse(seq)
			}
			want := conv(seq, c)
			if rev {
				slices.Reverse(want)
			}
			for t2 := 0; t2 < l; t2++ {
				if math.Abs(got[t2*di+c]-want[t2]) > 1e-14 {
					t.Fatalf("reverse=%v channel %d t %d: %v, want %v", rev, c, t2, got[t2*di+c], want[t2])
				}
			}
		}
	}
}

// TestALogInFloat32: A = -exp(A_log) is evaluated in float32 even in the
// float64 run (MS 192, 214).
func TestALogInFloat32(t *testing.T) {
	mx := &convert.Mixer{ConvWeight: &convert.Tensor{Data: []float32{0}}, XProj: &convert.Tensor{}, DtProjW: &convert.Tensor{},
		ALog: &convert.Tensor{Data: []float32{0.1, 1.7, -2.3}}, D: &convert.Tensor{}}
	p := newMixerParams[float64](mx)
	for i, v := range mx.ALog.Data {
		want := -math.Exp(float64(v))
		if math.Abs(p.a[i]-want) > 1.2e-7*math.Abs(want) {
			t.Fatalf("A[%d] = %v, want ≈ %v", i, p.a[i], want)
		}
		if p.a[i] != float64(float32(p.a[i])) || p.a[i] == want {
			t.Fatalf("A[%d] = %v kept float64 precision", i, p.a[i])
		}
	}
}

func TestForwardErrors(t *testing.T) {
	good := func() *convert.Model { return graphtest.ModelOf(tinyConfig(convert.ClsMiddle, convert.BimambaV2), 81) }
	x, shape := synthInput(1, 1, 12)
	tests := []struct {
		mut     func(m *convert.Model)
		x       []float32
		shape   [4]int
		wantErr error
		wantMsg string
		reason  string
	}{
		{nil, x, [4]int{1, 3, 16, 16}, ErrInput, "img_size 12", "image size differs from img_size"},
		{nil, x, [4]int{1, 1, 12, 12}, ErrInput, "[B, 3, 12, 12]", "wrong channel count"},
		{nil, x[:10], shape, ErrInput, "needs 432 values", "data shorter than the shape"},
		{nil, x, [4]int{0, 3, 12, 12}, ErrInput, "batch size 0", "empty batch"},
		{func(m *convert.Model) { m.Layers[1].Bwd = nil }, x, shape, ErrModel, "backward parameters", "v2 without *_b"},
		{func(m *convert.Model) { m.Layers[0].Fwd.XProj.Shape = []int{10, 16} }, x, shape, ErrModel, "x_proj.weight has shape", "bad x_proj"},
		{func(m *convert.Model) { m.Layers[0].Fwd.D.Data = m.Layers[0].Fwd.D.Data[:3] }, x, shape, ErrModel, "values for shape", "short data"},
		{func(m *convert.Model) { m.NormF = nil }, x, shape, ErrModel, "norm_f.weight is missing", "missing tensor"},
		{func(m *convert.Model) { m.Config.Depth = 5 }, x, shape, ErrModel, "depth 5", "depth vs layers"},
		{func(m *convert.Model) { m.Config.BimambaType = "v3" }, x, shape, ErrModel, "bimamba_type", "unknown mixer"},
		{func(m *convert.Model) { m.Config.FinalPoolType = "max" }, x, shape, ErrModel, "together with a cls token", "max pool with cls token refused"},
		{func(m *convert.Model) { m.Config.Stride = 5 }, x, shape, ErrModel, "grid_size", "stride inconsistent with grid"},
		{func(m *convert.Model) { m.Config.NormEps = 0 }, x, shape, ErrModel, "norm_eps", "missing eps"},
		{func(m *convert.Model) { m.NormFBias = m.NormF }, x, shape, ErrModel, "RMSNorm", "bias on an RMSNorm"},
		{func(m *convert.Model) { m.Config.Norm = "batchnorm" }, x, shape, ErrModel, "norm \"batchnorm\"", "unknown norm"},
		{func(m *convert.Model) { m.ClsToken = nil }, x, shape, ErrModel, "cls_token is missing", "middle cls without the token"},
	}
	for _, tc := range tests {
		m := good()
		if tc.mut != nil {
			tc.mut(m)
		}
		_, err := Forward(m, tc.x, tc.shape, Options{})
		if err == nil {
			t.Errorf("%s: no error", tc.reason)
			continue
		}
		if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("%s: error %q, want %v mentioning %q", tc.reason, err, tc.wantErr, tc.wantMsg)
		}
	}
	if _, err := Forward(nil, x, shape, Options{}); !errors.Is(err, ErrModel) {
		t.Errorf("nil model: %v", err)
	}
	if _, err := Forward(good(), x, shape, Options{Precision: Precision(7)}); err == nil {
		t.Error("unknown precision accepted")
	}
}

func TestParsePrecision(t *testing.T) {
	for s, want := range map[string]Precision{"float32": Float32, "fp32": Float32, "float64": Float64, "fp64": Float64} {
		if p, err := ParsePrecision(s); err != nil || p != want {
			t.Errorf("ParsePrecision(%q) = %v, %v", s, p, err)
		}
		if want.String() != "float32" && want.String() != "float64" {
			t.Errorf("String %q", want.String())
		}
	}
	if _, err := ParsePrecision("float16"); err == nil {
		t.Error("float16 accepted")
	}
}
