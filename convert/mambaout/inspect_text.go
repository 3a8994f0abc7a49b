package mambaout

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
)

// InspectText is the human-readable report `vimconvert inspect` prints for
// a MambaOut checkpoint or exported model (and `convert` before its own
// lines): where the weights come from, the architecture and variant, the
// configuration, the evaluation preprocessing pre, what was ignored and
// what was assumed. Every line ends with a newline.
func InspectText(c Config, info *convert.Info, pre Preprocess) string {
	var b strings.Builder
	row := func(k, format string, a ...any) { fmt.Fprintf(&b, "%-13s %s\n", k, fmt.Sprintf(format, a...)) }
	row("checkpoint", "%s (%s)", info.Path, info.Origin(true))
	if info.Source != "" {
		row("source", "%s", info.Source)
	} else if info.SHA256 != "" {
		row("sha256", "%s", info.SHA256)
	}
	if info.StrippedPrefix != "" {
		row("prefix", "%q stripped from every key", info.StrippedPrefix)
	}
	row("architecture", "%s", Architecture)
	if info.Variant != "" {
		row("variant", "%s", info.Variant)
	} else {
		row("variant", "custom (%s)", info.VariantNote)
	}
	row("dims", "%v, depths %v", c.Dims, c.Depths)
	row("blocks", "hidden %v, depthwise conv %v channels, kernel %d", c.Hidden, c.ConvChannels, c.KernelSize)
	row("head", "MlpHead %d -> %d -> %d classes", c.Dims[len(c.Dims)-1], c.HeadHidden, c.NumClasses)
	row("input", "[batch, %d, H, W], any H and W (fully convolutional); evaluated at %d", c.InChans, pre.InputSize)
	row("preprocess", "crop_pct %g, %s: resize the short side to %d, centre-crop %d; mean %v, std %v",
		pre.CropPct, pre.Interpolation, int(math.Floor(float64(pre.InputSize)/pre.CropPct)), pre.InputSize, pre.Mean, pre.Std)
	row("tensors", "%d, %d parameters, storage dtype %s, loaded as float32", info.TensorCount, info.ParamCount, info.DType)
	for _, s := range info.Ignored {
		row("ignored", "%s", s)
	}
	for _, s := range info.Assumed {
		row("assumed", "%s", s)
	}
	return b.String()
}

// InspectReport loads the checkpoint at path and returns what `vimconvert
// inspect` prints for it (Report with the model's Preprocess).
func InspectReport(path string, opts Options, asJSON bool) (string, error) {
	m, info, err := Load(path, opts)
	if err != nil {
		return "", err
	}
	return Report(m.Config, info, m.Preprocess, asJSON)
}

// Report returns InspectText, or with asJSON the InspectObject as indented
// JSON (one object and a newline).
func Report(c Config, info *convert.Info, pre Preprocess, asJSON bool) (string, error) {
	if !asJSON {
		return InspectText(c, info, pre), nil
	}
	obj, err := InspectObject(c, info, pre)
	if err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode JSON: %w", err)
	}
	return string(b) + "\n", nil
}
