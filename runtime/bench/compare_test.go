package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareRefusesOptions checks that Compare refuses, before loading or
// timing anything, what it cannot measure.
func TestCompareRefusesOptions(t *testing.T) {
	good := func() Options {
		return Options{Batches: []int{1}, Threads: []int{1}, Runs: 1, Rounds: 1, Worker: []string{"/bin/false"}}
	}
	cases := []struct {
		reason  string
		sources []string
		edit    func(*Options)
		want    string
	}{
		{"nothing to compare", nil, func(*Options) {}, "no model to compare"},
		{"an empty grid measures nothing", []string{"a.onnx"}, func(o *Options) { o.Batches = nil }, "no batch size or thread count"},
		{"zero timed runs", []string{"a.onnx"}, func(o *Options) { o.Runs = 0 }, "must be ≥ 1"},
		{"no way to start a worker process", []string{"a.onnx"}, func(o *Options) { o.Worker = nil }, "no worker command"},
		{"a missing model is named", []string{"/nonexistent/a.onnx"}, func(*Options) {}, "/nonexistent/a.onnx"},
	}
	for _, tc := range cases {
		o := good()
		tc.edit(&o)
		if _, err := Compare(ReadSources(tc.sources, ""), o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Compare = %v, want an error containing %q", tc.reason, err, tc.want)
		}
	}
}

// TestPlotCompare plots side-by-side records: one line per model ×
// threads, two checkpoints of the same file name told apart by their
// directory, two differing only by extension by it, failed or unmeasured
// records left out, and nothing measured refused.
func TestPlotCompare(t *testing.T) {
	recs := []CompareRecord{
		{Model: "/f/vim_t/checkpoint.pth", Architecture: "vim", Params: 7150000, ImgSize: 224, Batch: 1, Threads: 1, MedianMS: 40, PeakRSSMB: 160},
		{Model: "/f/mambaout_femto/checkpoint.pth", Architecture: "mambaout", Params: 7300000, ImgSize: 224, Batch: 1, Threads: 1, MedianMS: 30, PeakRSSMB: 180},
		{Model: "/f/vim_t/checkpoint.pth", Architecture: "vim", Params: 7150000, ImgSize: 448, Batch: 1, Threads: 1, MedianMS: 160, PeakRSSMB: 190},
		{Model: "/f/mambaout_femto/checkpoint.pth", Architecture: "mambaout", Params: 7300000, ImgSize: 448, Batch: 1, Threads: 1, Error: "failed"},
		{Model: "m/tiny.onnx", Architecture: "mambaout", Params: 26500000, ImgSize: 224, Batch: 2, Threads: 2, MedianMS: 100, PeakRSSMB: 500},
	}
	labels := compareLabels(recs)
	want := map[string]string{
		"/f/vim_t/checkpoint.pth":          "vim_t/checkpoint (vim, 7.15M)",
		"/f/mambaout_femto/checkpoint.pth": "mambaout_femto/checkpoint (mambaout, 7.30M)",
		"m/tiny.onnx":                      "tiny (mambaout, 26.50M)",
	}
	for m, w := range want {
		if labels[m] != w {
			t.Errorf("label of %s = %q, want %q", m, labels[m], w)
		}
	}
	var got []string
	for _, l := range compareLines(recs) {
		got = append(got, l.label+":"+joinInts(l.size))
	}
	wantLines := "vim_t/checkpoint (vim, 7.15M), 1 thread:224,448 mambaout_femto/checkpoint (mambaout, 7.30M), 1 thread:224 " +
		"tiny (mambaout, 26.50M), 2 threads, batch 2:224"
	if strings.Join(got, " ") != wantLines {
		t.Errorf("lines %q, want %q", strings.Join(got, " "), wantLines)
	}
	p := filepath.Join(t.TempDir(), "cmp.svg")
	if err := PlotCompare(p, recs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<svg", "vim_t/checkpoint (vim, 7.15M), 1 thread", "mambaout_femto/checkpoint (mambaout, 7.30M), 1 thread",
		"tiny (mambaout, 26.50M), 2 threads, batch 2", "time per image", "peak memory"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("plot lacks %q", s)
		}
	}
	if err := PlotCompare(p, recs[3:4]); err == nil {
		t.Error("PlotCompare with nothing measured: no error")
	}
	// Two models differing only by extension keep it and stay two lines.
	twins := []CompareRecord{
		{Model: "/f/vim_t.pth", Architecture: "vim", Params: 7150000, ImgSize: 224, Batch: 1, Threads: 1, MedianMS: 40},
		{Model: "/f/vim_t.onnx", Architecture: "vim", Params: 7150000, ImgSize: 224, Batch: 1, Threads: 1, MedianMS: 41},
	}
	if l := compareLabels(twins); l["/f/vim_t.pth"] != "vim_t.pth (vim, 7.15M)" || l["/f/vim_t.onnx"] != "vim_t.onnx (vim, 7.15M)" {
		t.Errorf("labels of vim_t.pth and vim_t.onnx: %q", l)
	}
	if n := len(compareLines(twins)); n != 2 {
		t.Errorf("vim_t.pth and vim_t.onnx plotted as %d lines, want 2", n)
	}
}
