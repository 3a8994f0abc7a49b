package convert

import (
	"fmt"
	"os"
)

// ReadStateDict reads the chosen weight set of a checkpoint as a map from
// tensor name to Tensor, without mapping it to any architecture: the shared
// entry point of every architecture's loader (Vim's Load, MambaOut's
// mambaout.Load). It accepts the layouts Load accepts (a bare state dict,
// or a dict holding it under "model", "state_dict" or "model_ema"), strips
// a "module." prefix carried by every key, and converts float16, bfloat16
// and float64 storages to float32 (the upcast is noted in Info.Assumed).
// weights is WeightsModel ("" means the same) or WeightsEMA.
//
// The returned Info has the provenance fields filled in (Path, Format,
// Layout, Weights, WeightsKey, StrippedPrefix, ParamCount, TensorCount,
// DType, DTypes, Ignored); Variant and the architecture's own assumptions
// are left to the caller.
func ReadStateDict(path, weights string) (map[string]*Tensor, *Info, error) {
	if weights == "" {
		weights = WeightsModel
	}
	if weights != WeightsModel && weights != WeightsEMA {
		return nil, nil, fmt.Errorf("unknown weight set %q (want %s or %s)", weights, WeightsModel, WeightsEMA)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.IsDir() {
		return nil, nil, fmt.Errorf("%s is a directory, not a checkpoint file", path)
	}
	f, root, err := openTorchFile(fh, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	info := &Info{Path: path, Format: f.format, Weights: weights, DTypes: map[string]int{}}
	sdObj, err := selectWeights(root, weights, info)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	sd, err := stateDict(sdObj, info)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, t := range sd {
		info.ParamCount += int64(t.NumElements())
		info.DTypes[t.DType]++
	}
	info.TensorCount = len(sd)
	info.DType = "mixed"
	if len(info.DTypes) == 1 {
		for d := range info.DTypes {
			info.DType = d
		}
	}
	if info.DType != "float32" {
		info.Assumed = append(info.Assumed, fmt.Sprintf("%s weights upcast to float32", info.DType))
	}
	return sd, info, nil
}
