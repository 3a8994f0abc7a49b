package classify

import (
	"encoding/json"
	"fmt"

	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/runtime/preprocess"
)

// recordedRecipe is the preprocessing an exported model records: the recipe
// of graph.MetaPreprocessRecipe, or for a MambaOut export the older
// graph.MetaPreprocess form; nil when it records none. fixed is the model's
// input size (-1: any).
func recordedRecipe(path string, meta map[string]string, fixed int) (*preprocess.Recipe, error) {
	if _, r, err := graph.RecordedInput(path, meta); err != nil || r != nil {
		if r != nil && fixed > 0 && r.InputSize != fixed {
			return nil, fmt.Errorf("%s: metadata %s has input size %d but the model takes %d", path, graph.MetaPreprocessRecipe, r.InputSize, fixed)
		}
		return r, err
	}
	js, ok := meta[graph.MetaPreprocess]
	if !ok {
		return nil, nil
	}
	var p mambaout.Preprocess
	if err := json.Unmarshal([]byte(js), &p); err != nil {
		return nil, fmt.Errorf("%s: metadata %s: %w", path, graph.MetaPreprocess, err)
	}
	r, err := mambaOutRecipe(p)
	if err != nil {
		return nil, fmt.Errorf("%s: metadata %s: %w", path, graph.MetaPreprocess, err)
	}
	return &r, nil
}

// mambaOutRecipe is the recipe of a MambaOut evaluation preprocessing
// (timm's: bicubic resize of the short side to InputSize/CropPct, centre
// crop, Mean and Std).
func mambaOutRecipe(p mambaout.Preprocess) (preprocess.Recipe, error) {
	if p.Interpolation != string(preprocess.InterpolationBicubic) || p.CropPct <= 0 || p.CropPct > 1 {
		return preprocess.Recipe{}, fmt.Errorf("interpolation %q, crop_pct %v: only bicubic with a crop in (0, 1] is implemented", p.Interpolation, p.CropPct)
	}
	r, err := preprocess.ImageNetRecipe(p.InputSize, p.CropPct)
	if err != nil {
		return r, err
	}
	for c := range 3 {
		r.Mean[c], r.Std[c] = float32(p.Mean[c]), float32(p.Std[c])
	}
	return r, nil
}

// resolveRecipe is the preprocessing to apply: rec (nil when the model
// records none) adjusted by the options. fixed is the only size the model
// takes (-1 or 0: any). Defaults taken without the model saying so are
// appended to notes.
func resolveRecipe(path string, rec *preprocess.Recipe, fixed int, o ModelOptions, notes *[]string) (preprocess.Recipe, error) {
	size := o.ImgSize
	switch {
	case size == 0 && rec != nil:
		size = rec.InputSize
	case size == 0 && fixed > 0:
		size = fixed
	case size == 0:
		return preprocess.Recipe{}, fmt.Errorf("%s takes images of any size and records no preprocessing: give --img-size", path)
	}
	if fixed > 0 && size != fixed {
		return preprocess.Recipe{}, fmt.Errorf("%s takes %dx%d images only, not %d (convert the checkpoint with --img-size %d)", path, fixed, fixed, size, size)
	}
	crop := o.CropPct
	if crop == 0 && rec != nil {
		if size == rec.InputSize {
			r := *rec
			return r, r.Validate()
		}
		crop = rec.EvalCropPct()
	}
	if crop == 0 {
		crop = preprocess.VimEvalCropPct
		*notes = append(*notes, fmt.Sprintf("%s records no preprocessing: using hustvl/Vim's eval transform (bicubic resize to int(%d/%g), centre crop, ImageNet mean and std; --crop-pct to change)", path, size, crop))
	}
	r, err := preprocess.ImageNetRecipe(size, crop)
	if err != nil {
		return r, err
	}
	if rec != nil {
		r.Mean, r.Std, r.Interpolation = rec.Mean, rec.Std, rec.Interpolation
	}
	r.ResizeShort = preprocess.ResizeShortSide(size, crop)
	return r, r.Validate()
}
