package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/internal/cleanup"
)

// sweepLine is one line of the resolution plot: a model at one thread
// count and batch size, points ordered by image size.
type sweepLine struct {
	label     string
	size      []int
	msPerImg  []float64
	peakRSSMB []float64
}

// add appends one measured point.
func (l *sweepLine) add(size int, msPerImg, rss float64) {
	l.size = append(l.size, size)
	l.msPerImg = append(l.msPerImg, msPerImg)
	l.peakRSSMB = append(l.peakRSSMB, rss)
}

// plainLabel names a plain model's line: its file name without ".onnx"
// and without a trailing "_<size>" (deit_t_224.onnx and deit_t_448.onnx
// are one line, "deit_t").
func plainLabel(path string, size int) string {
	s := onnxfile.Stem(path)
	return strings.TrimSuffix(s, fmt.Sprintf("_%d", size))
}

// lineSet collects sweep lines by model × threads × batch, in the order
// they were first seen.
type lineSet struct {
	byKey map[string]*sweepLine
	order []string
}

func newLineSet() *lineSet { return &lineSet{byKey: map[string]*sweepLine{}} }

// get returns the line of model at threads and batch, made on first use.
func (s *lineSet) get(model string, threads, batch int) *sweepLine {
	k := fmt.Sprintf("%s, %d thread", model, threads)
	if threads > 1 {
		k += "s"
	}
	if batch > 1 {
		k += fmt.Sprintf(", batch %d", batch)
	}
	if s.byKey[k] == nil {
		s.byKey[k] = &sweepLine{label: k}
		s.order = append(s.order, k)
	}
	return s.byKey[k]
}

// lines returns the lines in first-seen order.
func (s *lineSet) lines() []*sweepLine {
	out := make([]*sweepLine, len(s.order))
	for i, k := range s.order {
		out[i] = s.byKey[k]
	}
	return out
}

// sweepLines groups the measured Vim plugin records and plain records
// into lines: one per model × threads × batch.
func sweepLines(vim []Record, plain []PlainRecord) []*sweepLine {
	s := newLineSet()
	for _, r := range vim {
		if r.PluginMS > 0 {
			s.get("Vim (plugin)", r.Threads, r.Batch).add(r.ImgSize, float64(r.PluginMS)/float64(r.Batch), float64(r.PeakRSSMB))
		}
	}
	for _, p := range plain {
		if p.Error == "" && p.MedianMS > 0 {
			s.get(plainLabel(p.Model, p.ImgSize), p.Threads, p.Batch).add(p.ImgSize, p.PerImageMS, p.PeakRSSMB)
		}
	}
	return s.lines()
}

// CheckPlot refuses, before anything is measured, a --plot path that
// could not be written after minutes of timing or that would replace one
// of the benchmarked files (inputs: models, checkpoints, --plain models):
// a directory, a file in a missing folder, or an input itself, also through
// a link (graph.CheckOutput). An empty path (no plot) passes.
func CheckPlot(path string, inputs ...string) error {
	if path == "" {
		return nil
	}
	if err := graph.CheckOutput(path, "sweep.svg", inputs...); err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	return nil
}

// PlotSweep writes an SVG plot of a resolution sweep to path: time per
// image (left) and peak RSS (right) against the image size, one line per
// model and thread count (and batch size, when more than one), from the
// Vim plugin records and the plain records.
func PlotSweep(path string, vim []Record, plain []PlainRecord) error {
	return writeSweepPlot(path, sweepLines(vim, plain))
}

// PlotCompare writes the SVG plot of PlotSweep for the records of Compare:
// one line per model × threads (× batch), named by compareLabels.
func PlotCompare(path string, recs []CompareRecord) error {
	return writeSweepPlot(path, compareLines(recs))
}

// compareLines groups the measured records of Compare into lines: one per
// model × threads × batch.
func compareLines(recs []CompareRecord) []*sweepLine {
	lines := newLineSet()
	labels := compareLabels(recs)
	for _, r := range recs {
		if r.Error == "" && r.MedianMS > 0 {
			lines.get(labels[r.Model], r.Threads, r.Batch).add(r.ImgSize, float64(r.MedianMS)/float64(r.Batch), float64(r.PeakRSSMB))
		}
	}
	return lines.lines()
}

// compareLabels names each model of recs by the shortest tail of its path
// (without ".onnx"/".pth") that no other model shares, followed by its
// architecture and parameter count: "vim_t/checkpoint (vim, 7.15M)".
func compareLabels(recs []CompareRecord) map[string]string {
	var models []string
	info := map[string]CompareRecord{}
	for _, r := range recs {
		if _, ok := info[r.Model]; !ok {
			models = append(models, r.Model)
			info[r.Model] = r
		}
	}
	stripped := func(p string) string {
		return strings.TrimSuffix(strings.TrimSuffix(filepath.ToSlash(filepath.Clean(p)), ".onnx"), ".pth")
	}
	tail := func(p string, n int) string {
		parts := strings.Split(p, "/")
		return strings.Join(parts[max(0, len(parts)-n):], "/")
	}
	// Paths that differ only by their extension (vim_t.pth, vim_t.onnx)
	// keep it; the others are named without it.
	names := map[string]string{}
	for _, m := range models {
		names[m] = stripped(m)
		for _, o := range models {
			if o != m && stripped(o) == stripped(m) {
				names[m] = filepath.ToSlash(filepath.Clean(m))
			}
		}
	}
	labels := map[string]string{}
	for _, m := range models {
		var name string
		for n := 1; ; n++ {
			name = tail(names[m], n)
			clash := false
			for _, o := range models {
				clash = clash || o != m && tail(names[o], n) == name
			}
			if !clash || name == tail(names[m], n+1) {
				break
			}
		}
		r := info[m]
		labels[m] = fmt.Sprintf("%s (%s, %.2fM)", name, r.Architecture, float64(r.Params)/1e6)
	}
	return labels
}

// writeSweepPlot draws lines as the two panels of PlotSweep into path.
func writeSweepPlot(path string, lines []*sweepLine) error {
	if len(lines) == 0 {
		return fmt.Errorf("bench: nothing to plot (no successful measurement)")
	}
	panel := func(title, ylabel string, y func(*sweepLine) []float64) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "image size (pixels per side)"
		p.Y.Label.Text = ylabel
		p.Legend.Top, p.Legend.Left = true, true
		var args []any
		for _, l := range lines {
			pts := make(plotter.XYs, len(l.size))
			idx := make([]int, len(l.size))
			for i := range idx {
				idx[i] = i
			}
			slices.SortFunc(idx, func(a, b int) int { return l.size[a] - l.size[b] })
			for i, j := range idx {
				pts[i] = plotter.XY{X: float64(l.size[j]), Y: y(l)[j]}
			}
			args = append(args, l.label, pts)
		}
		return p, plotutil.AddLinePoints(p, args...)
	}
	pt, err := panel("time per image", "median ms per image", func(l *sweepLine) []float64 { return l.msPerImg })
	if err != nil {
		return err
	}
	pm, err := panel("peak memory", "peak RSS of the process (MB)", func(l *sweepLine) []float64 { return l.peakRSSMB })
	if err != nil {
		return err
	}
	img := vgsvg.New(11*vg.Inch, 4.5*vg.Inch)
	cs := plot.Align([][]*plot.Plot{{pt, pm}}, draw.Tiles{Rows: 1, Cols: 2, PadX: 8 * vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 4 * vg.Millimeter, PadBottom: 4 * vg.Millimeter, PadLeft: 4 * vg.Millimeter, PadRight: 4 * vg.Millimeter}, draw.New(img))
	pt.Draw(cs[0][0])
	pm.Draw(cs[0][1])
	err = cleanup.WriteFile(path, func(f *os.File) error {
		_, err := img.WriteTo(f)
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: plot %s: %w", path, err)
	}
	return nil
}
