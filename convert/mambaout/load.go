package mambaout

import (
	"fmt"

	"github.com/vimconvert/vimconvert/convert"
)

// Options are the user's choices for loading a checkpoint.
type Options struct {
	// Weights picks the weight set: convert.WeightsModel (default when "")
	// or convert.WeightsEMA.
	Weights convert.Weights
}

// Assumed lists what every MambaOut load takes from the official code
// rather than the weights; Load appends it to Info.Assumed.
var Assumed = []string{
	"LayerNorm eps 1e-6 (partial(nn.LayerNorm, eps=1e-6) of the official code; not stored in the weights)",
	"exact (erf) GELU and mean pooling over H and W before the output norm (official MambaOut; not stored in the weights)",
}

// readStateDict is the one place this package reads a checkpoint file.
var readStateDict = convert.ReadStateDict

// Load reads an official MambaOut checkpoint: a bare state dict as released
// (mambaout_femto.pth ...), a timm training checkpoint holding it under
// "state_dict" (optimizer, epoch, arch, args ... are listed in
// Info.Ignored), a "module." prefix on every key, any float dtype (upcast
// to float32, noted in Info.Assumed). It infers the architecture from the
// names and shapes, maps every tensor through the name table and names the
// registered variant it matches (Info.Variant) or the closest one
// (Info.VariantNote). Model.Preprocess is the evaluation recipe
// (EvalRecipe: the args of a timm training checkpoint can change its size
// and crop fraction).
func Load(path string, opts Options) (*Model, *convert.Info, error) {
	sd, info, err := readStateDict(path, opts.Weights)
	if err != nil {
		return nil, nil, err
	}
	m, err := FromStateDict(sd)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	info.Assumed = append(info.Assumed, Assumed...)
	var notes []string
	m.Preprocess, notes = EvalRecipe(info)
	info.Assumed = append(info.Assumed, notes...)
	info.Variant, info.VariantNote = MatchVariant(m.Config)
	return m, info, nil
}
