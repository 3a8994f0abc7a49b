package convert

import (
	"fmt"
	"strconv"
	"strings"
)

// This file reads official VisionMamba constructor arguments
// (models_mamba.py) that change the outputs but leave no trace in the
// weights, for a checkpoint built with values other than the registry's.

// ReadoutGuessWarning is the Info.Warnings entry for a checkpoint without a
// cls token whose readout (final_pool_type) nothing records.
const ReadoutGuessWarning = "readout assumed to be the mean over tokens (final_pool_type='mean', as in every registry name): " +
	"the checkpoint has no cls token and does not record its readout (no args.model naming final_pool_mean), and the weights cannot show it; " +
	"VisionMamba's own default is 'none' (the last token), which gives other outputs: pass --kwargs final_pool_type=none for it, " +
	"or --kwargs final_pool_type=mean to confirm"

// KwargsNames lists the constructor arguments ParseKwargs accepts.
var KwargsNames = []string{"final_pool_type", "if_divide_out", "norm_epsilon", "use_middle_cls_token",
	"if_bidirectional", "if_rope", "flip_img_sequences_ratio", "residual_in_fp32", "fused_add_norm"}

// ParseKwargs reads a comma-separated list of official VisionMamba
// constructor arguments NAME=VALUE (Python literals: True/False, numbers,
// strings with or without quotes) into o:
//
//   - final_pool_type (mean, none, max, all): the readout without a cls
//     token (Options.FinalPoolType);
//   - if_divide_out: whether a bimamba v2 block halves the sum of its two
//     directions (Options.DivideOut);
//   - norm_epsilon: the eps of every norm (Options.NormEps).
//
// The arguments vimconvert does not implement are refused when they change
// the outputs (if_bidirectional=True, if_rope=True,
// flip_img_sequences_ratio > 0) and accepted at the value it computes;
// residual_in_fp32 and fused_add_norm are accepted with any value, since
// neither changes float32 outputs. use_middle_cls_token is refused with a
// pointer to Options.ClsToken (--cls-token); any other name is an error
// listing KwargsNames.
func ParseKwargs(s string, o *Options) error {
	for _, kv := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		name, val = strings.TrimSpace(name), strings.Trim(strings.TrimSpace(val), `"'`)
		if !ok || name == "" || val == "" {
			return fmt.Errorf("--kwargs %q: want NAME=VALUE[,NAME=VALUE...] (names: %s)", kv, strings.Join(KwargsNames, ", "))
		}
		if err := setKwarg(name, val, o); err != nil {
			return fmt.Errorf("--kwargs %s=%s: %w", name, val, err)
		}
	}
	return nil
}

// setKwarg applies one constructor argument to o.
func setKwarg(name, val string, o *Options) error {
	switch name {
	case "final_pool_type":
		switch val {
		case "mean", "none", "max", "all":
			o.FinalPoolType = val
			return nil
		}
		return fmt.Errorf("want mean, none, max or all")
	case "norm_epsilon":
		eps, err := strconv.ParseFloat(val, 64)
		if err != nil || !(eps > 0) || eps > 1 {
			return fmt.Errorf("want a number in (0, 1]")
		}
		o.NormEps = eps
		return nil
	case "residual_in_fp32", "fused_add_norm":
		_, err := parsePyBool(val)
		return err // float32 outputs are the same either way
	case "use_middle_cls_token":
		return fmt.Errorf("pass --cls-token middle (True) or head (False) instead, which is checked against the cls tensors")
	case "flip_img_sequences_ratio":
		r, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return fmt.Errorf("want a number")
		}
		if r > 0 {
			return fmt.Errorf("not supported: the official forward then reverses the token sequence at random (random.random() < ratio) at inference too, so its outputs are not a function of the input")
		}
		return nil
	}
	if name != "if_divide_out" && name != "if_bidirectional" && name != "if_rope" {
		return fmt.Errorf("unknown name (names: %s)", strings.Join(KwargsNames, ", "))
	}
	b, err := parsePyBool(val)
	if err != nil {
		return err
	}
	switch name {
	case "if_divide_out":
		o.DivideOut = &b
	default: // if_bidirectional, if_rope
		if b {
			return fmt.Errorf("not supported: vimconvert implements VisionMamba's default %s=False (%s)", name, map[string]string{
				"if_bidirectional": "each block scans both directions itself; the paired-layer forward of if_bidirectional=True is not implemented",
				"if_rope":          "no rotary position embedding",
			}[name])
		}
	}
	return nil
}

// parsePyBool reads a Python bool literal (True/False, also lower case, 1/0).
func parsePyBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("want True or False")
}

// applyKwargs sets on c the constructor arguments given in opts and
// returns the notes for Info.Assumed; divide_out is checked against the
// bimamba type.
func applyKwargs(opts Options, c *Config) ([]string, error) {
	var notes []string
	if opts.FinalPoolType != "" {
		c.FinalPoolType = opts.FinalPoolType
		if c.ClsToken != ClsNone {
			notes = append(notes, fmt.Sprintf("final_pool_type=%s has no effect: the readout is the cls token", opts.FinalPoolType))
		}
	}
	if opts.NormEps > 0 {
		c.NormEps = opts.NormEps
	}
	if opts.DivideOut != nil && *opts.DivideOut != c.DivideOut {
		if c.BimambaType != BimambaV2 {
			return nil, fmt.Errorf("if_divide_out=%s applies to bimamba v2 blocks only; this checkpoint's are bimamba %s", pyBool(*opts.DivideOut), c.BimambaType)
		}
		c.DivideOut = *opts.DivideOut
	}
	return notes, nil
}

// pyBool writes b as Python does.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
