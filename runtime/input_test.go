package runtime

import (
	"strings"
	"testing"
)

// TestCheckShapeElementTypes checks that an input's values must come in
// the field of its element type (Data for float32, Bytes for uint8) and in
// the number its shape needs.
func TestCheckShapeElementTypes(t *testing.T) {
	f32 := ValueInfo{Name: "x", ElemType: 1, Shape: []int64{-1, 2}}
	u8 := ValueInfo{Name: "x", ElemType: 2, Shape: []int64{-1, 2}}
	for _, tc := range []struct {
		why  string
		t    Tensor
		vi   ValueInfo
		want string // "" = accepted
	}{
		{"float32 data for a float32 input", Tensor{Shape: []int64{1, 2}, Data: make([]float32, 2)}, f32, ""},
		{"uint8 bytes for a uint8 input", Tensor{Shape: []int64{3, 2}, Bytes: make([]uint8, 6)}, u8, ""},
		{"float32 data is not reinterpreted as bytes", Tensor{Shape: []int64{1, 2}, Data: make([]float32, 2)}, u8, "takes uint8"},
		{"bytes are not reinterpreted as float32", Tensor{Shape: []int64{1, 2}, Bytes: make([]uint8, 2)}, f32, "takes float32"},
		{"too few bytes for the shape", Tensor{Shape: []int64{2, 2}, Bytes: make([]uint8, 3)}, u8, "needs 4 values, got 3"},
	} {
		err := checkShape("x", &tc.t, tc.vi)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: error %v, want %q", tc.why, err, tc.want)
		}
	}
}
