package convert

import (
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestDetectVim checks Vim detection from names alone on the synthetic
// checkpoints (every bimamba type, cls placement and norm), a prefixed
// one, and names that are not Vim's.
func TestDetectVim(t *testing.T) {
	names := func(file string) []string {
		sd, _, err := ReadStateDict(repo.Fixture("synthetic", file), "")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for k := range sd {
			out = append(out, k)
		}
		return out
	}
	bare := names("bare.pth")
	var prefixed []string
	for _, n := range bare {
		prefixed = append(prefixed, "module."+n)
	}
	tests := []struct {
		reason  string
		names   []string
		ok      bool
		missing string
	}{
		{"a bare Vim state dict", bare, true, ""},
		{"bimamba v1", names("bimamba_v1.pth"), true, ""},
		{"forward-only Mamba", names("bimamba_none.pth"), true, ""},
		{"layernorm with layer scale", names("layernorm_gamma.pth"), true, ""},
		{"no cls token", names("cls_none.pth"), true, ""},
		{"two cls tokens", names("cls_double.pth"), true, ""},
		{"no head (num_classes 0)", names("num_classes0.pth"), true, ""},
		{"with DDP's module. prefix", prefixed, true, ""},
		{"MambaOut names", []string{"downsample_layers.0.conv1.weight", "stages.0.0.fc1.weight", "norm.weight", "head.fc1.weight"}, false,
			"patch_embed.proj.weight, patch_embed.proj.bias, norm_f.weight, layers.0.norm.weight, layers.0.mixer.in_proj.weight, layers.0.mixer.out_proj.weight, layers.0.mixer.conv1d.weight, layers.0.mixer.conv1d.bias, layers.0.mixer.x_proj.weight, layers.0.mixer.dt_proj.weight, layers.0.mixer.dt_proj.bias, layers.0.mixer.A_log, layers.0.mixer.D"},
	}
	for _, tc := range tests {
		ok, missing := DetectVim(tc.names)
		if ok != tc.ok || strings.Join(missing, ", ") != tc.missing {
			t.Errorf("%s: ok %v missing %v, want %v and %q", tc.reason, ok, missing, tc.ok, tc.missing)
		}
	}
}
