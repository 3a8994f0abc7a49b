package convert

import (
	"slices"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
)

func TestParseKwargs(t *testing.T) {
	no, yes := false, true
	cases := []struct {
		in   string
		want Options
		err  string // substring of the error; "" for none
	}{
		{"final_pool_type=none", Options{FinalPoolType: "none"}, ""},
		{" final_pool_type = 'max' , if_divide_out=False", Options{FinalPoolType: "max", DivideOut: &no}, ""},
		{"if_divide_out=true,norm_epsilon=1e-6", Options{DivideOut: &yes, NormEps: 1e-6}, ""},
		{"if_bidirectional=False,if_rope=False,flip_img_sequences_ratio=-1.0,residual_in_fp32=False,fused_add_norm=False", Options{}, ""},
		{"final_pool_type=avg", Options{}, "want mean, none, max or all"},
		{"norm_epsilon=0", Options{}, "want a number in (0, 1]"},
		{"if_divide_out=maybe", Options{}, "want True or False"},
		{"if_bidirectional=True", Options{}, "not supported"},
		{"if_rope=True", Options{}, "no rotary position embedding"},
		{"flip_img_sequences_ratio=0.5", Options{}, "at random"},
		{"use_middle_cls_token=False", Options{}, "--cls-token"},
		{"depth=12", Options{}, "unknown name (names: final_pool_type,"},
		{"final_pool_type", Options{}, "want NAME=VALUE"},
		{"final_pool_type=none,", Options{}, "want NAME=VALUE"},
	}
	for _, tc := range cases {
		var got Options
		err := ParseKwargs(tc.in, &got)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseKwargs(%q): error %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseKwargs(%q): %v", tc.in, err)
			continue
		}
		if got.FinalPoolType != tc.want.FinalPoolType || got.NormEps != tc.want.NormEps ||
			(got.DivideOut == nil) != (tc.want.DivideOut == nil) || (got.DivideOut != nil && *got.DivideOut != *tc.want.DivideOut) {
			t.Errorf("ParseKwargs(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// TestLoadKwargs: the official-code checkpoints of fixtures/kwargs load
// with the registry defaults (and, without a cls token, a warning naming
// the readout guess) unless Options set the constructor arguments, which
// then reach the Config without a note or warning.
func TestLoadKwargs(t *testing.T) {
	no := false
	cases := []struct {
		file     string
		opts     Options
		check    func(Config) bool
		warnings []string
		assumed  string // an Assumed entry must contain it ("" none)
	}{
		{"pool_none.pth", Options{}, func(c Config) bool { return c.ClsToken == ClsNone && c.PoolType() == "mean" }, []string{ReadoutGuessWarning}, ""},
		{"pool_none.pth", Options{FinalPoolType: "none"}, func(c Config) bool { return c.PoolType() == "none" }, nil, ""},
		{"pool_max.pth", Options{FinalPoolType: "max"}, func(c Config) bool { return c.PoolType() == "max" }, nil, ""},
		{"no_divide_out.pth", Options{ClsToken: ClsMiddle}, func(c Config) bool { return c.DivideOut }, nil, "--kwargs if_divide_out=False"},
		{"no_divide_out.pth", Options{ClsToken: ClsMiddle, DivideOut: &no}, func(c Config) bool { return !c.DivideOut }, nil, ""},
		{"eps_1e-2.pth", Options{ClsToken: ClsMiddle}, func(c Config) bool { return c.NormEps == 1e-5 }, nil, "--kwargs norm_epsilon=X"},
		{"eps_1e-2.pth", Options{ClsToken: ClsMiddle, NormEps: 1e-2}, func(c Config) bool { return c.NormEps == 1e-2 }, nil, ""},
		{"eps_1e-2.pth", Options{FinalPoolType: "none"}, func(c Config) bool { return c.ClsToken == ClsMiddle }, []string{ClsGuessWarning}, "final_pool_type=none has no effect"},
	}
	for _, tc := range cases {
		m, info, err := Load(repo.Fixture("kwargs", tc.file), tc.opts)
		if err != nil {
			t.Errorf("%s %+v: %v", tc.file, tc.opts, err)
			continue
		}
		if !tc.check(m.Config) {
			t.Errorf("%s %+v: config %+v", tc.file, tc.opts, m.Config)
		}
		if !slices.Equal(info.Warnings, tc.warnings) {
			t.Errorf("%s %+v: warnings %q, want %q", tc.file, tc.opts, info.Warnings, tc.warnings)
		}
		has := func(sub string) bool {
			return slices.ContainsFunc(info.Assumed, func(s string) bool { return strings.Contains(s, sub) })
		}
		if tc.assumed != "" && !has(tc.assumed) {
			t.Errorf("%s %+v: assumed %q lacks %q", tc.file, tc.opts, info.Assumed, tc.assumed)
		}
		if (tc.opts.DivideOut != nil && has("if_divide_out=True for bimamba v2")) || (tc.opts.NormEps > 0 && has("norm eps 1e-5")) {
			t.Errorf("%s %+v: assumed %q still names a default the options set", tc.file, tc.opts, info.Assumed)
		}
	}
	_, _, err := Load(repo.Fixture("synthetic", "bimamba_v1.pth"), Options{DivideOut: new(bool(true))})
	if err == nil || !strings.Contains(err.Error(), "if_divide_out=True applies to bimamba v2 blocks only") {
		t.Errorf("if_divide_out=True on a bimamba v1 checkpoint: %v, want a refusal", err)
	}
}
