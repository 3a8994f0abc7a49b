package mambaout

import (
	"encoding/json"

	"github.com/vimconvert/vimconvert/convert"
)

// InspectObject returns the object `vimconvert inspect --json` prints for a
// MambaOut checkpoint: "architecture" ("mambaout"), the Config's keys, the
// evaluation preprocessing ("preprocess") and the provenance fields of info
// under the same keys as Vim's convert.InspectObject.
func InspectObject(c Config, info *convert.Info) (map[string]any, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, err
	}
	obj["architecture"] = Architecture
	obj["preprocess"] = EvalPreprocess
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
	return obj, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
