package convert

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/testutil"
)

// TestInferGeometry covers the (img_size, stride) choice from a pos_embed
// grid, with and without overrides.
func TestInferGeometry(t *testing.T) {
	tests := []struct {
		grid, patch     int
		opts            Options
		img, stride     int
		wantErr, reason string
	}{
		{14, 16, Options{}, 224, 16, "", "197 tokens = 196 patches: Vim-T/S/B at 224/16"},
		{27, 16, Options{}, 224, 8, "", "730 tokens = 729 patches: the stride-8 models at 224"},
		{28, 16, Options{}, 448, 16, "", "785 tokens = 784 patches: 448/16 fine-tune, not 232 at stride 8"},
		{24, 16, Options{}, 384, 16, "", "577 tokens: 384/16"},
		{5, 16, Options{}, 80, 16, "", "no official size: non-overlapping patches"},
		{27, 16, Options{Stride: 8}, 224, 8, "", "--stride 8 alone gives the smallest image"},
		{27, 16, Options{ImgSize: 224}, 224, 8, "", "an image size alone (args.input_size 224 of a training checkpoint) solves stride 8"},
		{14, 16, Options{ImgSize: 120}, 120, 8, "", "the solve is only for args.input_size: Load fixes --img-size's stride from the native geometry first (TestLoadGeometry: --img-size 120 is an error there)"},
		{14, 16, Options{ImgSize: 224, Stride: 16}, 224, 16, "", "both given and consistent"},
		{14, 16, Options{ImgSize: 224, Stride: 8}, 0, 0, "give a 27×27 grid", "both given, contradicting pos_embed"},
		{14, 16, Options{ImgSize: 448}, 0, 0, "cannot give the 14×14 grid", "448 needs stride 33 > patch"},
		{1, 16, Options{ImgSize: 16}, 16, 16, "", "a single patch"},
	}
	for _, tc := range tests {
		img, stride, _, err := inferGeometry(tc.grid, tc.patch, tc.opts)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want %q", tc.reason, err, tc.wantErr)
			}
			continue
		}
		if err != nil || img != tc.img || stride != tc.stride {
			t.Errorf("%s: got img %d stride %d err %v, want %d %d", tc.reason, img, stride, err, tc.img, tc.stride)
		}
	}
}

// TestConfigJSON checks cls_token_position is null without a cls token,
// that the JSON round-trips and that derived keys disagreeing with the
// sizes are refused.
func TestConfigJSON(t *testing.T) {
	for _, tc := range []struct {
		cls ClsToken
		pos int
	}{{ClsNone, -1}, {ClsHead, 0}, {ClsMiddle, 98}} {
		pos := tc.pos
		c := Config{EmbedDim: 192, ClsToken: tc.cls, ImgSize: 224, PatchSize: 16, Stride: 16}
		b, raw := testutil.JSONObject(t, c)
		v, ok := raw["cls_token_position"]
		if !ok || (pos < 0 && v != nil) || (pos >= 0 && v != float64(pos)) {
			t.Errorf("position %d encoded as %v (present %v)", pos, v, ok)
		}
		var back Config
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.ClsTokenPosition() != pos || back.EmbedDim != 192 {
			t.Errorf("round trip of position %d gave %+v", pos, back)
		}
	}
	bad := []byte(`{"img_size":224,"patch_size":16,"stride":16,"grid_size":14,"num_patches":196,"seq_len":197,"cls_token":"middle","cls_token_position":0}`)
	var c Config
	if err := json.Unmarshal(bad, &c); err == nil || !strings.Contains(err.Error(), "cls_token_position 0") {
		t.Errorf("middle cls at position 0 in JSON: err = %v, want it refused", err)
	}
}

// TestMatchRegistry checks exact matches and the closest-entry note.
func TestMatchRegistry(t *testing.T) {
	small := Config{EmbedDim: 384, Depth: 24, PatchSize: 16, Stride: 8, ImgSize: 224, DState: 16, DInner: 768, DtRank: 24,
		DConv: 4, BimambaType: BimambaV2, ClsToken: ClsMiddle, Norm: NormRMS, InChans: 3}
	if name, _ := matchRegistry(small); name != "vim_small_patch16_stride8_224_bimambav2_final_pool_mean_abs_pos_embed_with_midclstok_div2" {
		t.Errorf("Vim-S stride 8 matched %q", name)
	}
	base := small
	base.EmbedDim, base.DInner, base.DtRank, base.Stride = 768, 1536, 48, 16
	if name, _ := matchRegistry(base); name != "vim_base_patch16_224_bimambav2_final_pool_mean_abs_pos_embed_with_middle_cls_token_div2" {
		t.Errorf("Vim-B matched %q", name)
	}
	base.ClsToken = ClsHead
	if name, note := matchRegistry(base); name != "" || !strings.Contains(note, "cls_token head instead of middle") {
		t.Errorf("head-cls Vim-B: %q, note %q", name, note)
	}
}
