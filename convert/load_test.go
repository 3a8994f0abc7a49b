package convert

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/internal/testutil"
)

// checkpointPath returns a fixture's checkpoint: the bundled copy, else
// ../shared/fixtures, else "".
func checkpointPath(name string) string {
	return fixturePath(name + "/checkpoint.pth")
}

// TestLoadFixturesMatchManifest loads every fixture checkpoint and checks
// the inspect object against the manifest's effective_config and
// state-dict listing.
func TestLoadFixturesMatchManifest(t *testing.T) {
	m := loadManifest(t)
	if len(m.Fixtures) == 0 {
		t.Fatal("manifest lists no fixtures")
	}
	for name, fx := range m.Fixtures {
		t.Run(name, func(t *testing.T) {
			p := checkpointPath(name)
			if p == "" {
				t.Skipf("%s/checkpoint.pth is neither bundled nor in ../shared/fixtures (%s)", name, repo.SharedFixture())
			}
			start := time.Now()
			model, info, err := Load(p, Options{})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			t.Logf("%s loaded in %v", name, time.Since(start))
			obj := inspectJSON(t, model.Config, info)
			ec := fx.EffectiveConfig
			first := func(v any) any { // manifest stores [h, w] pairs
				if s, ok := v.([]any); ok {
					return s[0]
				}
				return v
			}
			wantCls := "none"
			if ec["if_cls_token"] == true {
				wantCls = "head"
				if ec["use_middle_cls_token"] == true {
					wantCls = "middle"
				}
			}
			want := map[string]any{
				"embed_dim": ec["embed_dim"], "depth": ec["depth"], "d_state": ec["d_state"],
				"d_inner": ec["d_inner"], "dt_rank": ec["dt_rank"], "d_conv": ec["d_conv"],
				"patch_size": first(ec["patch_size"]), "stride": ec["stride"], "img_size": first(ec["img_size"]),
				"grid_size": first(ec["grid_size"]), "num_patches": ec["num_patches"], "seq_len": ec["seq_len"],
				"cls_token": wantCls, "cls_token_position": ec["cls_token_position"],
				"num_classes": ec["num_classes"], "bimamba_type": ec["bimamba_type"],
				"if_divide_out": ec["if_divide_out"], "norm_eps": ec["norm_eps"],
				"final_pool_type": ec["final_pool_type"], "param_count": ec["param_count"],
				"tensor_count": ec["state_dict_keys"], "weights": "model", "dtype": "float32", "norm": "rmsnorm",
			}
			for k, w := range want {
				if n, ok := w.(int); ok {
					w = float64(n)
				}
				if obj[k] != w {
					t.Errorf("%s = %v, manifest says %v", k, obj[k], w)
				}
			}
			wantVariant := ""
			if fx.RegistryName != "" && ec["depth"] == float64(24) {
				wantVariant = fx.RegistryName
			}
			if info.Variant != wantVariant {
				t.Errorf("variant = %q (%s), want %q", info.Variant, info.VariantNote, wantVariant)
			}
			// every state-dict entry of the manifest is in the model with its shape
			byName := map[string]*Tensor{}
			for _, tt := range modelTensors(model) {
				byName[tt.Name] = tt
			}
			for key, raw := range fx.StateDict {
				var entry []json.RawMessage
				if err := json.Unmarshal(raw, &entry); err != nil || len(entry) != 2 {
					t.Fatalf("manifest state_dict[%s]: %s", key, raw)
				}
				var shape []int
				json.Unmarshal(entry[0], &shape)
				got := byName[key]
				if got == nil || !equalInts(got.Shape, shape) {
					t.Errorf("tensor %s not mapped with shape %v", key, shape)
				}
			}
			if len(byName) != len(fx.StateDict) {
				t.Errorf("model holds %d tensors, manifest lists %d", len(byName), len(fx.StateDict))
			}
			switch fx.CheckpointLayout {
			case "training":
				if info.Layout != "training" || len(info.Ignored) < 6 {
					t.Errorf("layout %s, ignored %v", info.Layout, info.Ignored)
				}
				if info.ArgsModel != fx.RegistryName {
					t.Errorf("args.model = %q, want %q", info.ArgsModel, fx.RegistryName)
				}
				// the EMA weight set is different and selectable
				ema, _, err := Load(p, Options{Weights: WeightsEMA})
				if err != nil {
					t.Fatalf("Load model_ema: %v", err)
				}
				if ema.NormF.Data[0] == model.NormF.Data[0] && ema.HeadWeight.Data[0] == model.HeadWeight.Data[0] {
					t.Errorf("model_ema weights equal model weights")
				}
			default:
				if _, _, err := Load(p, Options{Weights: WeightsEMA}); !errors.Is(err, ErrNoWeightSet) {
					t.Errorf("Load model_ema of a %s checkpoint: err = %v, want ErrNoWeightSet", fx.CheckpointLayout, err)
				}
			}
		})
	}
}

// inspectJSON returns the keys of the config's and info's JSON together
// (numbers are float64, as in the manifest): what `vimconvert inspect
// --json` prints, plus info's path and args_input_size.
func inspectJSON(t *testing.T, c Config, info *Info) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, v := range []any{c, info} {
		_, m := testutil.JSONObject(t, v)
		maps.Copy(out, m)
	}
	return out
}

// modelTensors lists every tensor a Model holds (each once).
func modelTensors(m *Model) []*Tensor {
	var out []*Tensor
	add := func(ts ...*Tensor) {
		for _, t := range ts {
			if t != nil {
				out = append(out, t)
			}
		}
	}
	add(m.PatchWeight, m.PatchBias, m.PosEmbed, m.ClsToken, m.ClsTokenHead, m.ClsTokenTail, m.NormF, m.NormFBias, m.HeadWeight, m.HeadBias)
	for _, l := range m.Layers {
		add(l.NormWeight, l.NormBias, l.InProj, l.OutProj, l.ABLog, l.Gamma)
		f := l.Fwd
		add(f.ConvWeight, f.ConvBias, f.XProj, f.DtProjW, f.DtProjB, f.ALog, f.D)
		if b := l.Bwd; b != nil {
			add(b.ConvWeight, b.ConvBias, b.XProj, b.DtProjW, b.DtProjB, b.ALog, b.D)
		}
	}
	return out
}

// BenchmarkLoadVimT measures Load on the full-depth Vim-tiny fixture
// (28.7 MB, 415 tensors) when ../shared/fixtures is present.
func BenchmarkLoadVimT(b *testing.B) {
	p := repo.SharedFixture("vim_t", "checkpoint.pth")
	if p == "" {
		b.Skip("../shared/fixtures/vim_t/checkpoint.pth not present")
	}
	for b.Loop() {
		if _, _, err := Load(p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func equalInts(a, b []int) bool { return slices.Equal(a, b) }

// TestInfoOrigin: inspect's checkpoint line says "unknown" for what a
// model read back without provenance cannot tell, never an empty word.
func TestInfoOrigin(t *testing.T) {
	check := func(reason string, info Info, weights bool, want string) {
		if got := info.Origin(weights); got != want {
			t.Errorf("%s: Origin = %q, want %q", reason, got, want)
		}
	}
	check("a checkpoint read", Info{Format: "zip", Layout: "training", Weights: WeightsEMA}, true, "zip format, training layout, model_ema weights")
	check("Vim's line has no weight set", Info{Format: "zip", Layout: "bare"}, false, "zip format, bare layout")
	check("a model without provenance", Info{Format: "onnx"}, true, "onnx format, unknown layout, unknown weights")
}
