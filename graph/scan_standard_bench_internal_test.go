package graph

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/internal/testutil"
	"github.com/vimconvert/vimconvert/runtime"
)

// standardForms are the standard-op formulations compared in BENCHMARKS.md
// ("--scan standard: formulations"), by the name the benchmark reports.
var standardForms = []struct {
	name     string
	form     standardForm
	segments int64
	lowering ScanLowering // a registered lowering timed beside the forms instead
}{
	{"plugin", 0, 0, ScanPlugin},
	{"linear-attention", 0, 0, ScanLinearAttention},
	{"step-body", formStepBody, 0, ""},
	{"precomputed", formPrecomputed, 0, ""},
	{"segmented-K4", formSegmented, 4, ""},
	{"segmented-K8", formSegmented, 8, ""},
	{"segmented-K16", formSegmented, 16, ""},
	{"segmented-K32", formSegmented, 32, ""},
	{"unrolled-U2", formUnrolled, 2, ""},
	{"unrolled-U4", formUnrolled, 4, ""},
}

// benchVimModel loads the official full-depth Vim-T fixture when present
// (its weights give the real dt/A ranges), else a random model with Vim-T
// shapes, resized to VIMCONVERT_BENCH_IMG (default 224).
// VIMCONVERT_BENCH_FORMS (comma-separated names) limits the forms timed,
// VIMCONVERT_BENCH_THREADS the thread counts.
func benchVimModel(b *testing.B) *convert.Model {
	var m *convert.Model
	if ckpt := repo.SharedFixture("vim_t", "checkpoint.pth"); ckpt != "" {
		var err error
		if m, _, err = convert.Load(ckpt, convert.Options{}); err != nil {
			b.Fatal(err)
		}
	} else {
		m = graphtest.Model(graphtest.Spec{EmbedDim: 192, Depth: 24, DState: 16, PatchSize: 16, ImgSize: 224, NumClasses: 1000})
	}
	if s := os.Getenv("VIMCONVERT_BENCH_IMG"); s != "" {
		var size int
		if _, err := fmt.Sscan(s, &size); err != nil {
			b.Fatalf("VIMCONVERT_BENCH_IMG=%q: %v", s, err)
		}
		if err := convert.ResizePosEmbed(m, size); err != nil {
			b.Fatal(err)
		}
	}
	return m
}

// BenchmarkStandardFormsVimTinyORT times one batch-1 Vim-T forward pass in
// ONNX Runtime (no plugin) for each standard-op formulation of the scan,
// with 1 and 2 intra-op threads, and reports the session creation time and
// the file size. The plugin and linear-attention models are timed beside
// them with `vimconvert bench` (BENCHMARKS.md).
//
//	go test ./graph -run '^$' -bench StandardFormsVimTinyORT -benchtime 10x
func BenchmarkStandardFormsVimTinyORT(b *testing.B) {
	m := benchVimModel(b)
	c := m.Config
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 3*c.ImgSize*c.ImgSize)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for _, f := range standardForms {
		form, k := f.form, f.segments
		lower := func(b *builder, a scanArgs) (string, error) { return b.standardScanForm(a, form, k) }
		if f.lowering != "" {
			lower = scanLowerings[f.lowering]
		}
		if only := os.Getenv("VIMCONVERT_BENCH_FORMS"); only != "" && !slices.Contains(strings.Split(only, ","), f.name) {
			continue
		}
		mp, err := buildWith(m, Options{}, lower)
		if err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(b.TempDir(), f.name+".onnx")
		if err := WriteFile(mp, p); err != nil {
			b.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, threads := range benchThreads(b) {
			b.Run(fmt.Sprintf("%s/threads=%d", f.name, threads), func(b *testing.B) {
				t0, c0 := time.Now(), testutil.ProcessCPU(b)
				s, err := runtime.NewSession(p, runtime.Options{NoPlugin: f.lowering != ScanPlugin, IntraOpThreads: threads, InterOpThreads: 1})
				if err != nil {
					b.Skipf("session: %v", err)
				}
				defer s.Destroy()
				sessionMS := float64(time.Since(t0).Microseconds()) / 1e3
				sessionCPUMS := (testutil.ProcessCPU(b) - c0).Seconds() * 1e3
				in := map[string]*runtime.Tensor{InputName: {Shape: []int64{1, 3, int64(c.ImgSize), int64(c.ImgSize)}, Data: x}}
				if _, err := s.Run(in); err != nil { // warm-up
					b.Fatal(err)
				}
				b.ResetTimer()
				cpu0 := testutil.ProcessCPU(b)
				for i := 0; i < b.N; i++ {
					if _, err := s.Run(in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric((testutil.ProcessCPU(b)-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
				b.ReportMetric(sessionMS, "session-ms")
				b.ReportMetric(sessionCPUMS, "session-cpu-ms")
				b.ReportMetric(float64(st.Size())/1e6, "file-MB")
			})
		}
	}
}

// benchThreads is VIMCONVERT_BENCH_THREADS (comma-separated intra-op thread
// counts), default 1 and 2.
func benchThreads(b *testing.B) []int {
	env := os.Getenv("VIMCONVERT_BENCH_THREADS")
	if env == "" {
		return []int{1, 2}
	}
	var out []int
	for _, f := range strings.Split(env, ",") {
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil || n < 1 {
			b.Fatalf("VIMCONVERT_BENCH_THREADS=%q: want positive integers", env)
		}
		out = append(out, n)
	}
	return out
}
