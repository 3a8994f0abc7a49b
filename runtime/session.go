package runtime

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/ops"
)

// Tensor is a dense float32 tensor in row-major order, owned by Go.
type Tensor struct {
	Shape []int64
	Data  []float32
	// Bytes, when not nil, holds an input's values instead of Data, for a
	// uint8 (ONNX element type 2) input such as a uint8-nhwc image.
	Bytes []uint8
}

// NumElements returns the product of Shape (1 for a scalar).
func (t *Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Session is an ONNX Runtime inference session over one model file with the
// vimconvert plugin registered. Inputs may change shape between runs (the
// batch dimension is free). A Session holds native ORT memory: the caller that
// got it from NewSession must call Destroy exactly once when done. Run may be
// called from several goroutines; Destroy waits for running calls to finish.
type Session struct {
	path    string
	info    *ModelInfo
	inNames []string
	outName []string

	mu   sync.RWMutex // Run holds it shared, Destroy exclusively
	sess *ort.DynamicAdvancedSession
}

// NewSession loads the ONNX model at modelPath. It calls Init(opts.LibraryPath)
// first, registers the plugin (opts.PluginPath or DefaultPluginPath(), unless
// opts.NoPlugin) and applies the thread counts. The caller must Destroy the
// returned Session.
func NewSession(modelPath string, opts Options) (*Session, error) {
	if err := Init(opts.LibraryPath); err != nil {
		return nil, err
	}
	data, mp, err := onnxfile.Read(modelPath)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	// The plugin's own attribute check refuses an unknown attribute (a
	// typo of divide_out) when the session is made; this check names the
	// node's place in the file too, and also runs where the plugin cannot
	// (a runtime older than ORT 1.23, or NoPlugin).
	if err := ops.CheckAttributes(data); err != nil {
		return nil, fmt.Errorf("runtime: %s: %w", modelPath, err)
	}
	info := ModelInfoOf(mp)
	if len(info.Inputs) == 0 || len(info.Outputs) == 0 {
		return nil, fmt.Errorf("runtime: %s declares %d inputs and %d outputs; need at least one of each",
			modelPath, len(info.Inputs), len(info.Outputs))
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("runtime: session options: %w", err)
	}
	defer so.Destroy()
	if !opts.NoPlugin {
		plugin := opts.PluginPath
		if plugin == "" {
			plugin = DefaultPluginPath()
		}
		if plugin == "" {
			return nil, fmt.Errorf("%w: no path (%s)", ErrPluginMissing, PluginAdvice("", false))
		}
		if _, err := os.Stat(plugin); err != nil {
			return nil, fmt.Errorf("%w at %s (%s): %w", ErrPluginMissing, plugin, PluginAdvice(plugin, false), err)
		}
		if err := so.RegisterCustomOpsLibrary(plugin); err != nil {
			return nil, fmt.Errorf("runtime: registering plugin %s: %w", plugin, err)
		}
	}
	if opts.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(opts.IntraOpThreads); err != nil {
			return nil, fmt.Errorf("runtime: intra-op threads %d: %w", opts.IntraOpThreads, err)
		}
	}
	if opts.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(opts.InterOpThreads); err != nil {
			return nil, fmt.Errorf("runtime: inter-op threads %d: %w", opts.InterOpThreads, err)
		}
	}
	s := &Session{path: modelPath, info: info}
	for _, v := range info.Inputs {
		s.inNames = append(s.inNames, v.Name)
	}
	for _, v := range info.Outputs {
		s.outName = append(s.outName, v.Name)
	}
	sess, err := ort.NewDynamicAdvancedSession(modelPath, s.inNames, s.outName, so)
	if err != nil {
		return nil, fmt.Errorf("runtime: creating session for %s: %w", modelPath, opsetTooNew(mp, err))
	}
	s.sess = sess
	return s, nil
}

// Path returns the model file the session was created from.
func (s *Session) Path() string { return s.path }

// Info returns the declared inputs/outputs of the model. Do not modify it.
func (s *Session) Info() *ModelInfo { return s.info }

// InputNames returns the graph input names in declaration order.
func (s *Session) InputNames() []string { return append([]string(nil), s.inNames...) }

// OutputNames returns the graph output names in declaration order.
func (s *Session) OutputNames() []string { return append([]string(nil), s.outName...) }

// Run feeds inputs (one per graph input, by name) and returns every graph
// output by name. The inputs are not modified; the outputs are fresh Go
// memory owned by the caller.
func (s *Session) Run(inputs map[string]*Tensor) (map[string]*Tensor, error) {
	return s.RunOutputs(inputs, nil)
}

// RunOutputs is Run restricted to the named outputs (nil = all outputs).
func (s *Session) RunOutputs(inputs map[string]*Tensor, outputs []string) (map[string]*Tensor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess := s.sess
	if sess == nil {
		return nil, errors.New("runtime: Run on a destroyed Session")
	}
	for name := range inputs {
		found := false
		for _, n := range s.inNames {
			found = found || n == name
		}
		if !found {
			return nil, fmt.Errorf("runtime: unknown input %q (model inputs: %v)", name, s.inNames)
		}
	}
	in := make([]ort.Value, len(s.inNames))
	defer func() {
		for _, v := range in {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, name := range s.inNames {
		t, ok := inputs[name]
		if !ok || t == nil {
			return nil, fmt.Errorf("runtime: missing input %q", name)
		}
		if err := checkShape(name, t, s.info.Inputs[i]); err != nil {
			return nil, err
		}
		// ORT reads t.Data in place (no copy); checkShape made sure it
		// holds exactly the shape's element count.
		var v ort.Value
		var err error
		if t.Bytes != nil {
			v, err = ort.NewTensor(ort.NewShape(t.Shape...), t.Bytes)
		} else {
			v, err = ort.NewTensor(ort.NewShape(t.Shape...), t.Data)
		}
		if err != nil {
			return nil, fmt.Errorf("runtime: input %q: %w", name, err)
		}
		in[i] = v
	}
	want := s.outName
	if outputs != nil {
		want = outputs
	}
	outVals := make([]ort.Value, len(s.outName))
	defer func() {
		for _, v := range outVals {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	if err := sess.Run(in, outVals); err != nil {
		return nil, fmt.Errorf("runtime: running %s: %w", s.path, err)
	}
	res := make(map[string]*Tensor, len(want))
	for _, name := range want {
		idx := -1
		for i, n := range s.outName {
			if n == name {
				idx = i
			}
		}
		if idx < 0 {
			names := append([]string(nil), s.outName...)
			sort.Strings(names)
			return nil, fmt.Errorf("runtime: unknown output %q (model outputs: %v)", name, names)
		}
		ft, ok := outVals[idx].(*ort.Tensor[float32])
		if !ok {
			return nil, fmt.Errorf("runtime: output %q is %T, want a float32 tensor", name, outVals[idx])
		}
		shape := ft.GetShape()
		res[name] = &Tensor{
			Shape: append([]int64(nil), shape...),
			Data:  append([]float32(nil), ft.GetData()...),
		}
	}
	return res, nil
}

func checkShape(name string, t *Tensor, vi ValueInfo) error {
	n, elem := int64(len(t.Data)), 1
	if t.Bytes != nil {
		n, elem = int64(len(t.Bytes)), 2
	}
	if vi.ElemType != 0 && vi.ElemType != elem {
		return fmt.Errorf("runtime: input %q takes %s (ONNX element type %d), but %s data was given", name, elemName(vi.ElemType), vi.ElemType, elemName(elem))
	}
	if vi.Shape != nil && len(vi.Shape) != len(t.Shape) {
		return fmt.Errorf("runtime: input %q has rank %d (shape %v), model wants rank %d %v",
			name, len(t.Shape), t.Shape, len(vi.Shape), vi.Shape)
	}
	for i, d := range t.Shape {
		if d <= 0 {
			return fmt.Errorf("runtime: input %q: dimension %d is %d, must be positive", name, i, d)
		}
		if vi.Shape != nil && vi.Shape[i] > 0 && vi.Shape[i] != d {
			hint := ""
			if len(t.Shape) == 4 && i == 1 {
				hint = convert.ChannelsLastHint([]int{int(t.Shape[0]), int(d), int(t.Shape[2]), int(t.Shape[3])}, int(vi.Shape[1]))
			}
			return fmt.Errorf("runtime: input %q: dimension %d is %d, model wants %d (shape %v)%s",
				name, i, d, vi.Shape[i], vi.Shape, hint)
		}
	}
	if want := t.NumElements(); n != want {
		return fmt.Errorf("runtime: input %q: shape %v needs %d values, got %d", name, t.Shape, want, n)
	}
	return nil
}

// Destroy releases the native session. It is safe to call more than once;
// the Session cannot be used afterwards.
func (s *Session) Destroy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil {
		return nil
	}
	err := s.sess.Destroy()
	s.sess = nil
	if err != nil {
		return fmt.Errorf("runtime: destroying session: %w", err)
	}
	return nil
}

// elemName names the ONNX element types a Tensor can hold.
func elemName(t int) string {
	switch t {
	case 1:
		return "float32"
	case 2:
		return "uint8"
	}
	return fmt.Sprintf("element type %d", t)
}

// ortMaxOpset finds the last opset ONNX Runtime names when it refuses a
// model stamped with a newer one ("... support for domain ai.onnx is till
// opset 26.").
var ortMaxOpset = regexp.MustCompile(`support for domain ai\.onnx is till opset (\d+)`)

// opsetTooNew returns err, prefixed with a sentence naming the model's
// opset and the last one the loaded ONNX Runtime runs when that is why ORT
// refused the model (an --opset 27 export, which no released ORT runs yet).
func opsetTooNew(mp *onnxpb.ModelProto, err error) error {
	m := ortMaxOpset.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	opset := int64(0)
	for _, o := range mp.GetOpsetImport() {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			opset = o.GetVersion()
		}
	}
	return fmt.Errorf("the model is ONNX opset %d, but ONNX Runtime %s runs models up to opset %s only (an --opset 27 export is for runtimes to come; convert with the default opset to run it now): %w",
		opset, Version(), m[1], err)
}
