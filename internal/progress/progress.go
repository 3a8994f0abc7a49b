// Package progress draws the command line's progress bars on a terminal.
// It is a leaf helper of cmd/vimconvert: it knows nothing of models, and
// library packages must not draw bars (they take callbacks instead).
package progress

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// IsTerminal reports whether w is a terminal (bars are drawn only there).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Count returns a callback that draws done of total items, described by
// what, on w; the bar is created at the first call and cleared when done
// reaches total.
func Count(w io.Writer, what string) func(done, total int) {
	var bar *progressbar.ProgressBar
	return func(done, total int) {
		if bar == nil {
			bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(),
				progressbar.OptionClearOnFinish())
		}
		_ = bar.Set(done)
		if done == total {
			_ = bar.Finish()
		}
	}
}

// Bytes returns a callback that draws written of total bytes, described by
// what, on w; the bar is created at the first call and cleared when
// written reaches total.
func Bytes(w io.Writer, what string) func(written, total int64) {
	var bar *progressbar.ProgressBar
	return func(written, total int64) {
		if bar == nil {
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(what),
				progressbar.OptionShowBytes(true),
				progressbar.OptionClearOnFinish())
		}
		_ = bar.Set64(written)
		if written == total {
			_ = bar.Finish()
		}
	}
}
