package mambaout_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/internal/testutil"
)

// synthGolden is fixtures/mambaout_synthetic/golden.json (written by
// make_mambaout_synthetic.py with real PyTorch).
type synthGolden struct {
	Config struct {
		Dims         []int `json:"dims"`
		Depths       []int `json:"depths"`
		Hidden       []int `json:"hidden"`
		ConvChannels []int `json:"conv_channels"`
		KernelSize   int   `json:"kernel_size"`
		HeadHidden   int   `json:"head_hidden"`
		NumClasses   int   `json:"num_classes"`
		StemHidden   int   `json:"stem_hidden"`
		InChans      int   `json:"in_chans"`
	} `json:"config"`
	Files map[string]struct {
		Layout         string `json:"layout"`
		DType          string `json:"dtype"`
		StrippedPrefix string `json:"stripped_prefix"`
		Weights        string `json:"weights"` // the weight set described (and loaded)
		Tensors        map[string]struct {
			Shape  []int  `json:"shape"`
			SHA256 string `json:"sha256"`
		} `json:"tensors"`
	} `json:"files"`
}

func synthPath(name string) string { return repo.Fixture("mambaout_synthetic", name) }

func loadGolden(t *testing.T) *synthGolden {
	t.Helper()
	var g synthGolden
	testutil.ReadJSON(t, synthPath("golden.json"), &g)
	if len(g.Files) == 0 {
		t.Fatal("golden.json lists no files")
	}
	return &g
}

// modelTensors returns every tensor of m by its state-dict name.
func modelTensors(m *mambaout.Model) map[string]*convert.Tensor {
	out := map[string]*convert.Tensor{}
	add := func(ts ...*convert.Tensor) {
		for _, t := range ts {
			out[t.Name] = t
		}
	}
	s := &m.Stem
	add(s.Conv1W, s.Conv1B, s.Norm1W, s.Norm1B, s.Conv2W, s.Conv2B, s.Norm2W, s.Norm2B)
	for _, d := range m.Downsamples {
		add(d.ConvW, d.ConvB, d.NormW, d.NormB)
	}
	for _, st := range m.Stages {
		for _, b := range st {
			add(b.NormW, b.NormB, b.FC1W, b.FC1B, b.ConvW, b.ConvB, b.FC2W, b.FC2B)
		}
	}
	add(m.NormW, m.NormB, m.HeadFC1W, m.HeadFC1B, m.HeadNormW, m.HeadNormB, m.HeadFC2W, m.HeadFC2B)
	return out
}

// TestLoadSynthetic loads every torch-made layout (bare, timm training
// checkpoint, "module." prefix, fp16, the EMA set of a timm training
// checkpoint) and checks the layout, the inferred
// config and every tensor's values against golden.json.
func TestLoadSynthetic(t *testing.T) {
	g := loadGolden(t)
	for name, want := range g.Files {
		t.Run(name, func(t *testing.T) {
			m, info, err := mambaout.Load(synthPath(name), mambaout.Options{Weights: convert.Weights(want.Weights)})
			if err != nil {
				t.Fatal(err)
			}
			if string(info.Weights) != want.Weights {
				t.Errorf("weights %q, want %q", info.Weights, want.Weights)
			}
			if info.Layout != want.Layout || info.DType != want.DType || info.StrippedPrefix != want.StrippedPrefix {
				t.Errorf("layout %q dtype %q prefix %q, want %q %q %q", info.Layout, info.DType, info.StrippedPrefix, want.Layout, want.DType, want.StrippedPrefix)
			}
			c := m.Config
			wc := g.Config
			got := fmt.Sprint(c.Dims, c.Depths, c.Hidden, c.ConvChannels, c.KernelSize, c.HeadHidden, c.NumClasses, c.StemHidden, c.InChans)
			exp := fmt.Sprint(wc.Dims, wc.Depths, wc.Hidden, wc.ConvChannels, wc.KernelSize, wc.HeadHidden, wc.NumClasses, wc.StemHidden, wc.InChans)
			if got != exp {
				t.Errorf("config %s, want %s", got, exp)
			}
			if c.NormEps != 1e-6 {
				t.Errorf("norm eps %g, want 1e-6", c.NormEps)
			}
			tensors := modelTensors(m)
			if len(tensors) != len(want.Tensors) || info.TensorCount != len(want.Tensors) {
				t.Errorf("%d tensors mapped, %d read, want %d", len(tensors), info.TensorCount, len(want.Tensors))
			}
			for k, wt := range want.Tensors {
				k = strings.TrimPrefix(k, want.StrippedPrefix)
				tt := tensors[k]
				if tt == nil {
					t.Errorf("tensor %s not mapped", k)
					continue
				}
				if fmt.Sprint(tt.Shape) != fmt.Sprint(wt.Shape) || testutil.SHA256Float32(tt.Data) != wt.SHA256 {
					t.Errorf("tensor %s: shape %v, values differ from torch's .float() (sha256)", k, tt.Shape)
				}
			}
			if want.DType == "float16" && !containsSub(info.Assumed, "float16 weights upcast to float32") {
				t.Errorf("assumed %q: the fp16 upcast is not noted", info.Assumed)
			}
			if !containsSub(info.Assumed, "eps 1e-6") {
				t.Errorf("assumed %q: the LayerNorm eps is not noted", info.Assumed)
			}
			if want.Layout == "training" && !containsSub(info.Ignored, "optimizer") {
				t.Errorf("ignored %q: optimizer not listed", info.Ignored)
			}
			if info.Variant != "" || !strings.Contains(info.VariantNote, "closest is mambaout_femto") {
				t.Errorf("variant %q note %q: toy dims match no registered model", info.Variant, info.VariantNote)
			}
		})
	}
}

// TestLoadEMA checks the weight sets of timm training checkpoints: without
// --weights the trained state_dict is read (state_dict_ema listed as the
// other set), with model_ema the state_dict_ema, and a checkpoint without
// an EMA set is refused with what it holds.
func TestLoadEMA(t *testing.T) {
	g := loadGolden(t)
	m, info, err := mambaout.Load(synthPath("training_ema.pth"), mambaout.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info.WeightsKey != "state_dict" || !containsSub(info.Ignored, "state_dict_ema") || !containsSub(info.Ignored, "other weight set") {
		t.Errorf("default weights: key %q, ignored %q; want state_dict, with state_dict_ema as the other set", info.WeightsKey, info.Ignored)
	}
	const probe = "stages.2.1.fc1.weight"
	if got := testutil.SHA256Float32(modelTensors(m)[probe].Data); got != g.Files["training.pth"].Tensors[probe].SHA256 {
		t.Errorf("default weights of training_ema.pth: %s is not the state_dict's", probe)
	}
	m, info, err = mambaout.Load(synthPath("training_ema.pth"), mambaout.Options{Weights: convert.WeightsEMA})
	if err != nil {
		t.Fatal(err)
	}
	got := testutil.SHA256Float32(modelTensors(m)[probe].Data)
	if info.WeightsKey != "state_dict_ema" || got != g.Files["training_ema.pth"].Tensors[probe].SHA256 || got == g.Files["training.pth"].Tensors[probe].SHA256 {
		t.Errorf("model_ema: key %q, %s not the state_dict_ema's", info.WeightsKey, probe)
	}
	_, _, err = mambaout.Load(synthPath("training.pth"), mambaout.Options{Weights: convert.WeightsEMA})
	for _, want := range []string{"--weights model_ema is not in this checkpoint", "no model_ema or state_dict_ema entry", "available: state_dict"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("model_ema of a checkpoint without one: err = %v, want it to say %q", err, want)
		}
	}
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestLoadFixtures loads the official-code fixtures: the registered femto
// is recognised by name, the depth (1, 1, 2, 1) one is not.
func TestLoadFixtures(t *testing.T) {
	tests := []struct {
		dir, variant, note string
	}{
		{"mambaout_femto", "mambaout_femto", ""},
		{"mambaout_femto_d1121", "", "closest is mambaout_femto with depths [1 1 2 1] instead of [3 3 9 3]"},
	}
	for _, tc := range tests {
		p := repo.SharedFixture("mambaout", tc.dir, "checkpoint.pth")
		if p == "" {
			t.Skipf("shared fixture mambaout/%s absent (../shared/fixtures not checked out)", tc.dir)
		}
		m, info, err := mambaout.Load(p, mambaout.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if info.Variant != tc.variant || !strings.Contains(info.VariantNote, tc.note) || (tc.note == "") != (info.VariantNote == "") {
			t.Errorf("%s: variant %q note %q, want %q %q", tc.dir, info.Variant, info.VariantNote, tc.variant, tc.note)
		}
		if info.Layout != "bare" || m.Config.NumClasses != 1000 || m.Config.HeadHidden != 1152 {
			t.Errorf("%s: layout %q, classes %d, head hidden %d", tc.dir, info.Layout, m.Config.NumClasses, m.Config.HeadHidden)
		}
	}
}

// readBare returns a fresh copy of the synthetic bare state dict.
func readBare(t *testing.T) map[string]*convert.Tensor {
	t.Helper()
	sd, _, err := convert.ReadStateDict(synthPath("bare.pth"), "")
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// TestBadStateDicts checks that a state dict that is not a well-formed
// MambaOut gives one clear error naming every problem, like Vim's table.
func TestBadStateDicts(t *testing.T) {
	tests := []struct {
		reason string
		edit   func(sd map[string]*convert.Tensor)
		want   []string
	}{
		{"a block tensor is missing", func(sd map[string]*convert.Tensor) { delete(sd, "stages.2.1.fc2.bias") },
			[]string{"state dict does not match a MambaOut (dims [6 12 18 24], depths [1 1 2 1])", "missing 1: stages.2.1.fc2.bias"}},
		{"a tensor has the wrong shape", func(sd map[string]*convert.Tensor) {
			sd["head.norm.bias"] = &convert.Tensor{Name: "head.norm.bias", Shape: []int{95}, Data: make([]float32, 95)}
		}, []string{"wrong shape 1: head.norm.bias [95] (want [96])"}},
		{"an unknown key", func(sd map[string]*convert.Tensor) {
			sd["head.fc3.weight"] = &convert.Tensor{Name: "head.fc3.weight", Shape: []int{1}, Data: make([]float32, 1)}
		}, []string{"unexpected 1: head.fc3.weight"}},
		{"all three at once, in one error", func(sd map[string]*convert.Tensor) {
			delete(sd, "norm.bias")
			sd["stages.0.0.gamma"] = &convert.Tensor{Name: "stages.0.0.gamma", Shape: []int{6}, Data: make([]float32, 6)}
			sd["stages.1.0.conv.bias"] = &convert.Tensor{Name: "stages.1.0.conv.bias", Shape: []int{11}, Data: make([]float32, 11)}
		}, []string{"missing 1: norm.bias", "unexpected 1: stages.0.0.gamma", "wrong shape 1: stages.1.0.conv.bias [11] (want [12])"}},
		{"a whole block is missing", func(sd map[string]*convert.Tensor) {
			for k := range sd {
				if strings.HasPrefix(k, "stages.2.0.") {
					delete(sd, k)
				}
			}
		}, []string{"block indices of stage 2 are not contiguous: stages.2.0 is missing of 1 blocks"}},
		{"a stage index that is not a number", func(sd map[string]*convert.Tensor) {
			sd["stages.x.0.fc1.weight"] = sd["stages.0.0.fc1.weight"]
		}, []string{`tensor stages.x.0.fc1.weight: index "x" is not a number`}},
		{"the downsampling conv of a stage is gone", func(sd map[string]*convert.Tensor) {
			delete(sd, "downsample_layers.2.conv.weight")
		}, []string{"missing 1: downsample_layers.2.conv.weight"}},
		{"a signature tensor is gone", func(sd map[string]*convert.Tensor) { delete(sd, "head.fc1.weight") },
			[]string{"not a MambaOut state dict: it lacks head.fc1.weight"}},
		{"timm's own port renames every tensor", func(sd map[string]*convert.Tensor) {
			var keys []string
			for k := range sd {
				keys = append(keys, k)
			}
			for _, k := range keys {
				v := sd[k]
				delete(sd, k)
				k = strings.Replace(k, "downsample_layers.0.", "stem.", 1)
				if rest, ok := strings.CutPrefix(k, "stages."); ok {
					k = "stages." + strings.Replace(rest, ".", ".blocks.", 1)
				}
				sd[k] = v
			}
		}, []string{"not a MambaOut state dict: it lacks downsample_layers.0.conv1.weight", "timm's own MambaOut port"}},
		{"the conv is wider than the hidden size", func(sd map[string]*convert.Tensor) {
			sd["stages.0.0.conv.weight"] = &convert.Tensor{Name: "stages.0.0.conv.weight", Shape: []int{17, 1, 7, 7}, Data: make([]float32, 17*49)}
		}, []string{"stage 0: the conv has 17 channels but the hidden size is 16"}},
	}
	for _, tc := range tests {
		sd := readBare(t)
		tc.edit(sd)
		_, err := mambaout.FromStateDict(sd)
		if err == nil {
			t.Errorf("%s: no error", tc.reason)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.reason, err, w)
			}
		}
	}
}

// TestLoadRefusesOtherCheckpoints gives the MambaOut loader a Vim
// checkpoint and a file that is no checkpoint.
func TestLoadRefusesOtherCheckpoints(t *testing.T) {
	vim := repo.Fixture("synthetic", "bare.pth")
	_, _, err := mambaout.Load(vim, mambaout.Options{})
	if err == nil || !strings.Contains(err.Error(), "not a MambaOut state dict: it lacks downsample_layers.0.conv1.weight") {
		t.Errorf("Vim checkpoint: err = %v", err)
	}
	notCkpt := filepath.Join(t.TempDir(), "x.pth")
	if err := os.WriteFile(notCkpt, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mambaout.Load(notCkpt, mambaout.Options{}); err == nil {
		t.Error("a 5-byte text file loaded")
	}
	if _, _, err := mambaout.Load(synthPath("bare.pth"), mambaout.Options{Weights: convert.WeightsEMA}); err == nil || !strings.Contains(err.Error(), "model_ema") {
		t.Errorf("EMA weights of a bare state dict: err = %v", err)
	}
}

// TestDetect checks architecture detection from names alone.
func TestDetect(t *testing.T) {
	sd := readBare(t)
	var names, prefixed []string
	for k := range sd {
		names = append(names, k)
		prefixed = append(prefixed, "module."+k)
	}
	vim, _, err := convert.ReadStateDict(repo.Fixture("synthetic", "bare.pth"), "")
	if err != nil {
		t.Fatal(err)
	}
	var vimNames []string
	for k := range vim {
		vimNames = append(vimNames, k)
	}
	tests := []struct {
		reason  string
		names   []string
		ok      bool
		missing int
	}{
		{"a MambaOut state dict", names, true, 0},
		{"with DDP's module. prefix", prefixed, true, 0},
		{"a Vim state dict lacks every MambaOut signature tensor", vimNames, false, 9},
		{"nothing at all", nil, false, 9},
		{"only the stem", []string{"downsample_layers.0.conv1.weight", "downsample_layers.0.conv2.weight"}, false, 7},
	}
	for _, tc := range tests {
		ok, missing := mambaout.Detect(tc.names)
		if ok != tc.ok || len(missing) != tc.missing {
			t.Errorf("%s: ok %v missing %v, want %v and %d missing", tc.reason, ok, missing, tc.ok, tc.missing)
		}
	}
}

// TestMatchVariant checks that each registered config is recognised by its
// own name and no other (femto and kobe differ only in depth).
func TestMatchVariant(t *testing.T) {
	for _, v := range mambaout.Variants {
		for _, classes := range []int{1000, 10} {
			name, note := mambaout.MatchVariant(v.Config(classes))
			if name != v.Name || note != "" {
				t.Errorf("%s with %d classes: matched %q (%s)", v.Name, classes, name, note)
			}
		}
	}
	c := mambaout.Variants[0].Config(1000)
	c.KernelSize = 5
	if name, note := mambaout.MatchVariant(c); name != "" || !strings.Contains(note, "kernel_size 5 instead of 7") {
		t.Errorf("femto with kernel 5: matched %q (%s)", name, note)
	}
	if got := mambaout.Variants[2].Config(1000).Hidden; fmt.Sprint(got) != "[256 512 1024 1536]" {
		t.Errorf("tiny hidden sizes %v, want int(8/3*dim) = [256 512 1024 1536]", got)
	}
}
