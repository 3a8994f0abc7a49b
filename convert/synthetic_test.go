package convert

import (
	"path/filepath"
	"sort"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/internal/testutil"
)

// syntheticGolden is fixtures/synthetic/golden.json (written by
// make_synthetic.py with real PyTorch).
type syntheticGolden struct {
	Files map[string]struct {
		Format         string         `json:"format"`
		PickleProtocol int            `json:"pickle_protocol"`
		Options        map[string]any `json:"options"`
		Weights        string         `json:"weights"`
		Config         map[string]any `json:"config"`
		Tensors        map[string]struct {
			Shape  []int  `json:"shape"`
			DType  string `json:"dtype"`
			SHA256 string `json:"sha256"`
		} `json:"tensors"`
	} `json:"files"`
}

func loadSyntheticGolden(t *testing.T) *syntheticGolden {
	t.Helper()
	var g syntheticGolden
	testutil.ReadJSON(t, repo.Fixture("synthetic", "golden.json"), &g)
	if len(g.Files) == 0 {
		t.Fatal("golden.json lists no files")
	}
	return &g
}

// TestSyntheticCheckpoints loads every torch-made synthetic checkpoint
// (formats, layouts, dtypes, views, architecture variants) and checks the
// inferred config and every tensor's float32 values against golden.json.
func TestSyntheticCheckpoints(t *testing.T) {
	g := loadSyntheticGolden(t)
	names := make([]string, 0, len(g.Files))
	for n := range g.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		want := g.Files[name]
		t.Run(name, func(t *testing.T) {
			opts := Options{Weights: Weights(want.Weights)}
			if v, ok := want.Options["cls_token"].(string); ok {
				opts.ClsToken = ClsToken(v)
			}
			if v, ok := want.Options["stride"].(float64); ok {
				opts.Stride = int(v)
			}
			if v, ok := want.Options["img_size"].(float64); ok {
				opts.ImgSize = int(v)
			}
			m, info, err := Load(filepath.Join(repo.Fixture("synthetic"), name), opts)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if info.Format != want.Format {
				t.Errorf("format %s, want %s", info.Format, want.Format)
			}
			obj := inspectJSON(t, m.Config, info)
			for k, w := range want.Config {
				if obj[k] != w {
					t.Errorf("%s = %v, want %v", k, obj[k], w)
				}
			}
			got := map[string]*Tensor{}
			for _, tt := range modelTensors(m) {
				if _, dup := got[tt.Name]; dup {
					t.Errorf("tensor %s mapped twice", tt.Name)
				}
				got[tt.Name] = tt
			}
			if len(got) != len(want.Tensors) {
				t.Errorf("model holds %d tensors, golden has %d", len(got), len(want.Tensors))
			}
			var params int64
			for k, wt := range want.Tensors {
				tt := got[k]
				if tt == nil {
					t.Errorf("tensor %s not in the model", k)
					continue
				}
				params += int64(tt.NumElements())
				if !equalInts(tt.Shape, wt.Shape) || tt.DType != wt.DType {
					t.Errorf("%s: %v %s, want %v %s", k, tt.Shape, tt.DType, wt.Shape, wt.DType)
				}
				if h := testutil.SHA256Float32(tt.Data); h != wt.SHA256 {
					t.Errorf("%s: float32 values differ from torch's (sha256 %s, want %s)", k, h[:12], wt.SHA256[:12])
				}
			}
			if info.ParamCount != params {
				t.Errorf("param_count %d, want %d", info.ParamCount, params)
			}
		})
	}
}

// TestSyntheticLayouts checks the layout detection and what is reported as
// ignored or stripped.
func TestSyntheticLayouts(t *testing.T) {
	dir := repo.Fixture("synthetic")
	tests := []struct {
		file, weights string
		layout, key   string
		prefix        string
		ignoredPrefix []string
		reason        string
	}{
		{"bare.pth", "", "bare", "", "", nil, "a bare OrderedDict of tensors"},
		{"state_dict.pth", "", "state_dict", "state_dict", "", []string{"state_dict._metadata"}, "{'state_dict': sd}"},
		{"model_zip.pth", "", "model", "model", "", []string{"model._metadata"}, "{'model': sd}"},
		{"module_prefix.pth", "", "model", "model", "module.", nil, "DDP keys prefixed module."},
		{"training.pth", "model", "training", "model", "", []string{"optimizer (dict", "lr_scheduler", "epoch (int 3)", "model_ema (OrderedDict", "scaler (str", "args (argparse.Namespace"}, "official training layout"},
		{"training_ema.pth", "model_ema", "training", "model_ema", "", []string{"model (OrderedDict", "optimizer"}, "EMA weights selected"},
	}
	for _, tc := range tests {
		_, info, err := Load(filepath.Join(dir, tc.file), Options{Weights: Weights(tc.weights)})
		if err != nil {
			t.Errorf("%s (%s): %v", tc.file, tc.reason, err)
			continue
		}
		if info.Layout != tc.layout || info.WeightsKey != tc.key || info.StrippedPrefix != tc.prefix {
			t.Errorf("%s (%s): layout %q key %q prefix %q, want %q %q %q", tc.file, tc.reason, info.Layout, info.WeightsKey, info.StrippedPrefix, tc.layout, tc.key, tc.prefix)
		}
		for _, p := range tc.ignoredPrefix {
			found := false
			for _, s := range info.Ignored {
				found = found || len(s) >= len(p) && s[:len(p)] == p
			}
			if !found {
				t.Errorf("%s (%s): ignored %q lacks %q", tc.file, tc.reason, info.Ignored, p)
			}
		}
		if tc.layout == "training" && (info.ArgsModel != "vim_toy" || info.ArgsInputSize != 8) {
			t.Errorf("%s: args.model %q input_size %d", tc.file, info.ArgsModel, info.ArgsInputSize)
		}
	}
}
