package verify

import (
	"fmt"
	"math"

	"github.com/vimconvert/vimconvert/verify/internal/linalg"
)

// strided addresses a 2-D [time, channel] view of a flat slice:
// element (t, c) is data[off + t*ts + c*cs]. It lets one scan kernel read
// the official channel-major layout [B, D, L] and the token-major [B, L, D]
// buffers of the forward pass (including column slices such as z inside xz).
type strided[T Float] struct {
	data        []T
	off, ts, cs int
}

func (s strided[T]) at(t, c int) T { return s.data[s.off+t*s.ts+c*s.cs] }

func (s strided[T]) set(t, c int, v T) { s.data[s.off+t*s.ts+c*s.cs] = v }

// scanSeq is one sequence (one batch element, one direction) of the
// selective scan with delta_softplus=True:
//
//	dt_t   = softplus(delta_t + deltaBias)            (SSI 109-112)
//	h_t    = exp(dt_t·A) ⊙ h_{t-1} + dt_t·B_t·u_t     (h_{-1} = 0)
//	y_t    = <h_t, C_t> + D·u_t
//	out_t  = y_t · SiLU(z_t)
//
// over channels c of u/delta/z/out and states n of A/B/C. With reverse the
// recurrence runs from t = L-1 down to 0, which equals running the official
// scan on time-flipped inputs and flipping the output back.
type scanSeq[T Float] struct {
	length, dim, dstate int
	u, delta, z, out    strided[T] // [t, c]; z.data nil: no gate
	b, c                strided[T] // [t, n]
	a                   []T        // [dim, dstate], already -exp(A_log)
	d, deltaBias        []T        // [dim]; nil: absent
	reverse             bool
	lastState           []T // optional [dim, dstate]: h after the final step
}

// scanBlock is the number of channels one task of the scan carries through
// time together (a cache line of float32 channels).
const scanBlock = 16

// run scans channels [c0, c1).
func (s *scanSeq[T]) run(c0, c1 int) {
	if f, ok := any(s).(*scanSeq[float32]); ok && linalg.UseAVX2 && s.dstate%8 == 0 {
		runScanAVX2(f, c0, c1)
		return
	}
	n := s.dstate
	h := make([]T, (c1-c0)*n)
	bt := make([]T, n)
	ct := make([]T, n)
	ex := make([]T, n) // exp(dt·A[c, :]) of the current step
	for step := 0; step < s.length; step++ {
		t := s.loadStep(step, bt, ct)
		for c := c0; c < c1; c++ {
			dt := s.delta.at(t, c)
			if s.deltaBias != nil {
				dt += s.deltaBias[c]
			}
			dt = softplus(dt)
			u := s.u.at(t, c)
			dtu := dt * u
			expScaled(ex, s.a[c*n:(c+1)*n], dt)
			hc := h[(c-c0)*n : (c-c0+1)*n]
			bt, ct, ex := bt[:len(hc)], ct[:len(hc)], ex[:len(hc)]
			var y T
			for j, e := range ex {
				v := e*hc[j] + dtu*bt[j]
				hc[j] = v
				y += v * ct[j]
			}
			if s.d != nil {
				y += u * s.d[c]
			}
			if s.z.data != nil {
				y *= silu(s.z.at(t, c))
			}
			s.out.set(t, c, y)
		}
	}
	if s.lastState != nil {
		copy(s.lastState[c0*n:c1*n], h)
	}
}

// loadStep returns the time index of the step-th step (counted from the
// end with reverse) and gathers B_t and C_t into bt and ct ([dstate]).
func (s *scanSeq[T]) loadStep(step int, bt, ct []T) int {
	t := step
	if s.reverse {
		t = s.length - 1 - step
	}
	for j := range s.dstate {
		bt[j] = s.b.at(t, j)
		ct[j] = s.c.at(t, j)
	}
	return t
}

// runScanAVX2 is scanSeq.run for float32 with vector kernels: per time
// step, softplus of the block's deltas, the exp(dt·A) recurrence with the
// C contraction, and the SiLU(z) gate.
func runScanAVX2(s *scanSeq[float32], c0, c1 int) {
	n, nb := s.dstate, c1-c0
	np := (nb + 7) &^ 7 // channel arrays padded to whole vectors
	h := make([]float32, nb*n)
	bt := make([]float32, n)
	ct := make([]float32, n)
	rawBuf := make([]float32, np) // delta before bias and softplus
	bias := make([]float32, np)
	dt := make([]float32, np)
	dtu := make([]float32, np)
	uBuf := make([]float32, np)
	zBuf := make([]float32, np)
	yBuf := make([]float32, np)
	if s.deltaBias != nil {
		copy(bias, s.deltaBias[c0:c1])
	}
	a := s.a[c0*n : c1*n]
	// In the token-major buffers of the forward pass the block's channels
	// are contiguous at every step: use them in place instead of copying.
	direct := func(v strided[float32], t int) []float32 {
		if v.cs != 1 || nb != np || v.data == nil {
			return nil
		}
		i := v.off + t*v.ts + c0
		return v.data[i : i+nb : i+nb]
	}
	for step := 0; step < s.length; step++ {
		t := s.loadStep(step, bt, ct)
		raw, us, zs, ys := direct(s.delta, t), direct(s.u, t), direct(s.z, t), direct(s.out, t)
		if raw == nil {
			raw = rawBuf
			for i := 0; i < nb; i++ {
				raw[i] = s.delta.at(t, c0+i)
			}
		}
		if us == nil {
			us = uBuf
			for i := 0; i < nb; i++ {
				us[i] = s.u.at(t, c0+i)
			}
		}
		if ys == nil {
			ys = yBuf
		}
		softplusF32AVX2(&dt[0], &raw[0], &bias[0], np) // dt = softplus(delta + delta_bias)
		for i := 0; i < nb; i++ {
			dtu[i] = dt[i] * us[i]
		}
		scanStepF32AVX2(&h[0], &a[0], &bt[0], &ct[0], &dt[0], &dtu[0], &ys[0], nb, n)
		if s.d != nil {
			d := s.d[c0:c1]
			for i := 0; i < nb; i++ {
				ys[i] += us[i] * d[i]
			}
		}
		if s.z.data != nil {
			if zs == nil {
				zs = zBuf
				for i := 0; i < nb; i++ {
					zs[i] = s.z.at(t, c0+i)
				}
			}
			siluMulF32AVX2(&ys[0], &zs[0], np) // y·SiLU(z)
		}
		if &ys[0] == &yBuf[0] {
			for i := 0; i < nb; i++ {
				s.out.set(t, c0+i, ys[i])
			}
		}
	}
	if s.lastState != nil {
		copy(s.lastState[c0*n:c1*n], h)
	}
}

// expScaled sets out[j] = exp(dt·a[j]) (the product rounded to T, as the
// official einsum does, the exponential by fastExp written out inline:
// this loop is the cost of the whole forward pass).
func expScaled[T Float](out, a []T, dt T) {
	a = a[:len(out)]
	for j, aj := range a {
		x := float64(dt * aj)
		if !(x > -708 && x < 709) {
			out[j] = T(math.Exp(x))
			continue
		}
		kf := x*invLn2N + roundShift
		k := int64(math.Float64bits(kf))
		kf -= roundShift
		r := x - kf*ln2NHi - kf*ln2NLo
		r2 := r * r
		p := (1 + r) + r2*((0.5+r*(1.0/6))+r2*((1.0/24)+r*(1.0/120)))
		scale := math.Float64frombits(uint64(int64(int32(int32(k)>>expTableBits))+1023) << 52)
		out[j] = T(expTable[k&(expTableSize-1)] * scale * p)
	}
}

// ScanInput holds the operands of the official selective_scan_ref
// (mamba_ssm/ops/selective_scan_interface.py) in its own channel-major
// layout:
//
//	U, Delta, Z   [Batch, Dim, Len]   (Z may be nil: no SiLU(z) gate)
//	A             [Dim, DState]       (the real, negative A = -exp(A_log))
//	B, C          [Batch, DState, Len] (input-dependent B and C)
//	D, DeltaBias  [Dim]               (either may be nil)
//
// Delta is the raw dt_proj output; DeltaBias is added and softplus applied
// inside the scan (delta_softplus=True).
type ScanInput[T Float] struct {
	Batch, Dim, DState, Len int
	U, Delta, Z             []T
	A                       []T
	B, C                    []T
	D, DeltaBias            []T
	// Reverse runs the recurrence from the last time step to the first
	// (the backward direction of bimamba, without flipping any buffer).
	Reverse bool
}

// SelectiveScan computes selective_scan_ref(u, delta, A, B, C, D, z,
// delta_bias, delta_softplus=True, return_last_state=True): out
// [Batch, Dim, Len] and the final state [Batch, Dim, DState]. It runs in
// T's precision, in parallel over batch elements and channel blocks.
func SelectiveScan[T Float](in ScanInput[T]) (out, lastState []T, err error) {
	bt, d, n, l := in.Batch, in.Dim, in.DState, in.Len
	if bt < 1 || d < 1 || n < 1 || l < 1 {
		return nil, nil, fmt.Errorf("verify: SelectiveScan: sizes batch=%d dim=%d dstate=%d len=%d must be positive", bt, d, n, l)
	}
	check := func(name string, s []T, want int, optional bool) error {
		if s == nil && optional {
			return nil
		}
		if len(s) != want {
			return fmt.Errorf("verify: SelectiveScan: %s has %d elements, want %d", name, len(s), want)
		}
		return nil
	}
	for _, c := range []struct {
		name     string
		s        []T
		want     int
		optional bool
	}{
		{"u", in.U, bt * d * l, false},
		{"delta", in.Delta, bt * d * l, false},
		{"z", in.Z, bt * d * l, true},
		{"A", in.A, d * n, false},
		{"B", in.B, bt * n * l, false},
		{"C", in.C, bt * n * l, false},
		{"D", in.D, d, true},
		{"delta_bias", in.DeltaBias, d, true},
	} {
		if err := check(c.name, c.s, c.want, c.optional); err != nil {
			return nil, nil, err
		}
	}
	out = make([]T, bt*d*l)
	lastState = make([]T, bt*d*n)
	seqs := make([]scanSeq[T], bt)
	for b := range seqs {
		dl, nl := b*d*l, b*n*l
		seqs[b] = scanSeq[T]{
			length: l, dim: d, dstate: n,
			u:     strided[T]{in.U, dl, 1, l},
			delta: strided[T]{in.Delta, dl, 1, l},
			out:   strided[T]{out, dl, 1, l},
			b:     strided[T]{in.B, nl, 1, l},
			c:     strided[T]{in.C, nl, 1, l},
			a:     in.A, d: in.D, deltaBias: in.DeltaBias,
			reverse:   in.Reverse,
			lastState: lastState[b*d*n : (b+1)*d*n],
		}
		if in.Z != nil {
			seqs[b].z = strided[T]{in.Z, dl, 1, l}
		}
	}
	blocks := (d + scanBlock - 1) / scanBlock
	linalg.ParallelFor(bt*blocks, 0, func(i int) {
		b, blk := i/blocks, i%blocks
		seqs[b].run(blk*scanBlock, min(d, (blk+1)*scanBlock))
	})
	return out, lastState, nil
}
