package mambaout

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
)

// signatureKeys are the tensors every MambaOut state dict has, whatever its
// dims and depths: the stem's two convs, the first downsampling conv, the
// first block's fc1/conv/fc2, the output norm and the MlpHead's fc1/fc2.
var signatureKeys = []string{
	"downsample_layers.0.conv1.weight",
	"downsample_layers.0.conv2.weight",
	"downsample_layers.1.conv.weight",
	"stages.0.0.fc1.weight",
	"stages.0.0.conv.weight",
	"stages.0.0.fc2.weight",
	"norm.weight",
	"head.fc1.weight",
	"head.fc2.weight",
}

// Detect reports whether a state dict with these tensor names is a MambaOut
// one, and otherwise which of the keys every MambaOut state dict has are
// missing. A "module." prefix on every name is ignored. A state dict that
// Detect accepts may still fail Load (a wrong shape, an unknown key): Detect
// decides the architecture, Load checks every tensor.
func Detect(names []string) (ok bool, missing []string) {
	set := convert.KeySet(names)
	for _, k := range signatureKeys {
		if !set[k] {
			missing = append(missing, k)
		}
	}
	return len(missing) == 0, missing
}

// TimmPortHint returns, for tensor names of timm's own MambaOut port
// (timm.models.mambaout: stem.*, stages.{i}.blocks.{j}.*, as the timm hub
// weights are stored), a parenthesised note saying so for an error
// message, else "".
func TimmPortHint(names []string) string {
	set := convert.KeySet(names)
	if !set["stem.conv1.weight"] || !set["stages.0.blocks.0.fc1.weight"] {
		return ""
	}
	return " (its stem.* and stages.{i}.blocks.{j}.* names are those of timm's own MambaOut port, timm.models.mambaout, which vimconvert does not read: convert the official release, yuweihao/MambaOut)"
}

// indexOf parses the integer path component of a key ("stages.3.1.fc1" at
// position 1 is 3), rejecting anything but a canonical non-negative number.
func indexOf(key, part string) (int, error) {
	n, err := strconv.Atoi(part)
	if err != nil || n < 0 || n > 1<<16 || strconv.Itoa(n) != part {
		return 0, fmt.Errorf("tensor %s: index %q is not a number", key, part)
	}
	return n, nil
}

// stageLayout returns the number of stages and the blocks of each, from the
// downsample_layers.{i}.* and stages.{i}.{j}.* names. Indices must be
// contiguous from 0 and every stage needs a downsampling layer and a block.
func stageLayout(sd map[string]*convert.Tensor) (depths []int, err error) {
	down := map[int]bool{}
	blocks := map[int]map[int]bool{}
	for k := range sd {
		parts := strings.Split(k, ".")
		switch {
		case parts[0] == "downsample_layers" && len(parts) > 2:
			i, err := indexOf(k, parts[1])
			if err != nil {
				return nil, err
			}
			down[i] = true
		case parts[0] == "stages" && len(parts) > 3:
			i, err := indexOf(k, parts[1])
			if err != nil {
				return nil, err
			}
			j, err := indexOf(k, parts[2])
			if err != nil {
				return nil, err
			}
			if blocks[i] == nil {
				blocks[i] = map[int]bool{}
			}
			blocks[i][j] = true
		}
	}
	n := 0
	for i := range down {
		n = max(n, i+1)
	}
	for i := range blocks {
		n = max(n, i+1)
	}
	if n == 0 {
		return nil, fmt.Errorf("no downsample_layers.{i}.* or stages.{i}.{j}.* tensors: not a MambaOut state dict")
	}
	for i := 0; i < n; i++ {
		if !down[i] {
			return nil, fmt.Errorf("stage %d of %d has no downsample_layers.%d.* tensors", i, n, i)
		}
		if len(blocks[i]) == 0 {
			return nil, fmt.Errorf("stage %d of %d has no stages.%d.{j}.* tensors (no blocks)", i, n, i)
		}
		d := len(blocks[i])
		for j := 0; j < d; j++ {
			if !blocks[i][j] {
				return nil, fmt.Errorf("block indices of stage %d are not contiguous: stages.%d.%d is missing of %d blocks", i, i, j, d)
			}
		}
		depths = append(depths, d)
	}
	return depths, nil
}

// source is where a Config field can be read: dimension axis of tensor key
// (divided by div).
type source struct {
	key       string
	axis, div int
}

// dimFrom returns the first source present in sd. Several sources let a
// state dict that lacks one tensor still get a Config, so that mapTensors
// lists everything that is wrong at once.
func dimFrom(sd map[string]*convert.Tensor, what string, srcs ...source) (int, error) {
	for _, s := range srcs {
		t, ok := sd[s.key]
		if !ok {
			continue
		}
		if s.axis >= len(t.Shape) {
			return 0, fmt.Errorf("tensor %s has shape %v, want at least %d dimensions (needed for %s)", s.key, t.Shape, s.axis+1, what)
		}
		v := t.Shape[s.axis]
		if s.div > 1 {
			if v%s.div != 0 {
				return 0, fmt.Errorf("tensor %s has shape %v: dimension %d is not a multiple of %d (%s)", s.key, t.Shape, s.axis, s.div, what)
			}
			v /= s.div
		}
		if v < 1 {
			return 0, fmt.Errorf("%s is %d in tensor %s %v; a MambaOut needs at least 1", what, v, s.key, t.Shape)
		}
		return v, nil
	}
	keys := make([]string, len(srcs))
	for i, s := range srcs {
		keys[i] = s.key
	}
	return 0, fmt.Errorf("cannot infer %s: none of %s is in the state dict", what, strings.Join(keys, ", "))
}

// inferConfig derives the architecture from tensor names and shapes.
func inferConfig(sd map[string]*convert.Tensor) (Config, error) {
	c := Config{NormEps: 1e-6}
	depths, err := stageLayout(sd)
	if err != nil {
		return c, err
	}
	c.Depths = depths
	n := len(depths)
	get := func(dst *int, what string, srcs ...source) {
		if err == nil {
			*dst, err = dimFrom(sd, what, srcs...)
		}
	}
	get(&c.InChans, "in_chans", source{"downsample_layers.0.conv1.weight", 1, 1})
	get(&c.StemHidden, "the stem's hidden channels", source{"downsample_layers.0.conv1.weight", 0, 1},
		source{"downsample_layers.0.norm1.weight", 0, 1}, source{"downsample_layers.0.conv2.weight", 1, 1})
	c.Dims, c.Hidden, c.ConvChannels = make([]int, n), make([]int, n), make([]int, n)
	for i := 0; i < n; i++ {
		first := fmt.Sprintf("downsample_layers.%d.conv.weight", i)
		if i == 0 {
			first = "downsample_layers.0.conv2.weight"
		}
		b := fmt.Sprintf("stages.%d.0.", i)
		get(&c.Dims[i], fmt.Sprintf("dims[%d]", i), source{first, 0, 1}, source{b + "norm.weight", 0, 1}, source{b + "fc2.weight", 0, 1})
		get(&c.Hidden[i], fmt.Sprintf("the hidden size of stage %d", i), source{b + "fc2.weight", 1, 1}, source{b + "fc1.weight", 0, 2}, source{b + "fc1.bias", 0, 2})
		get(&c.ConvChannels[i], fmt.Sprintf("the conv channels of stage %d", i), source{b + "conv.weight", 0, 1}, source{b + "conv.bias", 0, 1})
	}
	get(&c.KernelSize, "the depthwise conv kernel size", source{"stages.0.0.conv.weight", 2, 1})
	get(&c.HeadHidden, "the head's hidden size", source{"head.fc1.weight", 0, 1}, source{"head.fc1.bias", 0, 1}, source{"head.norm.weight", 0, 1})
	get(&c.NumClasses, "num_classes", source{"head.fc2.weight", 0, 1}, source{"head.fc2.bias", 0, 1})
	if err != nil {
		return c, err
	}
	for i := range c.Hidden {
		if c.ConvChannels[i] > c.Hidden[i] {
			return c, fmt.Errorf("stage %d: the conv has %d channels but the hidden size is %d; the block splits fc1's output into (hidden, hidden - conv channels, conv channels)", i, c.ConvChannels[i], c.Hidden[i])
		}
	}
	if c.KernelSize%2 == 0 {
		return c, fmt.Errorf("the depthwise conv kernel is %d (even): padding kernel//2 would change the size", c.KernelSize)
	}
	return c, nil
}

// FromStateDict infers the configuration of a MambaOut state dict (names
// without a "module." prefix) and maps every tensor. A state dict that is
// not MambaOut's, or that has missing, unexpected or wrong-shape tensors,
// is an error naming all of them.
func FromStateDict(sd map[string]*convert.Tensor) (*Model, error) {
	names := make([]string, 0, len(sd))
	for k := range sd {
		names = append(names, k)
	}
	if ok, missing := Detect(names); !ok {
		sort.Strings(missing)
		return nil, fmt.Errorf("not a MambaOut state dict: it lacks %s%s", strings.Join(missing, ", "), TimmPortHint(names))
	}
	c, err := inferConfig(sd)
	if err != nil {
		return nil, err
	}
	return mapTensors(sd, c)
}
