package verify

import (
	"math"
	"runtime"
	"syscall"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/internal/fixturetest"
)

// vimTConfig is the Vim-tiny architecture (D 192, 24 blocks, v2, middle
// cls) at the given image size, patch 16, stride 16.
func vimTConfig(imgSize, depth int) convert.Config {
	return synthConfig(192, depth, imgSize, 16, 16, 1000, convert.ClsMiddle, convert.BimambaV2)
}

// reportPeakRSS adds the process's peak resident set size as a metric.
func reportPeakRSS(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS-MiB") // Linux: KiB
	}
}

func benchForward(b *testing.B, m *convert.Model, x []float32, shape [4]int, prec Precision) {
	b.Helper()
	if _, err := Forward(m, x, shape, Options{Precision: prec}); err != nil { // warm-up
		b.Fatal(err)
	}
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Forward(m, x, shape, Options{Precision: prec}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// CPU time per run (user+sys over all threads): on a shared machine it
	// is a steadier figure than ns/op.
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	reportPeakRSS(b)
}

// cpuSeconds returns the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// BenchmarkVimT224 runs the full-depth official Vim-tiny fixture
// (../shared/fixtures/vim_t) on one 224×224 image.
func BenchmarkVimT224(b *testing.B) {
	dir := fixturetest.Shared(b, "vim_t")
	m := fixturetest.Vim(b, dir)
	x := fixturetest.Input(b, dir).Data[:3*224*224] // batch 1
	b.Run("float32", func(b *testing.B) { benchForward(b, m, x, [4]int{1, 3, 224, 224}, Float32) })
	b.Run("float64", func(b *testing.B) { benchForward(b, m, x, [4]int{1, 3, 224, 224}, Float64) })
}

// BenchmarkVimT1248 runs a Vim-tiny-sized model with random weights at
// 1248×1248: 78×78 = 6084 patches + cls = 6085 tokens, batch 1.
func BenchmarkVimT1248(b *testing.B) {
	cfg := vimTConfig(1248, 24)
	if cfg.SeqLen() != 6085 {
		b.Fatalf("seq_len %d, want 6085", cfg.SeqLen())
	}
	m := graphtest.ModelOf(cfg, 1)
	x, shape := synthInput(2, 1, 1248)
	b.Run("float32", func(b *testing.B) { benchForward(b, m, x, shape, Float32) })
}

// TestLongSequence runs a 2-block Vim-tiny-sized model at 1248×1248 (6085
// tokens) and checks that allocation grows linearly with the sequence
// length (no L×L or L×D×N buffers).
func TestLongSequence(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the 6085-token run in -short mode")
	}
	alloc := func(img int) (uint64, *Result) {
		m := graphtest.ModelOf(vimTConfig(img, 2), 3)
		x, shape := synthInput(4, 1, img)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r, err := Forward(m, x, shape, Options{Precision: Float32})
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, r
	}
	small, _ := alloc(224) // 197 tokens
	big, r := alloc(1248)  // 6085 tokens
	for _, v := range r.Logits.Data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatal("non-finite logits at 6085 tokens")
		}
	}
	ratio := float64(big) / float64(small)
	t.Logf("allocated %.1f MiB at 197 tokens, %.1f MiB at 6085 tokens (×%.1f for ×%.1f tokens)",
		float64(small)/(1<<20), float64(big)/(1<<20), ratio, 6085.0/197)
	// The input image itself grows with the pixel count (×31 as well);
	// anything quadratic would be ×960.
	if ratio > 2*6085.0/197 {
		t.Errorf("allocation grew ×%.1f for ×%.1f tokens: not linear", ratio, 6085.0/197)
	}
}
