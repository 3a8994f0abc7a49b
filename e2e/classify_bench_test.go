package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/internal/testutil"
	"github.com/vimconvert/vimconvert/runtime/classify"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

// BenchmarkClassify times `classify` (library) on a folder of photos with
// the full-depth Vim-T fixture (../shared/fixtures/vim_t) exported at 224,
// at batch 1 and 8 with 2 threads (ORT intra-op and decoding). The photos
// come from scripts/make-speed-photos.py (100 JPEGs, long side 500):
//
//	/usr/bin/python3 scripts/make-speed-photos.py out/photos100
//	VIMCONVERT_PHOTOS=out/photos100 go test -run='^$' -bench=Classify -benchtime=3x ./e2e
//
// Metrics: img/s over the wall time; prep_ms/img, the decode + resize +
// crop + normalise time per image (summed over decoding goroutines, it
// overlaps the model runs); model_ms/img, the wall time of the model runs
// per image; prep_%, prep / (prep + model). On a shared machine those wall
// times include waiting for a core; cpu_ms/img (process CPU time of the
// whole classify) and prep_cpu_% (the CPU time of decoding and
// preprocessing the same files alone, preprocess.LoadBatch + NCHW, over
// it) do not.
func BenchmarkClassify(b *testing.B) {
	dir := os.Getenv("VIMCONVERT_PHOTOS")
	if dir == "" {
		b.Skip("set VIMCONVERT_PHOTOS to a folder of photos (scripts/make-speed-photos.py)")
	}
	if !filepath.IsAbs(dir) {
		dir = repo.Path(dir)
	}
	fx := repo.SharedFixture("vim_t")
	if fx == "" {
		b.Skip("full-depth fixture ../shared/fixtures/vim_t absent")
	}
	m, _, err := convert.Load(filepath.Join(fx, "checkpoint.pth"), convert.Options{})
	if err != nil {
		b.Fatal(err)
	}
	model := filepath.Join(b.TempDir(), "vim_t.onnx")
	mp, err := graph.Build(m, graph.Options{})
	if err == nil {
		err = graph.WriteFile(mp, model)
	}
	if err != nil {
		b.Fatal(err)
	}
	const threads = 2
	cm, err := classify.Open(model, classify.ModelOptions{Threads: threads})
	if err != nil {
		b.Fatal(err)
	}
	defer cm.Close()
	files, err := classify.ExpandPaths([]string{dir})
	if err != nil {
		b.Fatal(err)
	}
	prepCPU := testutil.ProcessCPU(b)
	lb, err := preprocess.LoadBatch(cm.Recipe, files, threads)
	if err == nil {
		_, err = lb.NCHW()
	}
	if err != nil {
		b.Fatal(err)
	}
	prepCPU = testutil.ProcessCPU(b) - prepCPU
	for _, batch := range []int{1, 8} {
		b.Run(fmt.Sprintf("vim_t_224/batch%d/threads%d", batch, threads), func(b *testing.B) {
			var total classify.Stats
			cpu := testutil.ProcessCPU(b)
			for b.Loop() {
				st, err := cm.Classify(context.Background(), []string{dir}, classify.Options{Batch: batch, Workers: threads}, func(classify.Result) error { return nil })
				if err != nil || st.Failed > 0 {
					b.Fatalf("%+v, %v", st, err)
				}
				total.Files += st.Files
				total.Wall += st.Wall
				total.Preprocess += st.Preprocess
				total.Model += st.Model
			}
			cpu = testutil.ProcessCPU(b) - cpu
			n := float64(total.Files)
			b.ReportMetric(cpu.Seconds()*1e3/n, "cpu_ms/img")
			b.ReportMetric(100*prepCPU.Seconds()/float64(len(files))/(cpu.Seconds()/n), "prep_cpu_%")
			b.ReportMetric(n/total.Wall.Seconds(), "img/s")
			b.ReportMetric(total.Preprocess.Seconds()*1e3/n, "prep_ms/img")
			b.ReportMetric(total.Model.Seconds()*1e3/n, "model_ms/img")
			b.ReportMetric(100*total.Preprocess.Seconds()/(total.Preprocess+total.Model).Seconds(), "prep_%")
		})
	}
}
