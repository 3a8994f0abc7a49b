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
	draw := lazyBar(w, what, progressbar.OptionShowCount())
	return func(done, total int) { draw(int64(done), int64(total)) }
}

// Bytes returns a callback that draws written of total bytes, described by
// what, on w; the bar is created at the first call and cleared when
// written reaches total.
func Bytes(w io.Writer, what string) func(written, total int64) {
	return lazyBar(w, what, progressbar.OptionShowBytes(true))
}

// lazyBar returns a callback that draws n of total on w (what, then the
// count shown as show says), creating the bar at the first call and
// clearing it when n reaches total.
func lazyBar(w io.Writer, what string, show progressbar.Option) func(n, total int64) {
	var bar *progressbar.ProgressBar
	return func(n, total int64) {
		if bar == nil {
			bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription(what),
				show,
				progressbar.OptionClearOnFinish())
		}
		_ = bar.Set64(n)
		if n == total {
			_ = bar.Finish()
		}
	}
}
