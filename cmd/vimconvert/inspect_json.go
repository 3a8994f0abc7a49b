package main

import (
	"bytes"
	"encoding/json"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/arch"
)

// inspectObject returns the object `vimconvert inspect --json` prints: the
// config's keys (cls_token_position null without a cls token) plus
// param_count, weights, dtype and the provenance fields of info.
func inspectObject(c convert.Config, info *convert.Info) (map[string]any, error) {
	b, err := c.MarshalJSON()
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers stay exact
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	obj["architecture"] = arch.Vim
	obj["param_count"] = info.ParamCount
	obj["weights"] = info.Weights
	obj["dtype"] = info.DType
	obj["dtypes"] = info.DTypes
	obj["variant"] = info.Variant
	if info.VariantNote != "" {
		obj["variant_note"] = info.VariantNote
	}
	obj["format"] = info.Format
	obj["layout"] = info.Layout
	obj["weights_key"] = info.WeightsKey
	obj["stripped_prefix"] = info.StrippedPrefix
	obj["tensor_count"] = info.TensorCount
	obj["ignored"] = nonNil(info.Ignored)
	obj["assumed"] = nonNil(info.Assumed)
	if info.ArgsModel != "" {
		obj["args_model"] = info.ArgsModel
	}
	return obj, nil
}

// nonNil returns s, or an empty list for nil (JSON [] rather than null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
