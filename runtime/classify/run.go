package classify

import (
	"context"
	"fmt"
	"math"
	goruntime "runtime"
	"time"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

// Options controls Model.Classify. The zero value gives the top 5 classes,
// one image per model run, decoding on GOMAXPROCS goroutines.
type Options struct {
	// TopK is the number of classes per image (0 = 5).
	TopK int
	// Batch is the number of images per model run (0 = 1).
	Batch int
	// Workers bounds the goroutines decoding images (0 = GOMAXPROCS).
	Workers int
	// Decoder holds the limits on untrusted image files.
	Decoder preprocess.Decoder
	// Progress, when set, is called after each batch with the files done
	// so far and the total (after ExpandPaths).
	Progress func(done, total int)
}

// Result is the outcome for one file: its top classes, or the error that
// kept it from being classified (Err; Error is its message).
type Result struct {
	File  string       `json:"file"`
	Top   []Prediction `json:"top,omitempty"`
	Error string       `json:"error,omitempty"`
	Err   error        `json:"-"`
}

// Stats says how many files were classified and where the time went.
// Preprocess is the time spent decoding, resizing, cropping and
// normalising, summed over the decoding goroutines (it overlaps the model
// runs); Model is the wall time of the model runs; Wall is the whole call.
type Stats struct {
	Files, Failed     int // files reported, and those with an error
	Preprocess, Model time.Duration
	Wall              time.Duration
	// Batches counts the model runs; LargestBatch is the most images in one.
	Batches, LargestBatch int
}

// chunk is one batch of files on its way from the decoders to the model.
type chunk struct {
	files []string
	errs  []error
	ok    []int // indices into files of the decoded images, in order
	x     []float32
	u8    []uint8
	prep  time.Duration
}

// Classify classifies the image files named by paths (directories expanded
// by ExpandPaths, whose error it returns before doing anything else) in
// order, Options.Batch at a time, calling emit once per file in file order. Decoding the next batch
// overlaps the model run of the current one. A file that cannot be decoded,
// or whose batch the model fails on, gets a Result with an error and does
// not stop the others. The error returned is emit's, the context's, or nil;
// Stats.Failed counts the files with an error.
func (m *Model) Classify(ctx context.Context, paths []string, o Options, emit func(Result) error) (Stats, error) {
	start := time.Now()
	files, err := ExpandPaths(paths)
	if err != nil {
		return Stats{}, err
	}
	o = o.withDefaults()
	chunks := make(chan *chunk, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(chunks)
		for lo := 0; lo < len(files); lo += o.Batch {
			c := m.load(files[lo:min(lo+o.Batch, len(files))], o)
			select {
			case chunks <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	var st Stats
	for c := range chunks {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		st.Preprocess += c.prep
		res := m.classifyChunk(c, o.TopK, &st)
		for _, r := range res {
			st.Files++
			if r.Err != nil {
				st.Failed++
				r.Error = r.Err.Error()
			}
			if err := emit(r); err != nil {
				return st, err
			}
		}
		if o.Progress != nil {
			o.Progress(st.Files, len(files))
		}
	}
	st.Wall = time.Since(start)
	return st, ctx.Err()
}

func (o Options) withDefaults() Options {
	if o.TopK <= 0 {
		o.TopK = 5
	}
	if o.Batch <= 0 {
		o.Batch = 1
	}
	if o.Workers <= 0 {
		o.Workers = goruntime.GOMAXPROCS(0)
	}
	return o
}

// load decodes, crops and lays out the files of one batch with o.Workers
// goroutines; a file that fails keeps its error and is left out of the
// tensor.
func (m *Model) load(files []string, o Options) *chunk {
	c := &chunk{files: files, errs: make([]error, len(files))}
	b := &preprocess.Batch{Recipe: m.Recipe}
	for i, cr := range o.Decoder.LoadCrops(m.Recipe, files, o.Workers) {
		c.prep += cr.Took
		c.errs[i] = cr.Err
		if cr.Err == nil {
			c.ok = append(c.ok, i)
			b.Crops = append(b.Crops, cr.Img)
		}
	}
	if len(c.ok) == 0 {
		return c
	}
	t0 := time.Now()
	var err error
	if m.Format == graph.InputUint8NHWC {
		c.u8, err = b.NHWC()
	} else {
		c.x, err = b.NCHW()
	}
	c.prep += time.Since(t0)
	if err != nil { // crops made by ResizeCrop always fit; kept as an error, not a panic
		for _, i := range c.ok {
			c.errs[i] = err
		}
		c.ok = nil
	}
	return c
}

// classifyChunk runs the model on the decoded images of c and returns the
// results of all its files in order.
func (m *Model) classifyChunk(c *chunk, k int, st *Stats) []Result {
	res := make([]Result, len(c.files))
	for i, f := range c.files {
		res[i] = Result{File: f, Err: c.errs[i]}
	}
	if len(c.ok) == 0 {
		return res
	}
	t0 := time.Now()
	logits, err := m.logits(c.x, c.u8, len(c.ok))
	st.Model += time.Since(t0)
	st.Batches++
	st.LargestBatch = max(st.LargestBatch, len(c.ok))
	if err == nil && len(logits) != len(c.ok)*m.Classes {
		err = fmt.Errorf("model gave %d logits for %d images of %d classes", len(logits), len(c.ok), m.Classes)
	}
	for j, i := range c.ok {
		if err != nil {
			res[i].Err = fmt.Errorf("%s: %w", c.files[i], err)
			continue
		}
		row := logits[j*m.Classes : (j+1)*m.Classes]
		if !finite(row) {
			res[i].Err = fmt.Errorf("%s: the model's logits are not finite", c.files[i])
			continue
		}
		res[i].Top = TopK(row, k, m.Labels)
	}
	return res
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}
