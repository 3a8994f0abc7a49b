package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/testutil"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestInspectJSONMatchesManifest runs `vimconvert inspect --json` on every
// fixture checkpoint and compares the required keys with the manifest.
func TestInspectJSONMatchesManifest(t *testing.T) {
	var man struct {
		Fixtures map[string]struct {
			EffectiveConfig map[string]any `json:"effective_config"`
		} `json:"fixtures"`
	}
	testutil.ReadJSON(t, repo.Fixture("manifest.json"), &man)
	for name, fx := range man.Fixtures {
		t.Run(name, func(t *testing.T) {
			p := repo.Fixture(name, "checkpoint.pth")
			if _, err := os.Stat(p); err != nil {
				if p = repo.SharedFixture(name, "checkpoint.pth"); p == "" {
					t.Skipf("%s/checkpoint.pth is neither bundled nor in ../shared/fixtures", name)
				}
			}
			got := inspectJSON(t, p)
			ec := fx.EffectiveConfig
			first := func(v any) any {
				if s, ok := v.([]any); ok {
					return s[0]
				}
				return v
			}
			want := map[string]any{
				"embed_dim": ec["embed_dim"], "depth": ec["depth"], "d_state": ec["d_state"],
				"d_inner": ec["d_inner"], "dt_rank": ec["dt_rank"], "d_conv": ec["d_conv"],
				"patch_size": first(ec["patch_size"]), "stride": ec["stride"], "img_size": first(ec["img_size"]),
				"num_patches": ec["num_patches"], "seq_len": ec["seq_len"], "cls_token": "middle",
				"cls_token_position": ec["cls_token_position"], "num_classes": ec["num_classes"],
				"bimamba_type": ec["bimamba_type"], "param_count": ec["param_count"],
				"weights": "model", "dtype": "float32",
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s = %v, manifest says %v", k, got[k], w)
				}
			}
		})
	}
}

// TestInspectText checks the human report names the variant facts and the
// assumed defaults, and that usage errors exit 2.
func TestInspectText(t *testing.T) {
	p := repo.Fixture("vim_t_d2", "checkpoint.pth")
	code, out, errb := runCLI(t, "inspect", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	for _, s := range []string{"942,952 parameters", "cls token middle at 98", "optimizer", "model_ema", "argparse.Namespace", "assumed:", "depth 2 instead of 24"} {
		if !strings.Contains(out, s) {
			t.Errorf("report lacks %q:\n%s", s, out)
		}
	}
	if code, _, errb := runCLI(t, "inspect", "--weights", "model_ema", "--json", filepath.Join(filepath.Dir(p), "..", "vim_t_stride8_d2", "checkpoint.pth")); code != 1 || !strings.Contains(errb, "model_ema") {
		t.Errorf("model_ema of a {'model'} checkpoint: exit %d, stderr %q", code, errb)
	}
	if code, _, _ := runCLI(t, "inspect"); code != 2 {
		t.Errorf("no argument: exit %d, want 2", code)
	}
}

// TestInspectJSONStableKeys: `inspect --json` prints the same keys for
// every checkpoint and model of one architecture (bare state dict,
// training checkpoint with args, exact or custom variant, the converted
// model), so a script can index any of them; absent facts are "" or [].
func TestInspectJSONStableKeys(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	keysOf := func(path string) string {
		obj := inspectJSON(t, path)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return strings.Join(keys, " ")
	}
	for _, group := range [][]string{
		{repo.Fixture("synthetic", "bare.pth"), repo.Fixture("synthetic", "training.pth"), repo.Fixture("vim_t_d2", "checkpoint.pth")},
		{repo.Fixture("mambaout_synthetic", "bare.pth"), repo.Fixture("mambaout_synthetic", "training.pth")},
	} {
		model := filepath.Join(dir, fmt.Sprintf("m%d.onnx", len(group)))
		if code, _, e := runCLI(t, "convert", group[0], "-o", model); code != 0 {
			t.Fatalf("convert %s: %s", group[0], e)
		}
		want := keysOf(group[0])
		for _, p := range append(group[1:], model) {
			if got := keysOf(p); got != want {
				t.Errorf("inspect --json keys of %s:\n  %s\nwant those of %s:\n  %s", filepath.Base(p), got, filepath.Base(group[0]), want)
			}
		}
	}
}
