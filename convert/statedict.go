package convert

import (
	"fmt"
	"io"
	"os"

	"github.com/vimconvert/vimconvert/convert/torchfile"
)

// ReadStateDict reads the chosen weight set of a checkpoint as a map from
// tensor name to Tensor, without mapping it to any architecture: the shared
// entry point of every architecture's loader (Vim's Load, MambaOut's
// mambaout.Load). It accepts the layouts Load accepts (a bare state dict,
// or a dict holding it under "model", "state_dict" or "model_ema"), strips
// a "module." prefix carried by every key, and converts float16, bfloat16
// and float64 storages to float32 (the upcast is noted in Info.Assumed).
// weights "" means WeightsModel.
//
// The returned Info has the provenance fields filled in (Path, Format,
// Layout, Weights, WeightsKey, StrippedPrefix, ParamCount, TensorCount,
// DType, DTypes, Ignored); Variant and the architecture's own assumptions
// are left to the caller.
func ReadStateDict(path string, weights Weights) (map[string]*Tensor, *Info, error) {
	return readCheckpointFile(path, func(ra io.ReaderAt, size int64) (map[string]*Tensor, *Info, error) {
		return readStateDictFrom(ra, size, weights)
	})
}

// ReadStateDictNames is ReadStateDict without reading any tensor data: the
// tensor names of the chosen weight set ("module." prefix stripped), for
// deciding the architecture before one full read.
func ReadStateDictNames(path string, weights Weights) ([]string, error) {
	names, _, err := readCheckpointFile(path, func(ra io.ReaderAt, size int64) ([]string, *Info, error) {
		sdObj, info, err := openWeights(ra, size, weights)
		if err != nil {
			return nil, nil, err
		}
		_, names, err := stateDictNames(sdObj, info)
		return names, info, err
	})
	return names, err
}

// readCheckpointFile opens the checkpoint file at path, refusing a
// directory, hands it to read, and records path in the returned Info; a
// read error is prefixed with path. Load and ReadStateDict share it.
func readCheckpointFile[T any](path string, read func(ra io.ReaderAt, size int64) (T, *Info, error)) (T, *Info, error) {
	var none T
	fh, err := os.Open(path)
	if err != nil {
		return none, nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return none, nil, err
	}
	if st.IsDir() {
		return none, nil, fmt.Errorf("%s is a directory, not a checkpoint file", path)
	}
	v, info, err := read(fh, st.Size())
	if err != nil {
		return none, nil, fmt.Errorf("%s: %w", path, err)
	}
	info.Path = path
	return v, info, nil
}

// openWeights opens the checkpoint of size bytes read through ra and
// selects the weight set weights names in it (selectWeights): the unpickled
// state dict object and an Info holding the format, the weight set and what
// selectWeights records (layout, key, ignored entries).
func openWeights(ra io.ReaderAt, size int64, weights Weights) (any, *Info, error) {
	w, err := ParseWeights(string(weights))
	if err != nil {
		return nil, nil, err
	}
	f, root, err := torchfile.Open(ra, size)
	if err != nil {
		return nil, nil, err
	}
	info := &Info{Format: f.Format(), Weights: w}
	sdObj, err := selectWeights(root, w, info)
	if err != nil {
		return nil, nil, err
	}
	return sdObj, info, nil
}

// readStateDictFrom is ReadStateDict for a checkpoint of size bytes read
// through ra (Info.Path stays empty).
func readStateDictFrom(ra io.ReaderAt, size int64, weights Weights) (map[string]*Tensor, *Info, error) {
	sdObj, info, err := openWeights(ra, size, weights)
	if err != nil {
		return nil, nil, err
	}
	info.DTypes = map[string]int{}
	if info.SHA256, err = fileSHA256(ra, size); err != nil {
		return nil, nil, err
	}
	sd, err := stateDict(sdObj, info)
	if err != nil {
		return nil, nil, err
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
