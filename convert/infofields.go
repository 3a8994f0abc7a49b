package convert

// PutInfoFields sets the provenance keys of `vimconvert inspect --json`
// from info into obj, the same keys for every architecture and every
// input, so a script can index them without checking: param_count,
// weights, dtype, dtypes, variant, variant_note ("" for an exact
// variant), format, layout, weights_key, stripped_prefix, tensor_count,
// ignored, assumed and warnings ([] rather than null when empty), sha256
// and source ("" for a checkpoint).
func PutInfoFields(obj map[string]any, info *Info) {
	obj["param_count"] = info.ParamCount
	obj["weights"] = info.Weights
	obj["dtype"] = info.DType
	obj["dtypes"] = info.DTypes
	obj["variant"] = info.Variant
	obj["variant_note"] = info.VariantNote
	obj["format"] = info.Format
	obj["layout"] = info.Layout
	obj["weights_key"] = info.WeightsKey
	obj["stripped_prefix"] = info.StrippedPrefix
	obj["tensor_count"] = info.TensorCount
	obj["ignored"] = emptyIfNil(info.Ignored)
	obj["assumed"] = emptyIfNil(info.Assumed)
	obj["warnings"] = emptyIfNil(info.Warnings)
	obj["sha256"] = info.SHA256
	obj["source"] = info.Source
}

// emptyIfNil returns s, or an empty list for nil (JSON [] rather than null).
func emptyIfNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
