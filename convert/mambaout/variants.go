package mambaout

import (
	"fmt"
	"strings"
)

// Variant is one registered model of mambaout.py (an @register_model
// function at 9f2f234).
type Variant struct {
	Name   string
	Dims   []int
	Depths []int
}

// Variants are the registered MambaOut models. All use the defaults of
// GatedCNNBlock and MlpHead: hidden int(8/3*dim), conv channels = dim,
// kernel 7, head hidden 4*dims[-1], stem hidden dims[0]/2, 3 input channels.
var Variants = []Variant{
	{"mambaout_femto", []int{48, 96, 192, 288}, []int{3, 3, 9, 3}},
	{"mambaout_kobe", []int{48, 96, 192, 288}, []int{3, 3, 15, 3}},
	{"mambaout_tiny", []int{96, 192, 384, 576}, []int{3, 3, 9, 3}},
	{"mambaout_small", []int{96, 192, 384, 576}, []int{3, 4, 27, 3}},
	{"mambaout_base", []int{128, 256, 512, 768}, []int{3, 4, 27, 3}},
}

// Config returns the configuration the registered constructor builds for
// numClasses classes.
func (v Variant) Config(numClasses int) Config {
	n := len(v.Dims)
	c := Config{
		InChans: 3, StemHidden: v.Dims[0] / 2,
		Dims: append([]int(nil), v.Dims...), Depths: append([]int(nil), v.Depths...),
		Hidden: make([]int, n), ConvChannels: make([]int, n),
		KernelSize: 7, HeadHidden: 4 * v.Dims[n-1], NumClasses: numClasses, NormEps: 1e-6,
	}
	for i, d := range v.Dims {
		c.Hidden[i] = 8 * d / 3 // int(8/3 * d): exact for every registered dim (multiples of 3)
		c.ConvChannels[i] = d
	}
	return c
}

// MatchVariant returns the registered variant whose configuration c has
// exactly (any num_classes), or "" and a note naming the closest one and
// the differences.
func MatchVariant(c Config) (name, note string) {
	best, bestDiff := "", []string(nil)
	for _, v := range Variants {
		want := v.Config(c.NumClasses)
		var diff []string
		check := func(what string, got, want any) {
			if fmt.Sprint(got) != fmt.Sprint(want) {
				diff = append(diff, fmt.Sprintf("%s %v instead of %v", what, got, want))
			}
		}
		check("dims", c.Dims, want.Dims)
		check("depths", c.Depths, want.Depths)
		check("hidden", c.Hidden, want.Hidden)
		check("conv_channels", c.ConvChannels, want.ConvChannels)
		check("kernel_size", c.KernelSize, want.KernelSize)
		check("head_hidden", c.HeadHidden, want.HeadHidden)
		check("stem_hidden", c.StemHidden, want.StemHidden)
		check("in_chans", c.InChans, want.InChans)
		if len(diff) == 0 {
			return v.Name, ""
		}
		if best == "" || len(diff) < len(bestDiff) {
			best, bestDiff = v.Name, diff
		}
	}
	return "", fmt.Sprintf("no registered MambaOut; closest is %s with %s", best, strings.Join(bestDiff, ", "))
}
