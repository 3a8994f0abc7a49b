package convert

import (
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestMappingErrorNamesUnsupportedOption: tensors of an official option
// vimconvert does not implement are refused naming the option.
func TestMappingErrorNamesUnsupportedOption(t *testing.T) {
	m, _, err := Load(repo.Fixture("kwargs", "eps_1e-2.pth"), Options{ClsToken: ClsMiddle})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		extra []string
		want  string
	}{
		{[]string{"rope.freqs_cos", "rope.freqs_sin"}, "if_rope=True (rope.freqs_cos/freqs_sin) is not supported"},
		{[]string{"layers.0.mixer.in_proj.bias", "layers.0.mixer.out_proj.bias"}, "ssm_cfg bias=True"},
		{[]string{"foo"}, "unexpected 1: foo"},
	} {
		sd := map[string]*Tensor{}
		_ = EachTensor(&m.Config, func(key string, s TensorSpec, i int) error {
			sd[key] = *s.Slot(m, i)
			return nil
		})
		for _, k := range tc.extra {
			sd[k] = &Tensor{Name: k, Shape: []int{1}, Data: []float32{0}}
		}
		_, err := NewModel(m.Config, sd)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("extra %v: %v, want an error containing %q", tc.extra, err, tc.want)
		}
		if tc.extra[0] == "foo" && strings.Contains(err.Error(), "not supported") {
			t.Errorf("an unknown tensor is no known option: %v", err)
		}
	}
}
