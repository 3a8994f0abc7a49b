package verify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/testutil"
	"github.com/vimconvert/vimconvert/verify/internal/linalg"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// loadTensors reads a bundled fixture file (fixtures/ is part of the
// checkout, so a missing file is a failure, not a skip).
func loadTensors(t testing.TB, elem ...string) map[string]*convert.Tensor {
	t.Helper()
	p := repo.Fixture(elem...)
	if p == "" {
		t.Fatal("checkout root not found (run the tests inside the repository)")
	}
	m, err := convert.ReadTensorFile(p)
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	return m
}

func need(t testing.TB, m map[string]*convert.Tensor, key string, shape ...int) *convert.Tensor {
	t.Helper()
	v, ok := m[key]
	if !ok {
		t.Fatalf("fixture lacks %q", key)
	}
	if len(shape) > 0 && !slices.Equal(v.Shape, shape) {
		t.Fatalf("fixture %q has shape %v, want %v", key, v.Shape, shape)
	}
	return v
}

// widen returns the tensor's values as []T (the exact float64 values for
// float64 storages).
func widen[T Float](t *convert.Tensor) []T {
	if t.F64 != nil {
		out := make([]T, len(t.F64))
		for i, v := range t.F64 {
			out[i] = T(v)
		}
		return out
	}
	out := make([]T, len(t.Data))
	for i, v := range t.Data {
		out[i] = T(v)
	}
	return out
}

// scanCase is one entry of manifest.json's scan_cases.
type scanCase struct {
	File       string  `json:"file"`
	NoiseFloor float64 `json:"noise_floor_fp32_vs_fp64_max_abs"`
}

func readScanCases(t *testing.T) map[string]scanCase {
	raw, err := os.ReadFile(repo.Fixture("manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man struct {
		ScanCases map[string]scanCase `json:"scan_cases"`
	}
	if err := json.Unmarshal(raw, &man); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if len(man.ScanCases) != 16 {
		t.Fatalf("manifest lists %d scan cases, want 16", len(man.ScanCases))
	}
	return man.ScanCases
}

func scanInputFrom[T Float](m map[string]*convert.Tensor) ScanInput[T] {
	u := m["u"]
	bt, d, l := u.Shape[0], u.Shape[1], u.Shape[2]
	return ScanInput[T]{
		Batch: bt, Dim: d, DState: m["A"].Shape[1], Len: l,
		U: widen[T](u), Delta: widen[T](m["delta"]), Z: widen[T](m["z"]),
		A: widen[T](m["A"]), B: widen[T](m["B"]), C: widen[T](m["C"]),
		D: widen[T](m["D"]), DeltaBias: widen[T](m["delta_bias"]),
	}
}

// TestScanFixtures runs every official selective_scan_ref case (batch 1
// and 3, L 1/2/7/197, d 8/384). The expected values are the official fp32
// run: our float32 scan must match it to 1e-5, and our float64 scan must
// sit within the case's fp32-vs-fp64 noise floor of it (plus one float32
// ulp of the output scale).
func TestScanFixtures(t *testing.T) {
	cases := readScanCases(t)
	names := make([]string, 0, len(cases))
	for k := range cases {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		sc := cases[name]
		t.Run(name, func(t *testing.T) {
			m := loadTensors(t, filepath.FromSlash(sc.File))
			for _, k := range []string{"u", "delta", "A", "B", "C", "D", "z", "delta_bias", "out", "last_state"} {
				need(t, m, k)
			}
			wantOut, wantLast := m["out"].Data, m["last_state"].Data

			got32, last32, err := SelectiveScan(scanInputFrom[float32](m))
			if err != nil {
				t.Fatal(err)
			}
			checkScanResult(t, "float32", got32, last32, wantOut, wantLast, 1e-5, 1e-5)

			got64, last64, err := SelectiveScan(scanInputFrom[float64](m))
			if err != nil {
				t.Fatal(err)
			}
			// out within the case's noise floor + 1e-6
			checkScanResult(t, "float64", got64, last64, wantOut, wantLast, sc.NoiseFloor+1e-6, 1e-5)
		})
	}
}

// channelMajor converts a token-major [L, C] buffer (column offset off,
// row stride ld) to the official channel-major [C, L] layout, optionally
// flipping time (the bwd.* fixture pieces are in flipped order).
func channelMajor[T Float](s []T, l, c, off, ld int, flip bool) []float64 {
	out := make([]float64, l*c)
	for t := 0; t < l; t++ {
		tt := t
		if flip {
			tt = l - 1 - t
		}
		for j := 0; j < c; j++ {
			out[j*l+tt] = float64(s[t*ld+off+j])
		}
	}
	return out
}

// TestBimambaV2MixerFixture checks one official Vim-tiny v2 mixer piece by
// piece: xz, each direction's conv output, delta (before bias), B, C and
// gated scan output (bwd in flipped order), the combined (fwd+bwd)/2 and
// the out_proj output.
func TestBimambaV2MixerFixture(t *testing.T) {
	m := loadTensors(t, "scan", "bimamba_v2_mixer.pth")
	p := func(k string) *convert.Tensor { return need(t, m, "param."+k) }
	layer := convert.Layer{
		NormWeight: &convert.Tensor{Shape: []int{192}, Data: make([]float32, 192)},
		InProj:     p("in_proj.weight"),
		OutProj:    p("out_proj.weight"),
		Fwd: convert.Mixer{ConvWeight: p("conv1d.weight"), ConvBias: p("conv1d.bias"), XProj: p("x_proj.weight"),
			DtProjW: p("dt_proj.weight"), DtProjB: p("dt_proj.bias"), ALog: p("A_log"), D: p("D")},
		Bwd: &convert.Mixer{ConvWeight: p("conv1d_b.weight"), ConvBias: p("conv1d_b.bias"), XProj: p("x_proj_b.weight"),
			DtProjW: p("dt_proj_b.weight"), DtProjB: p("dt_proj_b.bias"), ALog: p("A_b_log"), D: p("D_b")},
	}
	hs := need(t, m, "hidden_states", 1, 65, 192)
	const l, d, di, n, r = 65, 192, 384, 16, 12
	dm := mixerDims{batch: 1, length: l, model: d, inner: di, dtRank: r, dstate: n, dcv: 4,
		bimamba: convert.BimambaV2, divideOut: true}

	t.Run("float32", func(t *testing.T) { checkMixerPieces[float32](t, m, &layer, hs, dm, 2e-5) })
	t.Run("float64", func(t *testing.T) { checkMixerPieces[float64](t, m, &layer, hs, dm, 2e-5) })
}

func checkMixerPieces[T Float](t *testing.T, m map[string]*convert.Tensor, layer *convert.Layer, hs *convert.Tensor, dm mixerDims, tol float64) {
	p := newLayerParams[T](layer)
	// A = -exp(A_log) in float32 must equal the official A bit for bit.
	for _, c := range []struct {
		got  []T
		want *convert.Tensor
	}{{p.fwd.a, m["A"]}, {p.bwd.a, m["A_b"]}} {
		for i, v := range c.want.Data {
			if g := float32(c.got[i]); g != v {
				t.Fatalf("A[%d] = %v, official %v", i, g, v)
			}
		}
	}
	var tr mixerTrace[T]
	out := mixer(widen[T](hs), &p, dm, &tr)
	l, di, n, r := dm.length, dm.inner, dm.dstate, dm.dtRank
	nx := r + 2*n
	pieces := []struct {
		key  string
		got  []float64
		want []float32
	}{
		{"xz", channelMajor(tr.xz, l, 2*di, 0, 2*di, false), m["xz"].Data},
		{"fwd.conv_out", channelMajor(tr.convFwd, l, di, 0, di, false), m["fwd.conv_out"].Data},
		{"fwd.delta_raw", channelMajor(tr.deltaFwd, l, di, 0, di, false), m["fwd.delta_raw"].Data},
		{"fwd.B", channelMajor(tr.xDblFwd, l, n, r, nx, false), m["fwd.B"].Data},
		{"fwd.C", channelMajor(tr.xDblFwd, l, n, r+n, nx, false), m["fwd.C"].Data},
		{"fwd.y", channelMajor(tr.yFwd, l, di, 0, di, false), m["fwd.y"].Data},
		{"bwd.conv_out", channelMajor(tr.convBwd, l, di, 0, di, true), m["bwd.conv_out"].Data},
		{"bwd.delta_raw", channelMajor(tr.deltaBwd, l, di, 0, di, true), m["bwd.delta_raw"].Data},
		{"bwd.B", channelMajor(tr.xDblBwd, l, n, r, nx, true), m["bwd.B"].Data},
		{"bwd.C", channelMajor(tr.xDblBwd, l, n, r+n, nx, true), m["bwd.C"].Data},
		{"bwd.y", channelMajor(tr.yBwd, l, di, 0, di, true), m["bwd.y"].Data},
		{"combined", widen[float64](&convert.Tensor{Data: toFloat32(tr.combined)}), m["combined"].Data},
		{"out", widen[float64](&convert.Tensor{Data: toFloat32(out)}), m["out"].Data},
	}
	for _, pc := range pieces {
		if d := maxAbsDiff(pc.got, pc.want); d > tol {
			t.Errorf("%s: max|Δ| = %.3g > %g", pc.key, d, tol)
		} else {
			t.Logf("%s: max|Δ| = %.3g", pc.key, d)
		}
	}
}

func toFloat32[T Float](s []T) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}

// noiseFloors reads manifest.json's per-tensor fp32-vs-fp64 noise floor of
// the official model for one fixture.
func noiseFloors(t *testing.T, fixture string) map[string]float64 {
	var man struct {
		Fixtures map[string]struct {
			NoiseFloor map[string]float64 `json:"noise_floor_fp32_vs_fp64_max_abs"`
		} `json:"fixtures"`
	}
	testutil.ReadJSON(t, repo.Fixture("manifest.json"), &man)
	f, ok := man.Fixtures[fixture]
	if !ok || len(f.NoiseFloor) == 0 {
		t.Fatalf("manifest has no noise floors for %s", fixture)
	}
	return f.NoiseFloor
}

func top1Rows(logits []float64, rows int) []int {
	nc := len(logits) / rows
	out := make([]int, rows)
	for r := range out {
		best := 0
		for j := 1; j < nc; j++ {
			if logits[r*nc+j] > logits[r*nc+best] {
				best = j
			}
		}
		out[r] = best
	}
	return out
}

// TestModelFixtures runs the reference on every model fixture against the
// official outputs: float32 logits within 1e-4 with the same top-1,
// float64 logits/features within 1e-8 of the official float64 run, and
// (small models) every per-block intermediate of the float32 run within
// 1e-4 and of the float64 run within the official fp32-vs-fp64 noise
// floor (+1e-7).
func TestModelFixtures(t *testing.T) {
	tests := []struct {
		name          string
		dir           string // "" = not available
		opts          convert.Options
		wantSeqLen    int
		intermediates bool
		reason        string
	}{
		{"vim_t_d2", repo.Fixture("vim_t_d2"), convert.Options{}, 197, true,
			"training checkpoint, middle cls at 98, per-block intermediates"},
		{"vim_t_stride8_d2", repo.Fixture("vim_t_stride8_d2"), convert.Options{}, 730, true,
			"stride 8: 27×27 overlapping patches, cls at 364"},
		{"vim_t", repo.SharedFixture("vim_t"), convert.Options{}, 197, false,
			"full-depth official Vim-tiny (24 blocks)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.dir == "" {
				t.Skipf("skipping: %s not present (../shared/fixtures is absent in this checkout)", tc.name)
			}
			m, _, err := convert.Load(filepath.Join(tc.dir, "checkpoint.pth"), tc.opts)
			if err != nil {
				t.Fatalf("%s: loading: %v", tc.reason, err)
			}
			if m.Config.SeqLen() != tc.wantSeqLen {
				t.Fatalf("%s: seq_len %d, want %d", tc.reason, m.Config.SeqLen(), tc.wantSeqLen)
			}
			in, err := convert.ReadTensorFile(filepath.Join(tc.dir, "input.pth"))
			if err != nil {
				t.Fatal(err)
			}
			exp, err := convert.ReadTensorFile(filepath.Join(tc.dir, "expected.pth"))
			if err != nil {
				t.Fatal(err)
			}
			x := need(t, in, "x")
			shape := [4]int{x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]}
			bt := shape[0]

			r32, err := Forward(m, x.Data, shape, Options{Precision: Float32, Intermediates: tc.intermediates})
			if err != nil {
				t.Fatalf("%s: float32: %v", tc.reason, err)
			}
			want := need(t, exp, "logits")
			if !slices.Equal(r32.Logits.Shape, want.Shape) {
				t.Fatalf("logits shape %v, want %v", r32.Logits.Shape, want.Shape)
			}
			d := maxAbsDiff(r32.Logits.Data, want.Data)
			t.Logf("float32 logits max|Δ| = %.3g", d)
			if d > 1e-4 {
				t.Errorf("%s: float32 logits max|Δ| = %.3g > 1e-4", tc.reason, d)
			}
			wantF := widen[float64](want)
			if got, w := top1Rows(r32.Logits.Data, bt), top1Rows(wantF, bt); !slices.Equal(got, w) {
				t.Errorf("%s: top-1 %v, official %v", tc.reason, got, w)
			}
			if d := maxAbsDiff(r32.Features.Data, need(t, exp, "features").Data); d > 1e-4 {
				t.Errorf("%s: float32 features max|Δ| = %.3g", tc.reason, d)
			}

			if testing.Short() && !tc.intermediates {
				t.Log("float64 run of the full-depth model skipped in -short mode")
				return
			}
			r64, err := Forward(m, x.Data, shape, Options{Precision: Float64, Intermediates: tc.intermediates})
			if err != nil {
				t.Fatalf("%s: float64: %v", tc.reason, err)
			}
			for _, k := range []string{"logits", "features"} {
				w := need(t, exp, k+"_fp64")
				if w.F64 == nil {
					t.Fatalf("%s_fp64 was not read as float64", k)
				}
				got := r64.Logits
				if k == "features" {
					got = r64.Features
				}
				d := maxAbsDiff(got.Data, w.F64)
				t.Logf("float64 %s max|Δ| vs %s_fp64 = %.3g", k, k, d)
				if d > 1e-8 {
					t.Errorf("%s: float64 %s max|Δ| = %.3g > 1e-8", tc.reason, k, d)
				}
			}
			if !tc.intermediates {
				return
			}
			floors := noiseFloors(t, tc.name)
			checked := 0
			for key, w := range exp {
				if strings.HasSuffix(key, "_fp64") || key == "logits_model_ema" {
					continue
				}
				g32, ok := r32.Intermediates[key]
				if !ok {
					t.Errorf("reference has no intermediate %q", key)
					continue
				}
				if !slices.Equal(g32.Shape, w.Shape) {
					t.Errorf("%s: shape %v, want %v", key, g32.Shape, w.Shape)
					continue
				}
				d32 := maxAbsDiff(g32.Data, w.Data)
				d64 := maxAbsDiff(r64.Intermediates[key].Data, w.Data)
				floor, ok := floors[key]
				if !ok {
					t.Fatalf("manifest has no noise floor for %s", key)
				}
				t.Logf("%-24s float32 max|Δ| %.3g, float64 %.3g (official noise floor %.3g)", key, d32, d64, floor)
				if d32 > 1e-4 {
					t.Errorf("%s: float32 max|Δ| = %.3g > 1e-4", key, d32)
				}
				if d64 > floor+1e-7 {
					t.Errorf("%s: float64 max|Δ| = %.3g > noise floor %.3g + 1e-7", key, d64, floor)
				}
				checked++
			}
			if want := 2*m.Config.Depth + 4; checked < want {
				t.Errorf("checked %d intermediates, want at least %d", checked, want)
			}
		})
	}
}

// TestEMAWeights runs the model_ema weight set of the training checkpoint
// against logits_model_ema (1.29 away from logits).
func TestEMAWeights(t *testing.T) {
	dir := repo.Fixture("vim_t_d2")
	m, _, err := convert.Load(filepath.Join(dir, "checkpoint.pth"), convert.Options{Weights: convert.WeightsEMA})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := convert.ReadTensorFile(filepath.Join(dir, "input.pth"))
	exp, _ := convert.ReadTensorFile(filepath.Join(dir, "expected.pth"))
	x := need(t, in, "x")
	r, err := Forward(m, x.Data, [4]int{x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(r.Logits.Data, need(t, exp, "logits_model_ema").Data); d > 1e-4 {
		t.Fatalf("EMA logits max|Δ| = %.3g > 1e-4", d)
	}
	if d := maxAbsDiff(r.Logits.Data, exp["logits"].Data); d < 0.1 {
		t.Fatalf("EMA logits equal the model logits (max|Δ| %.3g): wrong weight set", d)
	}
}

// TestPortablePathFixture runs vim_t_d2 in float32 with the AVX2 kernels
// switched off (the path of CPUs without AVX2/FMA and of other
// architectures: Go scan loop, gonum products).
func TestPortablePathFixture(t *testing.T) {
	saved := linalg.UseAVX2
	linalg.UseAVX2 = false
	t.Cleanup(func() { linalg.UseAVX2 = saved })
	dir := repo.Fixture("vim_t_d2")
	m, _, err := convert.Load(filepath.Join(dir, "checkpoint.pth"), convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := convert.ReadTensorFile(filepath.Join(dir, "input.pth"))
	exp, _ := convert.ReadTensorFile(filepath.Join(dir, "expected.pth"))
	x := need(t, in, "x")
	r, err := Forward(m, x.Data, [4]int{x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]}, Options{Precision: Float32})
	if err != nil {
		t.Fatal(err)
	}
	d := maxAbsDiff(r.Logits.Data, need(t, exp, "logits").Data)
	t.Logf("portable float32 logits max|Δ| = %.3g", d)
	if d > 1e-4 {
		t.Fatalf("portable float32 logits max|Δ| = %.3g > 1e-4", d)
	}
}
