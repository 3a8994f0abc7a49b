package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/internal/benchgraph"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
)

// WorkerFlag is the argument by which a program tells itself, started
// as Options.Worker, to run RunWorker (`vimconvert bench --internal-worker
// SPEC`). It is not a user-facing flag.
const WorkerFlag = "--internal-worker"

// Inputs a worker feeds (workerSpec.Inputs).
const (
	inputsImage   = "image"    // pixel_values [batch, 3, img, img]
	inputsScan    = "scan"     // benchgraph.ScanInputNames on the model's shapes
	inputsLinAttn = "lin_attn" // benchgraph.LinearAttentionInputNames
)

// workerSpec is one measurement, passed to the worker as JSON.
type workerSpec struct {
	Kind       string  `json:"kind"` // "onnx" or "reference"
	Model      string  `json:"model,omitempty"`
	Plugin     bool    `json:"plugin,omitempty"`
	Inputs     string  `json:"inputs,omitempty"`
	InputName  string  `json:"input_name,omitempty"` // image input of a plain model ("" = graph.InputName)
	Source     string  `json:"source,omitempty"`     // reference: checkpoint or .onnx
	Weights    string  `json:"weights,omitempty"`
	ImgSize    int     `json:"img_size"`
	Batch      int     `json:"batch"`
	Threads    int     `json:"threads"`
	L          int     `json:"L,omitempty"`
	DInner     int     `json:"d_inner,omitempty"`
	DState     int     `json:"d_state,omitempty"`
	Warmup     int     `json:"warmup"`
	Runs       int     `json:"runs"`
	MaxSeconds float64 `json:"max_seconds"`
}

// workerResult is what a worker prints (one JSON line on stdout).
type workerResult struct {
	TimesMS   []float64 `json:"times_ms"`
	CPUMS     []float64 `json:"cpu_ms"` // process CPU time (user+system) of each timed run
	PeakRSSMB float64   `json:"peak_rss_mb"`
	Error     string    `json:"error,omitempty"`
}

// pool adds the runs of res to p, the runs pooled so far (nil: none),
// and returns the pooled result.
func (p *workerResult) pool(res *workerResult) *workerResult {
	if p == nil {
		return res
	}
	p.TimesMS = append(p.TimesMS, res.TimesMS...)
	p.CPUMS = append(p.CPUMS, res.CPUMS...)
	p.PeakRSSMB = max(p.PeakRSSMB, res.PeakRSSMB)
	return p
}

// RunWorker runs the measurement described by the JSON spec in args[0]
// (what Run appends to Options.Worker) and prints its result as one JSON
// line on stdout. A program that runs Run must call it when started as
// Options.Worker.
func RunWorker(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("bench worker: want one JSON argument, got %d", len(args))
	}
	var spec workerSpec
	if err := json.Unmarshal([]byte(args[0]), &spec); err != nil {
		return fmt.Errorf("bench worker: %w", err)
	}
	times, cpu, err := measure(spec)
	res := workerResult{TimesMS: times, CPUMS: cpu}
	if err != nil {
		res.Error = err.Error()
	}
	res.PeakRSSMB, _ = peakRSSMB()
	return json.NewEncoder(stdout).Encode(res)
}

// measure runs warm-up then timed runs; it stops after spec.Runs runs or
// once spec.MaxSeconds have been spent timing (but after at least 3 runs).
// It returns the wall-clock and the process CPU time of each timed run in ms.
func measure(spec workerSpec) (wall, cpu []float64, err error) {
	if spec.Batch < 1 || spec.Threads < 1 {
		return nil, nil, fmt.Errorf("batch %d and threads %d must be positive", spec.Batch, spec.Threads)
	}
	goruntime.GOMAXPROCS(spec.Threads)
	var step func() error
	switch spec.Kind {
	case "onnx":
		s, err := runtime.NewSession(spec.Model, runtime.Options{
			NoPlugin: !spec.Plugin, IntraOpThreads: spec.Threads, InterOpThreads: 1,
		})
		if err != nil {
			return nil, nil, err
		}
		defer s.Destroy()
		in, err := workerInputs(spec)
		if err != nil {
			return nil, nil, err
		}
		outs := s.OutputNames()[:1]
		step = func() error {
			_, err := s.RunOutputs(in, outs)
			return err
		}
	case "reference":
		m, err := LoadModel(spec.Source, spec.Weights)
		if err != nil {
			return nil, nil, err
		}
		if err := convert.ResizePosEmbed(m, spec.ImgSize); err != nil {
			return nil, nil, err
		}
		c := m.Config
		chans := max(c.InChans, 1)
		x := randomNormal(spec.Batch*chans*c.ImgSize*c.ImgSize, 1)
		shape := [4]int{spec.Batch, chans, c.ImgSize, c.ImgSize}
		step = func() error {
			_, err := verify.Forward(m, x, shape, verify.Options{Precision: verify.Float32, Workers: spec.Threads})
			return err
		}
	default:
		return nil, nil, fmt.Errorf("unknown worker kind %q", spec.Kind)
	}
	for i := 0; i < spec.Warmup; i++ {
		if err := step(); err != nil {
			return nil, nil, err
		}
	}
	start := time.Now()
	for len(wall) < max(spec.Runs, 1) {
		c0 := processCPUms()
		t0 := time.Now()
		if err := step(); err != nil {
			return wall, cpu, err
		}
		wall = append(wall, float64(time.Since(t0).Nanoseconds())/1e6)
		cpu = append(cpu, processCPUms()-c0)
		if len(wall) >= 3 && spec.MaxSeconds > 0 && time.Since(start).Seconds() > spec.MaxSeconds {
			break
		}
	}
	return wall, cpu, nil
}

// processCPUms returns the user+system CPU time of this process in ms.
func processCPUms() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

// workerInputs makes random inputs with realistic magnitudes for the model
// kinds bench builds.
func workerInputs(spec workerSpec) (map[string]*runtime.Tensor, error) {
	b, L, din, n := int64(spec.Batch), int64(spec.L), int64(spec.DInner), int64(spec.DState)
	in := map[string]*runtime.Tensor{}
	switch spec.Inputs {
	case inputsImage:
		img := int64(spec.ImgSize)
		name := graph.InputName
		if spec.InputName != "" {
			name = spec.InputName
		}
		in[name] = &runtime.Tensor{Shape: []int64{b, 3, img, img}, Data: randomNormal(int(b*3*img*img), 1)}
	case inputsScan:
		for i, name := range benchgraph.ScanInputNames {
			shape := benchgraph.ScanInputShape(name, b, L, din, n)
			size := 1
			for _, d := range shape {
				size *= int(d)
			}
			data := randomNormal(size, uint64(i+2))
			switch name {
			case "A_f", "A_b": // A = -exp(A_log), A_log ~ log(1..16) as initialised
				for j := range data {
					data[j] = -float32(1 + j%int(n))
				}
			case "delta_f", "delta_b", "delta_bias_f", "delta_bias_b":
				for j := range data {
					data[j] = 0.5*data[j] - 3 // softplus ≈ 0.05
				}
			}
			in[name] = &runtime.Tensor{Shape: shape, Data: data}
		}
	case inputsLinAttn:
		dec := randomNormal(int(b*L*din*n), 9)
		for j := range dec {
			dec[j] = -0.05 * float32(1+j%int(n)) * (1 + 0.1*dec[j]) // log-space decay dt·A < 0
		}
		in["query"] = &runtime.Tensor{Shape: []int64{b, L, n}, Data: randomNormal(int(b*L*n), 5)}
		in["key"] = &runtime.Tensor{Shape: []int64{b, L, n}, Data: randomNormal(int(b*L*n), 6)}
		in["value"] = &runtime.Tensor{Shape: []int64{b, L, din}, Data: randomNormal(int(b*L*din), 7)}
		in["decay"] = &runtime.Tensor{Shape: []int64{b, L, din * n}, Data: dec}
	default:
		return nil, fmt.Errorf("unknown worker inputs %q", spec.Inputs)
	}
	return in, nil
}

func randomNormal(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 0xbe9c))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

// peakRSSMB returns the process's peak resident set size (VmHWM) in MiB.
func peakRSSMB() (float64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) >= 1 {
				kb, err := strconv.ParseFloat(fields[0], 64)
				if err != nil {
					return 0, err
				}
				return kb / 1024, nil
			}
		}
	}
	return 0, errors.New("VmHWM not found in /proc/self/status")
}

// LoadModel loads a checkpoint (weights: convert.WeightsModel or
// convert.WeightsEMA), or reads back an ONNX file exported by vimconvert.
func LoadModel(path, weights string) (*convert.Model, error) {
	if onnxfile.IsModelPath(path) {
		return graph.ReadModel(path)
	}
	m, _, err := convert.Load(path, convert.Options{Weights: convert.Weights(weights)})
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	return m, nil
}

// quantile returns the q-quantile (0..1, linear interpolation) of xs
// without modifying it; NaN for an empty slice.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}
