package preprocess

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Batch holds the centre crops of several images, in the order of their paths, ready
// to become one model input.
type Batch struct {
	Recipe Recipe
	Paths  []string
	Crops  []*RGB8 // InputSize x InputSize each
}

// LoadBatch decodes, resizes and crops the image files at paths with up to workers
// goroutines (workers <= 0: GOMAXPROCS). The first failing file (in path order) is
// returned as the error, naming it; no partial batch is returned.
func LoadBatch(r Recipe, paths []string, workers int) (*Batch, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("preprocess: no image files")
	}
	crops := make([]*RGB8, len(paths))
	for i, c := range (Decoder{}).LoadCrops(r, paths, workers) {
		if c.Err != nil {
			return nil, c.Err
		}
		crops[i] = c.Img
	}
	return &Batch{Recipe: r, Paths: paths, Crops: crops}, nil
}

// Crop is what LoadCrops made of one file: its centre crop, or the error
// that kept it from one, and the time decoding, resizing and cropping took.
type Crop struct {
	Img  *RGB8
	Err  error
	Took time.Duration
}

// LoadCrops decodes (within d's limits), resizes and crops the image files
// at paths with up to workers goroutines (workers <= 0: GOMAXPROCS): one
// Crop per path, in path order. A file that fails does not stop the others.
// The goroutines together hold at most d.MaxPixels decoded pixels (by their
// headers) at a time, or one image alone when it is larger, so that memory stays
// that of one image at the limit (about 0.6 GB) whatever workers is: small
// photos decode in parallel, huge ones one after another.
func (d Decoder) LoadCrops(r Recipe, paths []string, workers int) []Crop {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([]Crop, len(paths))
	budget := newPixelBudget(d.maxPixels())
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(paths)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				img, err := d.loadCrop(r, paths[i], budget)
				out[i] = Crop{Img: img, Err: err, Took: time.Since(t0)}
			}
		}()
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// NCHW is the batch as the float32 tensor torchvision builds: [N, 3, InputSize, InputSize].
// It fails only for a Batch not made by LoadBatch whose crops have the wrong size.
func (b *Batch) NCHW() ([]float32, error) {
	per := b.Recipe.TensorLen()
	out := make([]float32, len(b.Crops)*per)
	for i, c := range b.Crops {
		if err := b.Recipe.Normalize(out[i*per:(i+1)*per], c); err != nil {
			return nil, fmt.Errorf("%w (batch item %d)", err, i)
		}
	}
	return out, nil
}

// NHWC is the batch as 8-bit crops, [N, InputSize, InputSize, 3] RGB: the input of a
// model that does ToTensor and Normalize itself. It fails like NCHW.
func (b *Batch) NHWC() ([]uint8, error) {
	s := b.Recipe.InputSize
	out := make([]uint8, len(b.Crops)*3*s*s)
	for i, c := range b.Crops {
		if c == nil || c.Width != s || c.Height != s || len(c.Pix) != 3*s*s {
			return nil, fmt.Errorf("preprocess: batch item %d is not a %dx%d RGB crop", i, s, s)
		}
		copy(out[i*3*s*s:], c.Pix)
	}
	return out, nil
}

// loadCrop reads path, waits until budget holds its header's pixel count, decodes,
// resizes and crops it, and gives the pixels back.
func (d Decoder) loadCrop(r Recipe, path string, budget *pixelBudget) (*RGB8, error) {
	data, err := d.readFile(path)
	if err != nil {
		return nil, err
	}
	n := budget.acquire(headerPixels(data))
	defer budget.release(n)
	img, err := d.DecodeBytes(data, path)
	if err != nil {
		return nil, err
	}
	return r.ResizeCrop(img)
}

// pixelBudget bounds the pixels that concurrent decoders hold: acquire waits until
// the request fits, release gives it back. A request larger than the whole budget
// waits for all of it. Requests are served in arrival order, so a large image is not
// overtaken forever by small ones.
type pixelBudget struct {
	gate        sync.Mutex // held by the one request waiting for room
	mu          sync.Mutex
	room        *sync.Cond
	free, total uint64
}

func newPixelBudget(total int64) *pixelBudget {
	b := &pixelBudget{free: uint64(total), total: uint64(total)}
	b.room = sync.NewCond(&b.mu)
	return b
}

// acquire takes n pixels (at most the total) and returns what it took.
func (b *pixelBudget) acquire(n uint64) uint64 {
	n = min(n, b.total)
	b.gate.Lock()
	defer b.gate.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.free < n {
		b.room.Wait()
	}
	b.free -= n
	return n
}

// release gives back n pixels taken by acquire.
func (b *pixelBudget) release(n uint64) {
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
	b.room.Broadcast()
}
