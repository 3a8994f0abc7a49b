package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/arch"
	"github.com/vimconvert/vimconvert/runtime/bench"
)

// vimOnlyFlags are refused for a MambaOut checkpoint rather than ignored.
var vimOnlyFlags = []string{"cls-token", "img-size", "stride", "kwargs", "tokens", "scan", "conv", "dtype", "out-indices", "feature-mode", "input-format", "crop-pct", "labels"}

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

// benchModels is `vimconvert bench A B ...` (or one MambaOut model): every
// model end to end, side by side (bench.Compare).
func benchModels(fs *flag.FlagSet, f *benchFlags, srcs []*bench.Source, pos []string, stdout, stderr io.Writer) error {
	opts, err := f.options(fs, pos)
	fs.Visit(func(fl *flag.Flag) {
		if err == nil && (fl.Name == "variants" || fl.Name == "plain") {
			err = usageError(fs, "--%s applies to one Vim model; several models are each timed end to end", fl.Name)
		}
	})
	exe, xerr := os.Executable()
	if err = cmp.Or(err, xerr); err != nil {
		return err
	}
	opts.Worker, opts.Progress = []string{exe, "bench", bench.WorkerFlag}, func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	mi := bench.MachineInfo() // its load average is the one at the start
	recs, err := bench.Compare(srcs, opts)
	if err != nil {
		return err
	}
	// The table first: a plot that cannot be written loses no measurement.
	err = bench.PrintCompare(stdout, recs, mi, opts, f.json)
	if f.plot != "" {
		err = errors.Join(err, bench.PlotCompare(f.plot, recs))
	}
	return errors.Join(err, bench.CompareFailure(recs))
}
