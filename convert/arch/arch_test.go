package arch_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert/arch"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// vimNames are the keys of a depth-1 Vim-T state dict (middle cls token).
var vimNames = []string{
	"cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
	"layers.0.mixer.A_log", "layers.0.mixer.A_b_log", "layers.0.mixer.D", "layers.0.mixer.D_b",
	"layers.0.mixer.in_proj.weight", "layers.0.mixer.conv1d.weight", "layers.0.mixer.conv1d.bias",
	"layers.0.mixer.conv1d_b.weight", "layers.0.mixer.conv1d_b.bias",
	"layers.0.mixer.x_proj.weight", "layers.0.mixer.x_proj_b.weight",
	"layers.0.mixer.dt_proj.weight", "layers.0.mixer.dt_proj.bias",
	"layers.0.mixer.dt_proj_b.weight", "layers.0.mixer.dt_proj_b.bias",
	"layers.0.mixer.out_proj.weight", "layers.0.norm.weight", "norm_f.weight", "head.weight", "head.bias",
}

func mambaOutNames() []string {
	c := mambaout.Config{InChans: 3, StemHidden: 3, Dims: []int{6, 12, 18, 24}, Depths: []int{1, 1, 2, 1},
		Hidden: []int{16, 32, 48, 64}, ConvChannels: []int{6, 12, 18, 24}, KernelSize: 7, HeadHidden: 96, NumClasses: 5}
	return mambaout.TensorNames(&c)
}

func prefixed(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "module." + n
	}
	return out
}

func TestDetect(t *testing.T) {
	mo := mambaOutNames()
	cases := []struct {
		name string
		keys []string
		want string
		in   []string // substrings the error must hold ("" want)
		why  string
	}{
		{"vim", vimNames, arch.Vim, nil, "a Vim state dict is Vim"},
		{"mambaout", mo, arch.MambaOut, nil, "a MambaOut state dict is MambaOut"},
		{"mambaout module.", prefixed(mo), arch.MambaOut, nil, "a DataParallel prefix on every key is ignored"},
		{"vim module.", prefixed(vimNames), arch.Vim, nil, "likewise for Vim"},
		{"neither", []string{"fc.weight", "fc.bias"}, "",
			[]string{"neither a Vim nor a MambaOut", "not vim: missing patch_embed.proj.weight", "not mambaout: missing downsample_layers.0.conv1.weight", "fc.bias, fc.weight"},
			"an unrelated state dict names what each architecture lacks"},
		{"mambaout without head", mo[:len(mo)-6], "", []string{"not mambaout: missing head.fc1.weight, head.fc2.weight"},
			"a truncated MambaOut state dict is refused naming the missing keys"},
		{"both", append(append([]string{}, vimNames...), mo...), "", []string{"both vim and mambaout"},
			"keys of both architectures are not guessed between"},
		{"empty", nil, "", []string{"0 tensors: nothing"}, "an empty state dict is neither"},
		{"timm port", []string{"stem.conv1.weight", "stem.conv2.weight", "stages.0.blocks.0.fc1.weight", "head.pre_logits.fc.weight", "head.fc.weight"}, "",
			[]string{"not mambaout: missing downsample_layers.0.conv1.weight", "names are those of timm's own MambaOut port", "convert the official release"},
			"timm's MambaOut names (the timm hub weights) are named as such, as mambaout.FromStateDict does (the CLI reports this error)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := arch.Detect(tc.keys)
			if tc.in == nil {
				if err != nil || got != tc.want {
					t.Fatalf("%s: got %q, %v; want %q", tc.why, got, err, tc.want)
				}
				return
			}
			if err == nil || !errors.Is(err, arch.ErrNotDetected) {
				t.Fatalf("%s: got %q, %v; want an ErrNotDetected error", tc.why, got, err)
			}
			for _, s := range tc.in {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%s: error %q lacks %q", tc.why, err, s)
				}
			}
		})
	}
}

func TestDetectFile(t *testing.T) {
	cases := []struct {
		path string
		want string
		why  string
	}{
		{repo.Fixture("vim_t_d2", "checkpoint.pth"), arch.Vim, "the bundled Vim checkpoint"},
		{repo.Fixture("mambaout_synthetic", "bare.pth"), arch.MambaOut, "a bare MambaOut state dict"},
		{repo.Fixture("mambaout_synthetic", "training.pth"), arch.MambaOut, "a timm training checkpoint (state_dict)"},
		{repo.Fixture("mambaout_synthetic", "fp16.pth"), arch.MambaOut, "a float16 one"},
		{repo.Fixture("mambaout_synthetic", "module_prefix.pth"), arch.MambaOut, "a module.-prefixed one"},
	}
	for _, tc := range cases {
		got, err := arch.DetectFile(tc.path, "")
		if err != nil || got != tc.want {
			t.Errorf("%s (%s): got %q, %v; want %q", tc.why, tc.path, got, err, tc.want)
		}
	}
	_, err := arch.DetectFile(repo.Fixture("vim_t_d2", "expected.pth"), "")
	if !errors.Is(err, arch.ErrNotDetected) {
		t.Errorf("golden outputs are no checkpoint: got %v, want ErrNotDetected", err)
	}
	_, err = arch.DetectFile(repo.Fixture("vim_t_d2", "missing.pth"), "")
	if err == nil || errors.Is(err, arch.ErrNotDetected) {
		t.Errorf("a missing file is a read error, not ErrNotDetected: got %v", err)
	}
}
