package convert

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestConfigJSONNonSquare checks that a square model's JSON is unchanged
// by the non-square support (no img_width or grid_width keys, the key
// order the ONNX metadata has always held) and that a non-square model
// round-trips with its width keys, a wrong grid_width being refused.
func TestConfigJSONNonSquare(t *testing.T) {
	sq := Config{EmbedDim: 192, Depth: 24, DState: 16, DInner: 384, DtRank: 12, DConv: 4, PatchSize: 16, Stride: 16, ImgSize: 224,
		AbsPosEmbed: true, ClsToken: ClsMiddle, FinalPoolType: "mean", InChans: 3, Norm: NormRMS, NumClasses: 1000,
		BimambaType: BimambaV2, DivideOut: true, NormEps: 1e-5}
	const wantSquare = `{"embed_dim":192,"depth":24,"d_state":16,"d_inner":384,"dt_rank":12,"d_conv":4,"patch_size":16,"stride":16,` +
		`"img_size":224,"grid_size":14,"num_patches":196,"abs_pos_embed":true,"seq_len":197,"cls_token":"middle",` +
		`"final_pool_type":"mean","in_chans":3,"norm":"rmsnorm","num_classes":1000,"bimamba_type":"v2","if_divide_out":true,` +
		`"norm_eps":0.00001,"has_layer_scale":false,"cls_token_position":98}`
	b, err := json.Marshal(sq)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != wantSquare {
		t.Errorf("square JSON changed:\n got %s\nwant %s", b, wantSquare)
	}
	sq.ImgWidth = 224 // explicit but equal: still square, same JSON
	if b2, _ := json.Marshal(sq); string(b2) != wantSquare {
		t.Errorf("img_width = img_size changed the JSON: %s", b2)
	}

	ns := sq
	ns.ImgSize, ns.ImgWidth = 192, 320
	b, err = json.Marshal(ns)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"img_size":192,"img_width":320,"grid_size":12,"grid_width":20,"num_patches":240,`) ||
		!strings.Contains(string(b), `"seq_len":241,`) || !strings.HasSuffix(string(b), `"cls_token_position":120}`) {
		t.Errorf("non-square JSON: %s", b)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != ns {
		t.Errorf("round trip gave %+v, want %+v", back, ns)
	}
	bad := strings.Replace(string(b), `"grid_width":20`, `"grid_width":21`, 1)
	if err := json.Unmarshal([]byte(bad), &back); err == nil || !strings.Contains(err.Error(), "grid_width 21") {
		t.Errorf("wrong grid_width: err = %v, want it refused", err)
	}
}

// TestCheckInputSize checks what a dynamic-size model accepts.
func TestCheckInputSize(t *testing.T) {
	c := Config{PatchSize: 16, Stride: 16, ImgSize: 224, ClsToken: ClsMiddle}
	tests := []struct {
		reason  string
		h, w    int
		wantErr string
	}{
		{"native", 224, 224, ""},
		{"non-square", 512, 1248, ""},
		{"height off the stride", 230, 224, "height 230 does not fit patch 16 and stride 16: (230 - 16) is not a multiple of 16 (try 224 or 240)"},
		{"width below one patch", 224, 8, "width 8 is smaller than the patch size 16 (smallest: 16)"},
		{"more tokens than supported", 4096, 4112, "input 4096×4112 gives a 256×257 patch grid, more than the 65536 tokens supported"},
	}
	for _, tc := range tests {
		got := ""
		if err := c.CheckInputSize(tc.h, tc.w); err != nil {
			got = err.Error()
		}
		if got != tc.wantErr {
			t.Errorf("%s: %q, want %q", tc.reason, got, tc.wantErr)
		}
	}
}
