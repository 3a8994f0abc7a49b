package convert

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseModelName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ok     bool
		want   NameConfig
		reason string
	}{
		{"vim_tiny_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2", true,
			NameConfig{EmbedDim: 192, Patch: 16, Stride: 16, ImgSize: 224, MiddleCls: true, PoolMean: true, DivideOut: true}, "Vim-T: stride is the patch without a strideN token"},
		{"vim_small_patch16_stride8_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2", true,
			NameConfig{EmbedDim: 384, Patch: 16, Stride: 8, ImgSize: 224, MiddleCls: true, PoolMean: true, DivideOut: true}, "stride8 token"},
		{"vim_base_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_middle_cls_token_div2", true,
			NameConfig{EmbedDim: 768, Patch: 16, Stride: 16, ImgSize: 224, MiddleCls: true, PoolMean: true, DivideOut: true}, "Vim-B spells the cls token out"},
		{"vim_tiny_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_div2", true,
			NameConfig{EmbedDim: 192, Patch: 16, Stride: 16, ImgSize: 224, PoolMean: true, DivideOut: true}, "no cls token in the name: placement not stated"},
		{"vim_toy", false, NameConfig{}, "no patchN token: not the official pattern"},
		{"deit_tiny_patch16_224", false, NameConfig{}, "another model family"},
		{"", false, NameConfig{}, "empty"},
	} {
		got, ok := ParseModelName(tc.name)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: got %+v %v, want %+v %v (%s)", tc.name, got, ok, tc.want, tc.ok, tc.reason)
		}
	}
}

// TestArgsModelSettlesCls: the training fixture's args.model names the
// middle cls token, so nothing is guessed; a --cls-token contradicting it is
// refused; a checkpoint without args warns about the guess.
func TestArgsModelSettlesCls(t *testing.T) {
	d2 := readFixture(t, "vim_t_d2")
	m, info, err := LoadFrom(bytes.NewReader(d2), int64(len(d2)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.ClsToken != ClsMiddle || len(info.Warnings) != 0 {
		t.Errorf("vim_t_d2: cls %s, warnings %q; want middle from args.model and no warning", m.Config.ClsToken, info.Warnings)
	}
	if !strings.Contains(strings.Join(info.Assumed, "\n"), "cls token in the middle: args.model vim_tiny_patch16_224") {
		t.Errorf("assumed %q does not say args.model settled the cls token", info.Assumed)
	}
	sum := sha256.Sum256(d2)
	if info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 %s, want %x", info.SHA256, sum)
	}
	_, _, err = LoadFrom(bytes.NewReader(d2), int64(len(d2)), Options{ClsToken: ClsHead})
	if err == nil || !strings.Contains(err.Error(), "--cls-token head contradicts args.model vim_tiny") {
		t.Errorf("--cls-token head on vim_t_d2: err %v, want a contradiction naming args.model", err)
	}

	head := readSynthetic(t, "cls_head.pth") // {'model': sd}: no args
	for _, tc := range []struct {
		cls      ClsToken
		warnings int
		reason   string
	}{
		{"", 1, "nothing records the placement: a guess, warned about"},
		{ClsHead, 0, "the flag settles it"},
		{ClsMiddle, 0, "the flag confirms the default"},
	} {
		_, info, err := LoadFrom(bytes.NewReader(head), int64(len(head)), Options{ClsToken: tc.cls})
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Warnings) != tc.warnings {
			t.Errorf("cls_head.pth --cls-token %q: warnings %q, want %d (%s)", tc.cls, info.Warnings, tc.warnings, tc.reason)
		}
	}
	if !strings.Contains(ClsGuessWarning, "--cls-token head") || !strings.Contains(ClsGuessWarning, "cannot show") {
		t.Errorf("the warning must name the flag and why the weights cannot show it: %s", ClsGuessWarning)
	}
}

// TestArgsModelContradictions: a name that contradicts the weights or the
// flags is refused with both named; depth is never checked (reduced-depth
// checkpoints carry the full model's name).
func TestArgsModelContradictions(t *testing.T) {
	sd := func(width, patch int, cls bool) map[string]*Tensor {
		m := map[string]*Tensor{"patch_embed.proj.weight": {Name: "patch_embed.proj.weight", Shape: []int{width, 3, patch, patch}}}
		if cls {
			m["cls_token"] = &Tensor{Name: "cls_token", Shape: []int{1, 1, width}}
		}
		return m
	}
	tiny := "vim_tiny_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2"
	for _, tc := range []struct {
		name    string
		sd      map[string]*Tensor
		cls     ClsToken
		wantErr string
		wantCls ClsToken
		reason  string
	}{
		{tiny, sd(192, 16, true), "", "", ClsMiddle, "consistent: the name settles middle"},
		{tiny, sd(384, 16, true), "", "names embed_dim 192, but the weights have 384", "", "width contradicts"},
		{tiny, sd(192, 8, true), "", "names patch size 16, but the weights have 8", "", "patch contradicts"},
		{tiny, sd(192, 16, false), "", "no cls_token tensor", "", "cls tensors contradict"},
		{tiny, sd(192, 16, true), ClsNone, "--cls-token none contradicts", "", "flag contradicts"},
		{tiny, sd(192, 16, true), ClsMiddle, "", ClsMiddle, "flag agrees"},
		{"vim_toy", sd(16, 4, true), "", "", "", "not an official name: nothing derived, nothing refused"},
	} {
		opts := Options{ClsToken: tc.cls}
		_, err := applyArgsModel(tc.sd, &opts, &Info{ArgsModel: tc.name})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v (%s)", tc.reason, err, tc.reason)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err %v, want %q", tc.reason, err, tc.wantErr)
		case err == nil && opts.ClsToken != tc.wantCls:
			t.Errorf("%s: cls %q, want %q", tc.reason, opts.ClsToken, tc.wantCls)
		}
	}
	c := Config{PatchSize: 16, Stride: 16, ImgSize: 224}
	info := &Info{ArgsModel: "vim_tiny_patch16_stride8_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2"}
	if err := checkArgsModelGeometry(c, info, 0); err == nil || !strings.Contains(err.Error(), "names stride 8") {
		t.Errorf("stride8 name on a stride-16 grid: %v, want a refusal", err)
	}
	if err := checkArgsModelGeometry(c, info, 16); err != nil {
		t.Errorf("an explicit --stride is the user's override: %v", err)
	}
}

// TestArgsModelFiles loads torch-written training checkpoints
// (testdata/argsmodel, make_argsmodel.py) whose args.model agrees with or
// contradicts their weights.
func TestArgsModelFiles(t *testing.T) {
	for _, tc := range []struct {
		file     string
		wantErr  string
		warnings int
		note     string
		reason   string
	}{
		{"named_midcls.pth", "", 0, "cls token in the middle: args.model vim_toy_patch4_8", "the name settles the placement"},
		{"named_nocls.pth", "", 1, "does not say where the cls token is", "a name without with_midclstok settles nothing: still a guess, warned"},
		{"named_wrong_width.pth", "names embed_dim 192, but the weights have 16", 0, "", "tiny against 16-wide weights"},
		{"named_wrong_stride.pth", "names stride 2, but the weights' 2×2 pos_embed grid at img_size 8 is stride 4", 0, "", "stride2 against a stride-4 grid"},
	} {
		_, info, err := Load(filepath.Join("testdata", "argsmodel", tc.file), Options{})
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want %q (%s)", tc.file, err, tc.wantErr, tc.reason)
			}
		case err != nil:
			t.Errorf("%s: %v (%s)", tc.file, err, tc.reason)
		case len(info.Warnings) != tc.warnings || !strings.Contains(strings.Join(info.Assumed, "\n"), tc.note):
			t.Errorf("%s: warnings %q, assumed %q; want %d warnings and %q (%s)", tc.file, info.Warnings, info.Assumed, tc.warnings, tc.note, tc.reason)
		}
	}
}
