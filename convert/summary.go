package convert

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteSummary writes what `vimconvert inspect` prints for a checkpoint
// (or a converted model read back): where it came from, the architecture
// of c with its geometry, and the ignored tensors, assumptions and
// warnings of info.
func WriteSummary(w io.Writer, c Config, info *Info) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	row("checkpoint", "%s (%s)", info.Path, info.Origin(false))
	if info.Variant != "" {
		row("variant", "%s", info.Variant)
	} else {
		row("variant", "%s", info.VariantNote)
	}
	if info.ArgsModel != "" {
		row("args.model", "%s", info.ArgsModel)
	}
	if info.Source != "" {
		row("source", "%s", info.Source)
	}
	key := info.WeightsKey
	switch {
	case info.Source != "":
		key = "of the source checkpoint"
	case key == "":
		key = "bare state dict"
	default:
		key = fmt.Sprintf("key %q", key)
	}
	row("weights", "%s (%s)", info.Weights, key)
	if info.StrippedPrefix != "" {
		row("prefix", "%q stripped from every key", info.StrippedPrefix)
	}
	var dts []string
	for d, n := range info.DTypes {
		dts = append(dts, fmt.Sprintf("%s×%d", d, n))
	}
	sort.Strings(dts)
	row("tensors", "%d, %s parameters, storage dtype %s (%s), loaded as float32", info.TensorCount, groupDigits(info.ParamCount), info.DType, strings.Join(dts, ", "))
	row("embed_dim", "%d", c.EmbedDim)
	row("depth", "%d", c.Depth)
	row("mixer", "d_inner %d, d_state %d, dt_rank %d, d_conv %d, bimamba %s, divide_out %v", c.DInner, c.DState, c.DtRank, c.DConv, c.BimambaType, c.DivideOut)
	row("norm", "%s, eps %g", c.Norm, c.NormEps)
	if c.HasGamma {
		row("layer scale", "yes (mixer.gamma)")
	}
	gh, gw := c.GridHW()
	row("patches", "%d×%d = %d (patch %d, stride %d, img %d×%d, %d channels)", gh, gw, c.NumPatches(), c.PatchSize, c.Stride, c.ImgSize, c.Width(), c.InChans)
	if !c.AbsPosEmbed {
		row("pos_embed", "none")
	}
	switch c.ClsToken {
	case ClsNone:
		row("tokens", "%d, no cls token, readout %s over tokens", c.SeqLen(), c.FinalPoolType)
	case ClsDouble:
		row("tokens", "%d, cls tokens at 0 and %d (double, readout = their mean)", c.SeqLen(), c.SeqLen()-1)
	default:
		row("tokens", "%d, cls token %s at %d", c.SeqLen(), c.ClsToken, c.ClsTokenPosition())
	}
	if c.NumClasses > 0 {
		row("head", "%d classes", c.NumClasses)
	} else {
		row("head", "none (num_classes 0: outputs features)")
	}
	tw.Flush()
	list := func(title string, items []string) {
		if len(items) == 0 {
			fmt.Fprintf(w, "%s: none\n", title)
			return
		}
		fmt.Fprintf(w, "%s:\n", title)
		for _, s := range items {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
	list("ignored", info.Ignored)
	list("assumed", info.Assumed)
	list("warnings", info.Warnings)
}

// groupDigits writes n with thousands separators.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + groupDigits(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
