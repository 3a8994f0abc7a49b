package main

import (
	"flag"
	"slices"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/arch"
)

// vimOnlyFlags are refused for a MambaOut checkpoint rather than ignored.
var vimOnlyFlags = []string{"cls-token", "img-size", "stride", "tokens", "scan", "conv"}

// mambaOut runs do when ckpt is a MambaOut checkpoint (Vim-only flags set on fs refused); it reports
// false for the Vim path (a Vim or unreadable checkpoint), an error for neither architecture.
func mambaOut(fs *flag.FlagSet, ckpt string, w convert.Weights, do func() error) (bool, error) {
	isMO, err := arch.IsMambaOut(ckpt, w)
	fs.Visit(func(fl *flag.Flag) {
		if isMO && err == nil && slices.Contains(vimOnlyFlags, fl.Name) {
			err = usageError(fs, "--%s does not apply to a MambaOut checkpoint", fl.Name)
		}
	})
	if err != nil || !isMO {
		return err != nil, err
	}
	return true, do()
}
