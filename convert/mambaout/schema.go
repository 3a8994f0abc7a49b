package mambaout

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
)

// This file is the MambaOut schema: one exact table from the official
// state-dict keys (mambaout.py at 9f2f234) to the Model fields, with their
// shapes as functions of the Config. Every reader of a MambaOut model
// (inference, mapping, Detect, the graph and the reference) goes through it.

// scope says how often a row of the table repeats.
type scope int

const (
	scopeModel      scope = iota // once
	scopeDownsample              // {i} = 1 .. NumStages-1
	scopeBlock                   // {i} = stage, {j} = block within the stage
)

// tensorSpec is one row of the name table: the official key with "{i}" and
// "{j}" placeholders, where the tensor goes and its shape.
type tensorSpec struct {
	key   string
	scope scope
	slot  func(m *Model, i, j int) **convert.Tensor
	shape func(c *Config, i int) []int
}

func vec(n int) []int { return []int{n} }

// nameTable lists every tensor of a MambaOut state dict.
var nameTable = []tensorSpec{
	// StemLayer (41-75)
	{"downsample_layers.0.conv1.weight", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.Stem.Conv1W },
		func(c *Config, _ int) []int { return []int{c.StemHidden, c.InChans, 3, 3} }},
	{"downsample_layers.0.conv1.bias", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.Stem.Conv1B },
		func(c *Config, _ int) []int { return vec(c.StemHidden) }},
	{"downsample_layers.0.norm1.weight", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.Stem.Norm1W },
		func(c *Config, _ int) []int { return vec(c.StemHidden) }},
	{"downsample_layers.0.norm1.bias", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.Stem.Norm1B },
		func(c *Config, _ int) []int { return vec(c.StemHidden) }},
	{"downsample_layers.0.conv2.weight", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.Stem.Conv2W },
		func(c *Config, _ int) []int { return []int{c.Dims[0], c.StemHidden, 3, 3} }},
	{"downsample_layers.0.conv2.bias", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.Stem.Conv2B },
		func(c *Config, _ int) []int { return vec(c.Dims[0]) }},
	{"downsample_layers.0.norm2.weight", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.Stem.Norm2W },
		func(c *Config, _ int) []int { return vec(c.Dims[0]) }},
	{"downsample_layers.0.norm2.bias", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.Stem.Norm2B },
		func(c *Config, _ int) []int { return vec(c.Dims[0]) }},
	// DownsampleLayer (78-94)
	{"downsample_layers.{i}.conv.weight", scopeDownsample, func(m *Model, i, _ int) **convert.Tensor { return &m.Downsamples[i-1].ConvW },
		func(c *Config, i int) []int { return []int{c.Dims[i], c.Dims[i-1], 3, 3} }},
	{"downsample_layers.{i}.conv.bias", scopeDownsample, func(m *Model, i, _ int) **convert.Tensor { return &m.Downsamples[i-1].ConvB },
		func(c *Config, i int) []int { return vec(c.Dims[i]) }},
	{"downsample_layers.{i}.norm.weight", scopeDownsample, func(m *Model, i, _ int) **convert.Tensor { return &m.Downsamples[i-1].NormW },
		func(c *Config, i int) []int { return vec(c.Dims[i]) }},
	{"downsample_layers.{i}.norm.bias", scopeDownsample, func(m *Model, i, _ int) **convert.Tensor { return &m.Downsamples[i-1].NormB },
		func(c *Config, i int) []int { return vec(c.Dims[i]) }},
	// GatedCNNBlock (119-152)
	{"stages.{i}.{j}.norm.weight", scopeBlock, func(m *Model, i, j int) **convert.Tensor { return &m.Stages[i][j].NormW },
		func(c *Config, i int) []int { return vec(c.Dims[i]) }},
	{"stages.{i}.{j}.norm.bias", scopeBlock, func(m *Model, i, j int) **convert.Tensor { return &m.Stages[i][j].NormB },
		func(c *Config, i int) []int { return vec(c.Dims[i]) }},
	{"stages.{i}.{j}.fc1.weight", scopeBlock, func(m *Model, i, j int) **convert.Tensor { return &m.Stages[i][j].FC1W },
		func(c *Config, i int) []int { return []int{2 * c.Hidden[i], c.Dims[i]} }},
	{"stages.{i}.{j}.fc1.bias", scopeBlock, func(m *Model, i, j int) **convert.Tensor { return &m.Stages[i][j].FC1B },
		func(c *Config, i int) []int { return vec(2 * c.Hidden[i]) }},
	{"stages.{i}.{j}.conv.weight", scopeBlock, func(m *Model, i, j int) **convert.Tensor { return &m.Stages[i][j].ConvW },
		func(c *Config, i int) []int { return []int{c.ConvChannels[i], 1, c.KernelSize, c.KernelSize} }},
	{"stages.{i}.{j}.conv.bias", scopeBlock, func(m *Model, i, j int) **convert.Tensor { return &m.Stages[i][j].ConvB },
		func(c *Config, i int) []int { return vec(c.ConvChannels[i]) }},
	{"stages.{i}.{j}.fc2.weight", scopeBlock, func(m *Model, i, j int) **convert.Tensor { return &m.Stages[i][j].FC2W },
		func(c *Config, i int) []int { return []int{c.Dims[i], c.Hidden[i]} }},
	{"stages.{i}.{j}.fc2.bias", scopeBlock, func(m *Model, i, j int) **convert.Tensor { return &m.Stages[i][j].FC2B },
		func(c *Config, i int) []int { return vec(c.Dims[i]) }},
	// output norm (forward_features 247-251) and MlpHead (97-116)
	{"norm.weight", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.NormW },
		func(c *Config, _ int) []int { return vec(c.lastDim()) }},
	{"norm.bias", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.NormB },
		func(c *Config, _ int) []int { return vec(c.lastDim()) }},
	{"head.fc1.weight", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.HeadFC1W },
		func(c *Config, _ int) []int { return []int{c.HeadHidden, c.lastDim()} }},
	{"head.fc1.bias", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.HeadFC1B },
		func(c *Config, _ int) []int { return vec(c.HeadHidden) }},
	{"head.norm.weight", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.HeadNormW },
		func(c *Config, _ int) []int { return vec(c.HeadHidden) }},
	{"head.norm.bias", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.HeadNormB },
		func(c *Config, _ int) []int { return vec(c.HeadHidden) }},
	{"head.fc2.weight", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.HeadFC2W },
		func(c *Config, _ int) []int { return []int{c.NumClasses, c.HeadHidden} }},
	{"head.fc2.bias", scopeModel, func(m *Model, _, _ int) **convert.Tensor { return &m.HeadFC2B },
		func(c *Config, _ int) []int { return vec(c.NumClasses) }},
}

func (c *Config) lastDim() int { return c.Dims[len(c.Dims)-1] }

// specKey fills the {i} and {j} placeholders of a table key.
func specKey(key string, i, j int) string {
	key = strings.ReplaceAll(key, "{i}", strconv.Itoa(i))
	return strings.ReplaceAll(key, "{j}", strconv.Itoa(j))
}

// forEachSpec calls fn for every (row, i, j) the configuration has, in
// table order: the key with its placeholders filled in and the shape.
func forEachSpec(c *Config, fn func(s tensorSpec, key string, i, j int)) {
	for _, s := range nameTable {
		switch s.scope {
		case scopeModel:
			fn(s, s.key, 0, 0)
		case scopeDownsample:
			for i := 1; i < c.NumStages(); i++ {
				fn(s, specKey(s.key, i, 0), i, 0)
			}
		case scopeBlock:
			for i := 0; i < c.NumStages(); i++ {
				for j := 0; j < c.Depths[i]; j++ {
					fn(s, specKey(s.key, i, j), i, j)
				}
			}
		}
	}
}

// TensorShape is one tensor a model of a given Config has.
type TensorShape struct {
	Name  string // official state-dict key
	Shape []int  // official PyTorch shape
}

// Schema returns every tensor a model of configuration c has, in table
// order, with its shape.
func Schema(c *Config) []TensorShape {
	var out []TensorShape
	forEachSpec(c, func(s tensorSpec, key string, i, _ int) {
		out = append(out, TensorShape{Name: key, Shape: s.shape(c, i)})
	})
	return out
}

// TensorNames returns every state-dict key a model of configuration c has,
// in table order.
func TensorNames(c *Config) []string {
	var names []string
	for _, t := range Schema(c) {
		names = append(names, t.Name)
	}
	return names
}

// mapTensors places every tensor of sd into a new Model of configuration c.
// Missing, unexpected and wrong-shape tensors are all listed in one error.
func mapTensors(sd map[string]*convert.Tensor, c Config) (*Model, error) {
	m := &Model{Config: c, Downsamples: make([]Downsample, c.NumStages()-1), Stages: make([][]Block, c.NumStages())}
	for i, d := range c.Depths {
		m.Stages[i] = make([]Block, d)
	}
	used := make(map[string]bool, len(sd))
	var missing, badShape []string
	forEachSpec(&c, func(s tensorSpec, key string, i, j int) {
		t, ok := sd[key]
		if !ok {
			missing = append(missing, key)
			return
		}
		used[key] = true
		if want := s.shape(&c, i); !slices.Equal(t.Shape, want) {
			badShape = append(badShape, fmt.Sprintf("%s %v (want %v)", key, t.Shape, want))
			return
		}
		*s.slot(m, i, j) = t
	})
	var unexpected []string
	for k := range sd {
		if !used[k] {
			unexpected = append(unexpected, k)
		}
	}
	if len(missing)+len(unexpected)+len(badShape) == 0 {
		return m, nil
	}
	return nil, fmt.Errorf("state dict does not match a MambaOut (dims %v, depths %v): %s",
		c.Dims, c.Depths, convert.MismatchSummary(missing, unexpected, badShape))
}

// Check verifies that m is consistent: every tensor of the name table is
// set, with the shape its Config gives and as many values as that shape.
// Models from Load pass; it guards hand-built or modified ones.
func (m *Model) Check() error {
	c := &m.Config
	if c.NumStages() == 0 || len(c.Depths) != c.NumStages() || len(c.Hidden) != c.NumStages() || len(c.ConvChannels) != c.NumStages() {
		return fmt.Errorf("mambaout: config has %d dims, %d depths, %d hidden sizes, %d conv widths; want one per stage",
			len(c.Dims), len(c.Depths), len(c.Hidden), len(c.ConvChannels))
	}
	if len(m.Downsamples) != c.NumStages()-1 || len(m.Stages) != c.NumStages() {
		return fmt.Errorf("mambaout: model has %d downsampling layers and %d stages for %d stages in its config", len(m.Downsamples), len(m.Stages), c.NumStages())
	}
	for i, d := range c.Depths {
		if len(m.Stages[i]) != d {
			return fmt.Errorf("mambaout: stage %d has %d blocks, its config says %d", i, len(m.Stages[i]), d)
		}
	}
	var err error
	forEachSpec(c, func(s tensorSpec, key string, i, j int) {
		if err != nil {
			return
		}
		t := *s.slot(m, i, j)
		switch want := s.shape(c, i); {
		case t == nil:
			err = fmt.Errorf("mambaout: tensor %s is not set", key)
		case !slices.Equal(t.Shape, want):
			err = fmt.Errorf("mambaout: tensor %s has shape %v, want %v", key, t.Shape, want)
		case len(t.Data) != t.NumElements():
			err = fmt.Errorf("mambaout: tensor %s has %d values for shape %v", key, len(t.Data), t.Shape)
		}
	})
	return err
}
